"""A reopen's show in short pieces of the GUI thread, and a feature load that makes no object per image to collect.

At 200,000 galaxies File > Open recent passed 100 ms of the GUI thread in about half
the runs of ``benchmarks/gui_stalls.py``: one piece held the views taking the
project, the map's render, the strip's first cluster and the feature job's start
(whose progress bar repainted the status bar at once), and the job then held a
``Path`` and its list of parts per image, 400,000 objects every full collection of
the GUI thread visited (90-150 ms each).
"""

from __future__ import annotations

from pathlib import PurePath

from tests.helpers import open_and_cluster, open_recent, while_shown


def test_open_recent_shows_the_project_then_its_first_cluster_and_starts_the_feature_load(qtbot, window, folder,
                                                                                          monkeypatch):
    """File > Open recent: the show of the project read (the views, the map) is one turn of the event loop, the
    strip's first cluster and the feature job the next; both still happen (the old code: all in one turn)."""
    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    showing = while_shown(monkeypatch, window)
    during: list[str] = []
    real_cluster, real_start = window.labelling.show_cluster, window.jobs.start

    def show_cluster(*args, **kwargs):
        during.append(f"strip {bool(showing)}")
        return real_cluster(*args, **kwargs)

    def start(name, *args, **kwargs):
        during.append(f"{name} {bool(showing)}")
        return real_start(name, *args, **kwargs)

    monkeypatch.setattr(window.labelling, "show_cluster", show_cluster)
    monkeypatch.setattr(window.jobs, "start", start)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    assert during == ["strip False", "load-features False"], during  # the old code: both while it was shown
    first = int(window.project.cluster_ids()[0])
    shown = window.grid.rows()
    assert len(shown) and all(int(window.project.clusters[i]) == first for i in shown)


def test_a_selection_made_before_the_second_turn_is_kept(qtbot, window, folder):
    """A galaxy the user selects in the turn between the show and its second half stays selected: the first cluster
    is shown in the strip only when nothing is selected."""
    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    real_show = window.opening.show

    def show(folder, project):
        real_show(folder, project)
        project.selection.set([7])  # as a click on the map would, before the event loop turns

    window.opening.show = show
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    assert list(window.project.selection.indices) == [7]


def test_a_reopens_feature_load_holds_no_path_object_per_image(qtbot, window, folder, monkeypatch):
    """File > Open recent's feature load (every row from the cache, one image deleted since): the rows come back keyed
    by the run's own path strings, no ``Path`` (and its list of parts) made per image for the collector to visit
    (the old code: one per image, 400,000 tracked objects at 200,000 galaxies)."""
    from core.project import Project

    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    gone = sorted(folder.glob("*.png"))[3]
    gone.unlink()  # its row comes from the cache's vanished rows
    results = []
    real = Project.reload_features

    def reload_features(self, *args, **kwargs):
        res, provider = real(self, *args, **kwargs)
        results.append(res)
        return res, provider

    monkeypatch.setattr(Project, "reload_features", reload_features)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    (res,) = results
    assert len(res.paths) == len(window.project) == 30
    assert [type(path).__name__ for path in res.paths if isinstance(path, PurePath)] == []
    assert list(res.paths) == list(window.project.paths) and str(gone) in res.paths
    assert res.features.shape[0] == 30 and res.cached == 29


def test_a_jobs_start_paints_nothing_at_once(qtbot, window, folder, monkeypatch):
    """The feature load Open recent starts (as any job): the status bar's progress bar was set back to 0 after it was
    shown, and ``QProgressBar.setValue`` repaints a shown bar there and then, the status bar with it (22-39 ms of the
    GUI thread at 200,000 galaxies).  It is set before it shows: nothing is painted inside the start."""
    from PySide6.QtCore import QEvent, QObject

    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    assert window.progress.value() > 0  # the last job's end, as a session leaves it
    starting: list[bool] = []
    painted: list[str] = []

    class Paints(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
            if event.type() == QEvent.Type.Paint and starting:
                painted.append(type(obj).__name__)
            return False

    spy = Paints()
    window.progress.installEventFilter(spy)
    real_start = window.jobs.start

    def start(*args, **kwargs):
        starting.append(True)
        try:
            return real_start(*args, **kwargs)
        finally:
            starting.pop()

    monkeypatch.setattr(window.jobs, "start", start)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    assert painted == []  # the old code: the bar painted inside the start
