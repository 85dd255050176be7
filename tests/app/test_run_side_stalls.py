"""The run side's work kept off the GUI thread: a new map's store write (the Run panel's Map box)."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import open_and_cluster, open_recent, pick


def _choose_map(qtbot, window, method: str) -> None:
    """Pick ``method`` in the Run panel's Map box, as the user does (the box's list opened, the entry clicked)."""
    pick(qtbot, window.run_settings.projection, method)


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


def _updates(statements: list[str]) -> list[int]:
    """The image ids of the cluster UPDATEs among ``statements`` (the GUI thread's store connection, traced), in order."""
    import re

    return [int(re.search(r"image_id=(\d+)", s).group(1)) for s in statements if s.startswith("UPDATE assignments SET cluster")]


def test_merge_split_and_undo_write_the_galaxies_that_move_in_the_tables_order(qtbot, window, folder, monkeypatch):
    """Clusters > Merge into…, Split in 2 and Ctrl+Z wrote a cluster UPDATE for every galaxy of the cluster, in the
    strip's order (110-120 ms of the GUI thread at 200,000 galaxies): a split rewrote the half of its cluster that
    stays, and image ids out of the table's order visited its pages at random.  Now only the galaxies that move are
    written, in image-id order; the Clusters list counts every cluster in one pass (no comparison per cluster)."""
    from PySide6.QtWidgets import QInputDialog, QPushButton

    window.open_folder(folder)
    paths = sorted(str(p) for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    window.project.store.add_images(list(reversed(paths)))  # image ids against the strip's order (a folder grown)
    p = open_and_cluster(qtbot, window, folder)
    assert list(p.db_ids) != sorted(p.db_ids)
    buttons = {b.text(): b for b in window.clusters.findChildren(QPushButton)}
    tree = window.clusters.tree
    statements: list[str] = []
    p.store.db.set_trace_callback(statements.append)

    def pick(cluster: int) -> None:
        tree.setCurrentItem(next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                                 if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == cluster))

    a, b = p.cluster_ids()[:2]
    source = set(p.db_ids[p.clusters == a].tolist())
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *_a, **_k: (str(b), True)))
    pick(a)
    qtbot.mouseClick(buttons["Merge into…"], Qt.MouseButton.LeftButton)
    merged = _updates(statements)
    assert set(merged) == source and merged == sorted(merged) and a not in p.cluster_ids()
    statements.clear()
    before = p.clusters.copy()
    pick(b)
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        qtbot.mouseClick(buttons["Split in 2"], Qt.MouseButton.LeftButton)
    moved = set(p.db_ids[p.clusters != before].tolist())
    split = _updates(statements)
    assert 0 < len(moved) < int((before == b).sum())
    assert set(split) == moved and len(split) == len(moved) and split == sorted(split)  # the half that stays: unwritten
    statements.clear()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    undone = _updates(statements)
    assert np.array_equal(p.clusters, before) and set(undone) == moved and len(undone) == len(moved)
    p.store.db.set_trace_callback(None)
    sizes = {tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): int(tree.topLevelItem(i).text(2))
             for i in range(tree.topLevelItemCount())}
    assert sizes == {c: int((p.clusters == c).sum()) for c in p.cluster_ids()}


def test_a_merge_counts_the_clusters_without_sorting_every_galaxy(qtbot, window, folder, monkeypatch):
    """After Clusters > Merge into…, the views asked for the clusters present three times, each a sort of every
    galaxy's cluster number (np.unique, 4 ms a call at 200,000), and the Clusters list compared every galaxy with each
    cluster for its size and confidence: now they are counted in one pass (core.clustering.metrics.cluster_sizes)."""
    from PySide6.QtWidgets import QInputDialog, QPushButton

    p = open_and_cluster(qtbot, window, folder)
    a, b = p.cluster_ids()[:2]
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *_a, **_k: (str(b), True)))
    tree = window.clusters.tree
    tree.setCurrentItem(next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                             if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == a))
    sorted_sizes, real = [], np.unique
    monkeypatch.setattr(np, "unique", lambda values, *args, **kw: sorted_sizes.append(np.size(values))
                        or real(values, *args, **kw))
    button = next(x for x in window.clusters.findChildren(QPushButton) if x.text() == "Merge into…")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    assert a not in p.cluster_ids() and len(p) not in sorted_sizes  # (the map restyles the merged galaxies alone)
    shown = {tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): (int(tree.topLevelItem(i).text(2)),
                                                                     tree.topLevelItem(i).text(3))
             for i in range(tree.topLevelItemCount())}
    assert shown == {c: (int((p.clusters == c).sum()), f"{float(p.confidence[p.clusters == c].mean()):.2f}")
                     for c in real(p.clusters).tolist()}


