"""A whole cluster labelled by one key: the labels saved at once, the files' content recorded off the GUI thread.

Each labelled image's content fingerprint (so its label follows a rename) was taken inside the label's write:
25,000 files read and hashed on the GUI thread for a cluster of a survey labelled at once.
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import open_and_cluster


def _fingerprint_threads(monkeypatch) -> list[int]:
    """The thread of every file fingerprint taken from now on (core.images.io.file_fingerprint, counted)."""
    import core.images.io as io

    threads: list[int] = []
    real = io.file_fingerprint

    def counted(path):
        threads.append(threading.get_ident())
        return real(path)

    monkeypatch.setattr(io, "file_fingerprint", counted)
    return threads


def _saved(p, rows) -> dict[int, tuple[str, str | None]]:
    """What project.sqlite holds for ``rows``, read through a connection of its own: id -> (label, content)."""
    db = sqlite3.connect(p.store.folder / "project.sqlite")
    try:
        ids = [int(i) for i in p.db_ids[rows]]
        return {i: (label, content) for i, label, content in db.execute(
            f"SELECT l.image_id, l.label, i.content FROM labels l JOIN images i ON i.id = l.image_id "
            f"WHERE l.image_id IN ({','.join('?' * len(ids))})", ids)}
    finally:
        db.close()


def test_key_1_on_a_whole_cluster_reads_no_file_on_the_gui_thread(qtbot, window, folder, monkeypatch):
    from core.images.io import file_fingerprint

    p = open_and_cluster(qtbot, window, folder)
    rows = np.flatnonzero(p.clusters == p.clusters[0])
    threads = _fingerprint_threads(monkeypatch)
    window.map.selection_requested.emit(rows, False)  # the whole cluster, as a lasso around it selects it
    qtbot.keyClick(window, Qt.Key.Key_1)
    saved = _saved(p, rows)
    assert {label for label, _ in saved.values()} == {p.classes[0].name} and len(saved) == len(rows)  # durable now
    assert threading.get_ident() not in threads, f"{threads.count(threading.get_ident())} files hashed on the GUI thread"
    assert p.store.contents.wait(60)
    recorder = p.store.contents
    assert recorder.from_cache == len(rows) and recorder.hashed == 0 and threads == []  # the cache's: no file read
    assert threading.get_ident() not in recorder.thread_ids
    assert {i: c for i, (_, c) in _saved(p, rows).items()} == {
        int(p.db_ids[r]): file_fingerprint(p.paths[r]) for r in rows}


def test_enter_and_redo_on_a_whole_cluster_hash_only_on_the_recorder_thread(qtbot, window, folder, monkeypatch):
    """Files the cache cannot vouch for (edited since their features) are hashed, on the recorder's thread."""
    p = open_and_cluster(qtbot, window, folder)
    rows = np.flatnonzero(p.clusters == p.clusters[0])
    p.name_cluster(int(p.clusters[0]), p.classes[1].name)
    edited = [p.paths[r] for r in rows[:3]]
    for path in edited:  # the same bytes written again: a new change time, so the cache's fingerprint is not taken
        with open(path, "r+b") as fh:
            data = fh.read()
            fh.seek(0)
            fh.write(data)
    threads = _fingerprint_threads(monkeypatch)
    window.map.selection_requested.emit(rows, False)
    qtbot.keyClick(window, Qt.Key.Key_Return)  # accept the model's labels
    assert {label for label, _ in _saved(p, rows).values()} == {p.classes[1].name}
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert {label for label, _ in _saved(p, rows).values()} == {p.classes[1].name}
    assert threading.get_ident() not in threads
    assert p.store.contents.wait(60)
    assert len(threads) == len(edited) and p.store.contents.hashed == len(edited)  # each once: redo finds them recorded
    assert None not in {content for _, content in _saved(p, rows).values()}


def test_a_whole_cluster_labelled_and_undone_is_a_statement_each_and_its_name_looked_up_once(qtbot, window, folder,
                                                                                             monkeypatch):
    """Enter on a whole named cluster writes its labels in one SQL statement (undone: one), not one a galaxy,
    and looks the cluster's name up once, not once a galaxy."""
    from core.project import Project

    p = open_and_cluster(qtbot, window, folder)
    cluster = int(p.clusters[0])
    rows = np.flatnonzero(p.clusters == cluster)
    p.name_cluster(cluster, p.classes[1].name)
    window.map.selection_requested.emit(rows, False)
    statements: list[str] = []
    p.store.db.set_trace_callback(statements.append)
    asked: list[int] = []
    real = Project.cluster_name
    monkeypatch.setattr(Project, "cluster_name", lambda self, c: asked.append(c) or real(self, c))
    qtbot.keyClick(window, Qt.Key.Key_Return)  # accept the model's labels
    accepted = list(asked)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    p.store.db.set_trace_callback(None)
    writes = [s.split()[0] for s in statements if " labels" in s and s.split()[0] in ("INSERT", "DELETE")]
    assert writes == ["INSERT", "DELETE"], f"{len(writes)} statements for {len(rows)} galaxies"
    assert len(accepted) < len(rows) and {label for label, _ in _saved(p, rows).values()} == set()
