"""Drive the real main window offscreen: open, cluster, select, label, undo, export, cancel, reopen."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers import cluster as _cluster
from tests.helpers import export_catalogue as _export
from tests.helpers import fast as _fast
from tests.helpers import pick


@pytest.mark.slow
def test_open_cluster_lasso_label_undo_export(qtbot, window, folder, tmp_path):
    assert window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    assert len(p) == 30 and len(p.cluster_ids()) == 3
    assert "CPU" in window.provider_label.text() or "CUDA" in window.provider_label.text()
    assert "never leave" in window.privacy_label.text()

    # lasso around the points of cluster 0 (a polygon slightly larger than their bounding box)
    pts = p.coords[p.clusters == 0]
    lo, hi = pts.min(0) - 1e-3, pts.max(0) + 1e-3
    polygon = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    picked = window.map.select_polygon(polygon)
    assert set(np.flatnonzero(p.clusters == 0)) <= set(picked.tolist())
    np.testing.assert_array_equal(p.selection.indices, np.sort(picked))
    assert len(window.grid.rows()) == len(picked)  # the grid follows the map

    # number key 2 labels the selection with the second class
    qtbot.keyClick(window, Qt.Key.Key_2)
    second = p.classes[1].name
    assert all(p.user_labels[i] == second for i in picked)
    assert p.store.labels()  # already on disk
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(p.user_labels[i] is None for i in picked)
    window.redo()
    assert all(p.user_labels[i] == second for i in picked)

    out = _export(qtbot, window, str(tmp_path / "catalogue.csv"))
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 30
    user_rows = [r for r in rows if r["label_source"] == "user"]
    assert len(user_rows) == len(picked) and {r["label"] for r in user_rows} == {second}
    assert {r["cluster"] for r in rows} == {"0", "1", "2"}
    window.export_map(str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").stat().st_size > 1000


@pytest.mark.slow
def test_keyboard_labelling_walks_through_a_cluster(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    window.show_cluster(1)
    first = int(window.grid.rows()[0])
    window.project.selection.set([first], window.grid)
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert p.user_labels[first] == p.classes[0].name
    # the next thumbnail is now selected; Enter accepts the model's label for it once the
    # cluster is named (an unnamed one's "cluster 1" is no class: tests/app/test_session_keys.py)
    second = int(window.grid.rows()[1])
    np.testing.assert_array_equal(p.selection.indices, [second])
    p.name_cluster(1, p.classes[1].name)
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert p.user_labels[second] == p.cluster_name(1) == p.classes[1].name
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert p.user_labels[int(window.grid.rows()[2])] == "unsure"


@pytest.mark.slow
def test_cancel_a_running_job(qtbot, window, folder):
    window.open_folder(folder)
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData("xception"))  # slow enough to cancel
    with qtbot.waitSignal(window.jobs.cancelled, timeout=120_000):
        window.start_clustering()
        assert window.cancel_button.isVisible()
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert window.project.run_id is None
    assert "cancelled" in window.stage_label.text()
    assert not window.cancel_button.isVisible()


@pytest.mark.slow
def test_reopen_finds_labels_and_clusters(qtbot, window, folder, tmp_path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    window.project.set_labels([0, 5], "irregular")
    clusters = window.project.clusters.copy()
    window.close()

    again = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.recent_folders()[0] == str(folder)
    with qtbot.waitSignal(again.jobs.finished, timeout=60_000):  # features come back from the cache
        again.open_folder(folder)
    p = again.project
    assert p.user_labels[0] == "irregular" and p.user_labels[5] == "irregular"
    np.testing.assert_array_equal(p.clusters, clusters)
    assert p.features is not None and p.features.shape == (30, 1280)
    assert again.run_settings.model.currentData() == "efficientnet_lite0"


def test_errors_are_messages_not_tracebacks(qtbot, window, tmp_path):
    assert not window.open_folder(tmp_path / "missing")
    assert "is not a folder" in window.last_error
    empty = tmp_path / "empty"
    empty.mkdir()
    window.open_folder(empty)
    with qtbot.waitSignal(window.jobs.failed, timeout=30_000) as blocker:
        window.start_clustering()
    assert "no JPEG, PNG, TIFF or FITS images" in blocker.args[1]
    assert "no JPEG" in window.last_error
    from PySide6.QtWidgets import QMessageBox

    from core.images.io import NoImagesFound

    # the hint is chosen by the error's type (NoImagesFound.hint), not by the message's words
    assert blocker.args[2] == NoImagesFound.hint
    assert window.findChildren(QMessageBox, "error_box")[-1].informativeText() == NoImagesFound.hint


@pytest.mark.slow
def test_bad_files_are_listed_and_skipped(qtbot, window, folder):
    (folder / "broken.png").write_bytes(b"not an image")
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    assert len(window.project) == 30
    assert window.skipped.topLevelItemCount() == 1
    assert "broken.png" in window.skipped.topLevelItem(0).text(0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["label", "confidence", "cluster"])
def test_colour_modes_and_projection(qtbot, window, folder, mode):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    window.project.set_labels([0], "spiral")
    window.set_color_mode(mode)
    assert window.map.legend.items  # a legend with counts
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        window.reproject("tsne")
    assert window.project.projection() == "tsne"


@pytest.mark.slow
def test_suggest_retrain_review_and_undo_a_round(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window)
    p = window.project
    assert p.encoder_path() is not None and window.retrain_action.isEnabled()
    first_run = p.run_id
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        window.suggest_next(6)
    assert blocker.args[0] == "suggest"
    rows = blocker.args[1]
    assert len(rows) == 6 and len(window.grid.rows()) == 6
    truth = {f"{k}_{i:03d}": k for k in ("elliptical", "spiral", "edge_on") for i in range(10)}
    for r in rows:  # answer with the true class, as an astronomer would
        p.set_labels([r], {"edge_on": "irregular"}.get(truth[p.names[r]], truth[p.names[r]]))
    before = p.clusters.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        window.retrain()
    assert blocker.args[0] == "retrain"
    result = p.last_round
    assert p.run_id != first_run and p.run.method == "dec-finetuned" and p.run.is_round
    assert result.agreement == 1.0
    # the status bar gives the honest estimate, never the agreement that training forces (issue 9)
    assert window.stage_label.text().startswith("Retrained on 6 labels") and "agreement" not in window.stage_label.text()
    assert "accuracy" in window.stage_label.text()
    # user labels survive retraining untouched, and every image has a label and a source
    labels, source = p.final_labels()
    assert all(labels[r] == p.user_labels[r] and source[r] == "user" for r in rows)
    assert "changed cluster" in window.last_round_box.text()
    window.review_moved()  # the moved galaxies fill the strip; the first is selected for the keys
    np.testing.assert_array_equal(np.sort(window.grid.rows()), np.flatnonzero(result.moved))
    np.testing.assert_array_equal(p.selection.indices, window.grid.rows()[:1])
    window.undo()
    assert p.run_id == first_run
    np.testing.assert_array_equal(p.clusters, before)


@pytest.mark.slow
def test_skipped_files_dock_names_each_file_inside_the_folder(qtbot, window, folder):
    """Exploratory QA: at 1366 x 768 every row of the dock read "/tmp/qa/odd_..." and no row said which file."""
    window.resize(1366, 768)
    deep = folder / "survey night 2" / "tile 0042"
    deep.mkdir(parents=True)
    (deep / "NGC_4321_broken_cutout.png").write_bytes(b"not a png")
    (folder / "empty.fits").write_bytes(b"")
    assert window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    dock = window.skipped
    items = [dock.topLevelItem(i) for i in range(dock.topLevelItemCount())]
    shown = sorted(item.text(0) for item in items)
    assert shown == ["empty.fits", "survey night 2/tile 0042/NGC_4321_broken_cutout.png"]
    for item in items:
        assert item.toolTip(0) == str(folder / item.text(0)) and item.toolTip(1) == item.text(1) != ""
    # the list shows the end of each name (the file's own name), cut in the middle if it must be cut
    assert dock.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert dock.columnWidth(0) >= min(dock.fontMetrics().horizontalAdvance("empty.fits"), dock.viewport().width() // 2)


def test_a_dropped_web_link_opens_nothing_and_a_dropped_file_opens_its_folder(qtbot, window, folder, tmp_path,
                                                                               monkeypatch):
    """Exploratory QA: an image dragged from a browser (an https link) opened the app's working folder as a project
    and wrote a store there."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    monkeypatch.chdir(tmp_path)

    def drop(url: QUrl) -> QDropEvent:
        mime = QMimeData()
        mime.setUrls([url])
        enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window, enter)
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        window.dropEvent(event)  # Qt delivers a drop only inside a drag it runs itself
        return enter

    enter = drop(QUrl("https://example.com/galaxy.fits"))
    assert not enter.isAccepted()  # the cursor says no
    assert window.project is None and not (tmp_path / ".galaxy-sorter").exists()
    assert window.stage_label.text() == "Only a folder or a file on this computer can be opened by dropping it here"
    image = next(folder.glob("*.png"))
    assert drop(QUrl.fromLocalFile(str(image))).isAccepted()
    qtbot.waitUntil(lambda: window.opening.reading is None)  # read off the GUI thread (app.opening)
    assert window.project is not None and window.project.folder == folder


