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


def test_open_recent_shows_the_project_then_its_map_first_cluster_and_feature_load(qtbot, window, folder, monkeypatch):
    """File > Open recent: the views taking the project read are one turn of the event loop, the map's render, the
    strip's first cluster and the feature job the next; all still happen (the old code: all in one turn)."""
    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    showing = while_shown(monkeypatch, window)
    during: list[str] = []
    real_cluster, real_start, real_render = window.labelling.show_cluster, window.jobs.start, window.map_view.render

    def show_cluster(*args, **kwargs):
        during.append(f"strip {bool(showing)}")
        return real_cluster(*args, **kwargs)

    def start(name, *args, **kwargs):
        during.append(f"{name} {bool(showing)}")
        return real_start(name, *args, **kwargs)

    def render():
        during.append(f"map {bool(showing)} {len(window.map_view.map.coords)}")
        return real_render()

    monkeypatch.setattr(window.map_view, "render", render)
    monkeypatch.setattr(window.labelling, "show_cluster", show_cluster)
    monkeypatch.setattr(window.jobs, "start", start)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    # the map empty until its render: none of its points stood for another project's galaxy meanwhile
    assert during == ["map False 0", "strip False", "load-features False"], during  # the old code: all while shown
    assert len(window.map_view.map.coords) == len(window.project) == 30
    first = int(window.project.cluster_ids()[0])
    shown = window.grid.rows()
    assert len(shown) and all(int(window.project.clusters[i]) == first for i in shown)


def test_a_selection_and_a_label_made_before_the_second_turn_are_kept(qtbot, window, folder):
    """A galaxy the user selects and labels in the turn between the show and its second half stays selected, and the
    map drawn then rings it as labelled: the first cluster is shown in the strip only when nothing is selected, and
    the held map's recolouring waits for its render."""
    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    real_show, real_colors = window.opening.show, window.map_view.map.set_colors
    coloured: list[int] = []  # the points each recolouring of the map coloured

    def show(folder, project):
        real_show(folder, project)
        project.selection.set([7])  # as a click in the Classes panel and a key would, before the event loop turns
        project.set_labels([7], "spiral")

    window.opening.show = show
    window.map_view.map.set_colors = lambda *args, **kwargs: coloured.append(len(window.map_view.map.coords)) or \
        real_colors(*args, **kwargs)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    assert list(window.project.selection.indices) == [7]
    assert window.project.user_labels[7] == "spiral"
    assert window.map_view.map._ringed[7] and window.map_view.map._ringed.sum() == 1
    assert 0 not in coloured, coloured  # no colouring of the whole project computed for the held, empty map


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


def test_a_strip_sorted_by_name_reopens_without_working_out_ids_on_the_gui_thread(qtbot, window, folder, monkeypatch):
    """The strip sorted by name, then File > Open recent: every image's id and place are worked out while the
    project is read, off the GUI thread, and the strip's first cluster takes them (the old code: the cluster's ids
    worked out on the GUI thread while the naming thread worked out all of them, 0.2 s at 200,000 galaxies)."""
    import threading

    import app.labelling as labelling_module
    import core.project as project_module
    from tests.helpers import pick

    p = open_and_cluster(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    pick(qtbot, window.grid.sort, "name")
    qtbot.waitUntil(lambda: p.names_ready, timeout=10_000)
    on_gui: list[int] = []
    real = project_module.image_ids

    def image_ids(paths):
        if threading.current_thread() is threading.main_thread():
            on_gui.append(len(paths))
        return real(paths)

    monkeypatch.setattr(project_module, "image_ids", image_ids)
    # the strip's naming thread not done when the strip shows, as at 200,000 galaxies (30 are named at once)
    monkeypatch.setattr(labelling_module, "_prepare_names", lambda project: None)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    q = window.project
    assert q.names_ready and on_gui == [], on_gui
    shown = [q.names[i] for i in window.grid.rows()]
    assert len(shown) > 1 and shown == sorted(shown)