def test_the_truth_read_again_on_a_reopen_is_matched_and_coded_off_the_gui_thread(qtbot, window, folder, monkeypatch):
    """When the truth file kept with a project was read again on a reopen, every image's id was worked out a second
    time on the GUI thread, and looked up in the truth, to count the Cluster x label table (0.3 s at 200,000
    galaxies).  The reading thread's ids and classes are counted now; the table is the same."""
    import threading

    import app.widgets.qt_cluster_table as qt_cluster_table
    import core.images.ids as ids
    from tests.helpers import truth_and_wait

    p = open_and_cluster(qtbot, window, folder)
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    counts = window.catalogue.table.counts.copy()
    spelled, real = [], ids.id_spellings
    def spell(*a, **k):
        spelled.append(threading.current_thread())
        return real(*a, **k)

    monkeypatch.setattr(ids, "id_spellings", spell)
    monkeypatch.setattr(qt_cluster_table, "id_spellings", spell)  # the table's module holds its own name for it
    assert window.open_folder(folder)
    table = window.catalogue.table
    qtbot.waitUntil(lambda: not table.reading and table.truth_name == "labels.csv" and not table.counting, timeout=60_000)
    assert len(spelled) == 1 and threading.main_thread() not in spelled  # matched and coded on the reading thread
    assert table.against.currentData() == "truth" and np.array_equal(table.counts, counts)


def test_open_recent_reads_the_project_off_the_gui_thread(qtbot, window, folder, monkeypatch):
    """File > Open recent read the store's rows, the labels and the joined values on the GUI thread (1.0 s at 200,000
    galaxies, the window frozen).  They are read on a thread of their own now, the project shown staying until the
    new one is read; it is the same project."""
    import threading

    from core.project import Project

    p = open_and_cluster(qtbot, window, folder)
    opened, real = [], Project.open.__func__
    monkeypatch.setattr(Project, "open", classmethod(lambda cls, *a, **k: opened.append(threading.current_thread())
                                                     or real(cls, *a, **k)))
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):  # the feature load of the project shown
        open_recent(window, folder)
        assert window.project is p  # still shown while the new one is read
    q = window.project
    assert q is not p and p.closed and len(opened) == 1 and threading.main_thread() not in opened
    assert np.array_equal(q.clusters, p.clusters) and list(q.paths) == list(p.paths)
    np.testing.assert_allclose(q.coords, p.coords)


def test_a_label_made_while_the_folder_is_read_again_is_in_the_project_shown(qtbot, window, folder, monkeypatch):
    """Open recent reads the project off the GUI thread while the one shown can still be labelled: a label made
    meanwhile is in the store, and the project read before it is read again (its store changed), so it shows it."""
    import threading

    import core.project as project_module

    p = open_and_cluster(qtbot, window, folder)
    reading, go, real = threading.Event(), threading.Event(), project_module.run_arrays
    reads = []

    def held(*args, **kwargs):
        reads.append(1)
        if len(reads) == 1:
            reading.set()
            assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(project_module, "run_arrays", held)
    open_recent(window, folder)
    assert reading.wait(60)
    window.show_cluster(p.cluster_ids()[0])
    qtbot.keyClick(window, Qt.Key.Key_2)  # labelled in the project shown, while the new one is being read
    row = int(np.flatnonzero(np.not_equal(p.user_labels, None))[0])
    go.set()
    qtbot.waitUntil(lambda: window.project is not p, timeout=60_000)
    assert len(reads) == 2  # read again: the store changed while it was read
    assert window.project.user_labels[row] == p.user_labels[row] is not None


