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

from tests.helpers import open_and_cluster


def _open_recent(window, folder) -> None:
    """File > Open recent > ``folder``, as the user picks it."""
    next(a for a in window.recent.menu.actions() if a.text() == str(folder)).trigger()


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
    _open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    (res,) = results
    assert len(res.paths) == len(window.project) == 30
    assert [type(path).__name__ for path in res.paths if isinstance(path, PurePath)] == []
    assert list(res.paths) == list(window.project.paths) and str(gone) in res.paths
    assert res.features.shape[0] == 30 and res.cached == 29
