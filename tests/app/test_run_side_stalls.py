"""The run side's work kept off the GUI thread: a new map's store write (the Run panel's Map box)."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import open_and_cluster


def _choose_map(qtbot, window, method: str) -> None:
    """Pick ``method`` in the Run panel's Map box, as the user does (the box's list opened, the entry clicked)."""
    combo = window.run_settings.projection
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.model().index(combo.findData(method), 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())


def _held_projection(monkeypatch) -> threading.Event:
    """Make the projection job wait until the returned event is set (the test acts meanwhile)."""
    import core.clustering.projection as projection

    go, real = threading.Event(), projection.project

    def held(*args, **kwargs):
        assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(projection, "project", held)
    return go


def test_a_new_map_is_stored_by_its_job_and_a_merge_or_label_meanwhile_stays(qtbot, window, folder, monkeypatch):
    """The Map box's result wrote every image's x, y to the store on the GUI thread (200,000 UPDATEs: 0.6 s; 4.7 s at a
    million galaxies).  The job writes them now, with the projection's name, on its own connection: the GUI thread's
    connection writes no coordinate nor the name, and a label and a cluster merge made while the
    job ran are kept beside the new map when the folder is reopened."""
    p = open_and_cluster(qtbot, window, folder)
    assert p.projection() == "pca"
    go = _held_projection(monkeypatch)
    gui_sql: list[str] = []
    p.store.db.set_trace_callback(gui_sql.append)  # every statement the GUI thread's store connection runs
    try:
        _choose_map(qtbot, window, "tsne")
        assert window.jobs.busy and window.jobs.current_name == "project"
        a, b = p.cluster_ids()[:2]
        p.merge_clusters([a], b)  # meanwhile: a merge (the same rows' cluster) and a label
        window.show_cluster(b)
        qtbot.keyClick(window, Qt.Key.Key_1)
        labelled = dict(enumerate(p.user_labels))
        with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
            go.set()
    finally:
        p.store.db.set_trace_callback(None)
    written = [s for s in gui_sql if "SET x" in s or "projection/" in s]  # (the merge's own UPDATE sets cluster)
    assert written == [] and any("INSERT" in s and "labels" in s for s in gui_sql)  # the label itself: on the GUI thread
    assert p.projection() == "tsne" and (window.statusBar().currentMessage() or window.stage_label.text()).startswith("Map: ")
    shown, clusters = p.coords.copy(), p.clusters.copy()
    assert window.open_folder(folder)  # reopen: the new map, its name, the merge and the label
    q = window.project
    np.testing.assert_allclose(q.coords, shown)
    assert q.projection() == "tsne" and np.array_equal(q.clusters, clusters) and a not in q.cluster_ids()
    assert dict(enumerate(q.user_labels)) == labelled


def test_a_map_still_projecting_when_the_folder_is_reopened_is_neither_shown_nor_stored(qtbot, window, folder,
                                                                                        monkeypatch):
    """Open recent while the Map box's job runs abandons the job: its map is neither kept in the store (the reopened
    project would say PCA over t-SNE points) nor shown on the project opened meanwhile."""
    p = open_and_cluster(qtbot, window, folder)
    before = p.coords.copy()
    go = _held_projection(monkeypatch)
    _choose_map(qtbot, window, "tsne")
    job = window.jobs.current
    assert window.open_folder(folder)  # the same folder again, while the map is being made
    q = window.project
    go.set()
    assert window.jobs.pool.waitForDone(120_000)
    qtbot.wait(50)  # anything the abandoned job still sent
    assert job is not None and job._stop
    np.testing.assert_allclose(q.coords, before)
    assert q.projection() == "pca"
    assert window.open_folder(folder)
    np.testing.assert_allclose(window.project.coords, before)
    assert window.project.projection() == "pca"