def test_a_cli_run_with_the_tightest_crop_reopens_with_it_and_clusters_again_with_it(qtbot, window, folder, tmp_path):
    """Exploratory QA: the Run panel's crop box stopped at 0.10, so a CLI run at crop 0.05 reopened showing 0.10, and
    Cluster ran at 0.10 without a word."""
    from core.cli import main
    from core.images.preprocess import MIN_CROP_FRACTION

    assert main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
                 "--crop-fraction", str(MIN_CROP_FRACTION), "--out", str(tmp_path / "c.csv"), "--quiet"]) == 0
    assert window.open_folder(folder)
    assert window.run_settings.crop_fraction.value() == MIN_CROP_FRACTION
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)  # the reopened run's features load first
    _cluster(qtbot, window)
    assert window.project.config().prep.crop_fraction == MIN_CROP_FRACTION


@pytest.mark.slow
def test_a_refused_lda_map_puts_the_map_box_back_on_the_map_drawn(qtbot, window, folder):
    """LDA with fewer than two classes labelled is refused: the Map box showed LDA over a PCA map, and each Cluster
    after it said the same error again."""
    from PySide6.QtWidgets import QMessageBox

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    combo = window.run_settings.projection
    drawn = window.project.projection()
    pick(qtbot, combo, "lda")
    assert "LDA needs at least two classes" in window.last_error
    assert combo.currentData() == drawn == window.project.projection()
    for box in window.findChildren(QMessageBox, "error_box"):
        box.close()
    window.last_error = None
    window.cluster_action.trigger()
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=120_000)
    assert window.last_error is None and combo.currentData() == window.project.projection()


