"""Labelling on an SQLite built without its JSON functions (``json_each``), as an older system's Python may be.

The label write handed SQLite the image ids as one JSON array for ``json_each`` to expand; such a Python raised at
the first key pressed and no label could be made.  The store's connection here refuses ``json_each`` (an authorizer,
since this machine's SQLite has it), so every label write takes the other path: ``executemany``, one transaction.
"""

from __future__ import annotations

import sqlite3

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import open_and_cluster, stored_labels


def _without_json(db: sqlite3.Connection) -> list[str]:
    """Make ``db`` refuse every read of ``json_each``, as an SQLite without the JSON functions has none; returns the refusals."""
    refused: list[str] = []

    def authorize(action, arg1, arg2, _db_name, _trigger):
        if action == sqlite3.SQLITE_READ and arg1 == "json_each":
            refused.append(arg2)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    db.set_authorizer(authorize)
    return refused


def test_keys_label_and_undo_clears_without_sqlites_json_functions(qtbot, window, folder):
    p = open_and_cluster(qtbot, window, folder)
    refused = _without_json(p.store.db)
    window.map.selection_requested.emit(np.array([0]), False)
    qtbot.keyClick(window, Qt.Key.Key_1)  # one galaxy
    assert stored_labels(p, "user") == {0: p.classes[0].name}, "the key's label is not in project.sqlite"
    cluster = np.flatnonzero(p.clusters == p.clusters[3])
    window.map.selection_requested.emit(cluster, False)  # a whole cluster, as a lasso around it selects it
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert stored_labels(p, "user") == {0: p.classes[0].name} | {int(r): p.classes[1].name for r in cluster}
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: the cluster's labels cleared
    assert stored_labels(p, "user") == {0: p.classes[0].name}
    assert refused, "the store never asked for json_each: the test did not reach the path it is about"
    assert p.user_labels[0] == p.classes[0].name and all(p.user_labels[r] is None for r in cluster if r != 0)