def test_showing_a_reopened_project_takes_no_python_step_per_galaxy(qtbot, window, folder, tmp_path, monkeypatch):
    """Once read, a reopened project was shown with two Python loops over every galaxy on the GUI thread: the status
    line counted your labels one galaxy at a time (30 ms at 200,000), and each joined text column was looked through
    value by value to offer it as classes in the Cluster x label table (50 ms a column).  Both are counted in one
    step now: no line of them runs once per galaxy."""
    import sys
    from pathlib import Path

    from tests.helpers import join_and_wait

    p = open_and_cluster(qtbot, window, folder)
    cat = tmp_path / "cat.csv"
    cat.write_text("objid,morph,kind\n" + "".join(f"{n},{'ES'[i % 2]},{'abc'[i % 3]}\n" for i, n in enumerate(p.names)))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p)
    window.show_cluster(p.cluster_ids()[0])
    qtbot.keyClick(window, Qt.Key.Key_1)  # one label of yours
    watched = {str(Path(window.__class__.__module__.replace(".", "/") + ".py")), "app/widgets/qt_cluster_table.py"}
    runs: dict[tuple[str, int], int] = {}

    def trace(frame, event, _arg):
        code = frame.f_code
        if not any(code.co_filename.endswith(w) for w in watched):
            return None
        if event == "line":
            runs[(code.co_name, frame.f_lineno)] = runs.get((code.co_name, frame.f_lineno), 0) + 1
        return trace

    said, say = [], window.status.say
    monkeypatch.setattr(window.status, "say", lambda text, *a, **k: said.append(text) or say(text, *a, **k))
    sys.settrace(trace)
    try:
        assert window.open_folder(folder)
    finally:
        sys.settrace(None)
    q = window.project
    qtbot.waitUntil(lambda: not window.catalogue.table.counting, timeout=30_000)  # columns are offered off the GUI thread
    offered = [window.catalogue.table.against.itemData(i) for i in range(window.catalogue.table.against.count())]
    assert {"cat_morph", "cat_kind"} <= set(offered) and any("1 labelled by you" in t for t in said), said
    assert runs and max(runs.values()) < len(q), sorted(runs.items(), key=lambda kv: -kv[1])[:3]


_FIRST_OPEN = r"""
import sys, threading
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from app.window import MainWindow

imported = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in ("sklearn.metrics", "scipy.optimize"):
            imported.setdefault(name, threading.current_thread() is threading.main_thread())
        return None

app = QApplication([])
assert "sklearn.metrics" not in sys.modules  # the window alone does not need it
sys.meta_path.insert(0, Watch())
w = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
w.show()
w.opening.soon(sys.argv[1])
while w.project is None or w.catalogue.table.scores.text() == "":
    app.processEvents()
print("IMPORTED", sorted(imported.items()), w.catalogue.table.scores.text()[:30])
w.close()
"""


def test_the_first_open_of_a_session_imports_the_table_scores_libraries_off_the_gui_thread(qtbot, window, folder, tmp_path):
    """The first project opened in a session imported scikit-learn's metrics on the GUI thread when the Cluster x
    label table first scored its counts (0.14 s, File > Open folder at 200,000 galaxies): the reading thread imports
    them now.  In a fresh process, as a session starts."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    p = open_and_cluster(qtbot, window, folder)
    rows = np.flatnonzero(p.clusters == p.cluster_ids()[0])[:2]
    p.set_labels(rows[:1], p.class_names()[0])
    p.set_labels(rows[1:2], p.class_names()[1])  # two classes labelled: the table has scores to give
    window.close()
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _FIRST_OPEN, str(folder), str(tmp_path / "settings.ini")], cwd=root,
                         env=dict(os.environ, PYTHONPATH=str(root), QT_QPA_PLATFORM="offscreen"), capture_output=True,
                         text=True, timeout=300)
    line = next((x for x in out.stdout.splitlines() if x.startswith("IMPORTED")), out.stdout + out.stderr)
    assert "('sklearn.metrics', False)" in line and "True" not in line and "Clusters vs" in line, line  # not on the GUI thread


def test_the_gui_threads_collector_waits_while_a_project_is_read_in_the_background(qtbot, window, folder, monkeypatch):
    """While Open recent read the store's rows on its thread, one tuple a row, the GUI thread's garbage collector
    (app.collector) collected them as they were made: a collection walked 200,000 young tuples, 160-260 ms of the GUI
    thread.  It collects nothing while rows are being built (core.store.rows.no_gc), and again after."""
    import gc
    import threading

    import core.store.rows as rows

    open_and_cluster(qtbot, window, folder)
    inside, go, real = threading.Event(), threading.Event(), rows.no_gc
    collected, holding = [], []
    real_collect = gc.collect

    class Held:  # the rows' no_gc block, held open until the GUI thread has had its chances to collect
        def __enter__(self):
            self.block = real()
            self.block.__enter__()
            inside.set()
            assert go.wait(60)

        def __exit__(self, *exc):
            return self.block.__exit__(*exc)

    monkeypatch.setattr(rows, "no_gc", Held)
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(bool(holding)) or real_collect(*a))
    open_recent(window, folder)
    assert inside.wait(60)
    holding.append(1)
    young = [[i] for i in range(20_000)]  # the GUI thread allocates past every threshold meanwhile
    qtbot.wait(300)  # the collector's timer looks every 25 ms
    holding.clear()
    go.set()
    qtbot.waitUntil(lambda: window.opening.reading is None, timeout=60_000)
    qtbot.wait(300)
    assert True not in collected and False in collected, collected  # none while held; collections again after
    del young