def test_a_recent_folder_deleted_since_says_so_and_leaves_the_menu(qtbot, window, folder, tmp_path, monkeypatch):
    """Exploratory QA: File > Open recent kept offering a deleted folder after saying it is not a folder."""
    import shutil

    errors = []
    monkeypatch.setattr(window, "show_error", lambda message, *a: errors.append(message))
    gone = tmp_path / "gone"
    shutil.copytree(folder, gone)
    assert window.open_folder(gone) and window.open_folder(folder)
    shutil.rmtree(gone)
    entry = next(a for a in window.recent.menu.actions() if a.text() == str(gone))
    entry.trigger()  # File > Open recent > the deleted folder
    assert errors and f"{gone} is not a folder" in errors[0]
    assert [a.text() for a in window.recent.menu.actions()] == [str(folder)]


def test_a_project_open_in_another_galaxy_sorter_is_said_with_what_to_do_and_no_traceback(qtbot, window, folder,
                                                                                           monkeypatch):
    """Exploratory QA: File > Open on a folder another Galaxy Sorter holds showed the lock's message with a
    Python traceback under Show Details and no hint; it is a condition to act on, not a crash."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog, QMessageBox

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from core.project import Project; p = Project.open(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.readline(); p.close()", str(folder)],
        cwd=Path(__file__).resolve().parents[2], env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
        file_menu = {a.text().replace("&", ""): a for a in window.menuBar().actions()}["File"].menu()
        next(a for a in file_menu.actions() if a.text().replace("&", "").startswith("Open folder")).trigger()
        qtbot.waitUntil(lambda: bool(window.findChildren(QMessageBox, "error_box")), timeout=30_000)  # read off the GUI thread
        box = window.findChildren(QMessageBox, "error_box")[-1]
        assert f"pid {holder.pid}" in box.text() and "open in another Galaxy Sorter" in box.text()
        assert "Close the folder in the other Galaxy Sorter" in box.informativeText()
        assert box.detailedText() == "" and window.project is None
    finally:
        holder.communicate("\n", timeout=60)


def test_split_in_2_runs_its_k_means_off_the_gui_thread_and_undoes(qtbot, window, folder, monkeypatch):
    """Clusters > Split in 2, clicked: the k-means of ten starts ran on the GUI thread (5 s for a cluster of a survey
    of a million, the window frozen); it is a job now, its split kept when it ends, and Ctrl+Z takes it back."""
    import threading

    from PySide6.QtWidgets import QPushButton
    from sklearn import cluster as sk_cluster

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    before = p.clusters.copy()
    fitted = []
    real = sk_cluster.KMeans.fit_predict
    monkeypatch.setattr(sk_cluster.KMeans, "fit_predict",
                        lambda self, *a, **k: fitted.append(threading.current_thread()) or real(self, *a, **k))
    tree = window.clusters.tree
    tree.setCurrentItem(tree.topLevelItem(0))
    c = window.clusters.current_cluster()
    button = next(b for b in window.clusters.findChildren(QPushButton) if b.text() == "Split in 2")
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert done.args[0] == "split" and len(fitted) == 1 and threading.main_thread() not in fitted
    assert len(p.cluster_ids()) == len(np.unique(before)) + 1
    assert set(np.unique(p.clusters[before == c])) == {c, max(p.cluster_ids())}
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(p.clusters, before)


def test_choosing_a_colouring_in_the_box_makes_it_once(qtbot, window, folder, monkeypatch):
    """A GUI audit: 'colour by label' made the colouring to check it could be shown, then made it again to draw it
    (each a pass over every galaxy: 2 x 0.5 s at a million).  Chosen in the box, it is made once and drawn."""
    from app import map_view

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    made = []
    real = map_view.colouring
    monkeypatch.setattr(map_view, "colouring", lambda p, mode: made.append(mode) or real(p, mode))
    box = window.color_combo
    box.setCurrentIndex(box.findData("label"))
    assert made == ["label"] and window.color_mode == "label"
    import re

    legend = [item[1].text for item in window.map.legend.items]
    assert sum(int(re.search(r"\((\d+)\)$", t).group(1)) for t in legend) == len(window.project)  # drawn, every galaxy


def test_back_up_project_writes_off_the_gui_thread_and_says_a_refusal(qtbot, window, folder, tmp_path, monkeypatch):
    """File > Back up project: SQLite's backup of the database runs on another thread (one call, 150-200 ms of the
    GUI thread at 200,000 galaxies), the status bar says when it is written; the project's own database as the
    target is refused in an error box, nothing written."""
    import threading

    from app import dialogs
    from core.store.database import ProjectStore
    from tests.helpers import open_and_cluster

    open_and_cluster(qtbot, window, folder)
    threads: list[bool] = []
    real = ProjectStore.backup
    monkeypatch.setattr(ProjectStore, "backup",
                        lambda self, dest: threads.append(threading.current_thread() is threading.main_thread())
                        or real(self, dest))
    dest = tmp_path / "mine.sqlite"
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(dest))
    window.backup_action.trigger()
    qtbot.waitUntil(lambda: "Backed up the project" in window.stage_label.text(), timeout=30_000)
    assert threads == [False] and dest.is_file()  # the old code: [True], on the GUI thread
    errors: list[str] = []
    monkeypatch.setattr(window, "show_error", lambda message, *rest: errors.append(message))
    own = folder / ".galaxy-sorter" / "project.sqlite"
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(own))
    window.backup_action.trigger()
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert "project's own database" in errors[0]
