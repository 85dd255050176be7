"""What a whole cluster's label key and its undo write to ``project.sqlite``: the rows that change, in one transaction.

At a survey's scale a cluster is 25,000 galaxies and each row written is SQLite's work on the GUI thread: a key
pressed again on a cluster already so labelled rewrote every row, a relabel deleted and inserted each one again
(``INSERT OR REPLACE``), and the undo of a cluster that held a few labels before wrote one transaction and one
checkpoint per label it gave back.
"""

from __future__ import annotations

import sqlite3

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import open_and_cluster, stored_labels


def _count_commits(db: sqlite3.Connection) -> list[str]:
    """The COMMIT statements ``db`` runs from now on."""
    seen: list[str] = []
    db.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper().startswith("COMMIT") else None)
    return seen


def _key(qtbot, window, rows, key) -> None:
    window.map.selection_requested.emit(np.asarray(rows, np.int64), False)  # as a click or a lasso selects them
    qtbot.keyClick(window, key)


def test_a_whole_clusters_key_and_its_undo_write_only_the_rows_that_change_in_one_transaction(qtbot, window, folder):
    p = open_and_cluster(qtbot, window, folder)
    first, second = p.classes[0].name, p.classes[1].name
    cluster = np.flatnonzero(p.clusters == np.bincount(p.clusters).argmax())
    assert len(cluster) >= 6
    _key(qtbot, window, cluster[:2], Qt.Key.Key_1)  # two of its galaxies answered first, one other
    _key(qtbot, window, cluster[2:3], Qt.Key.Key_2)
    before = stored_labels(p)
    db = p.store.db

    changes = db.total_changes
    _key(qtbot, window, cluster, Qt.Key.Key_1)  # the whole cluster
    assert db.total_changes - changes == len(cluster) - 2, "rows that already held the label were written again"
    assert stored_labels(p) == before | {int(r): first for r in cluster}

    changes, commits = db.total_changes, _count_commits(db)
    _key(qtbot, window, cluster, Qt.Key.Key_1)  # pressed again: nothing changes
    assert db.total_changes == changes and not commits, "a key that changes no label wrote to the store"

    commits = _count_commits(db)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo of the first whole-cluster key
    assert stored_labels(p) == before, "the undo did not give the cluster back its labels"
    assert len(commits) == 1, f"the undo gave back three labels (none, {first}, {second}) in {len(commits)} transactions"
    assert p.user_labels[cluster[2]] == second and p.user_labels[cluster[0]] == first
    assert all(p.user_labels[r] is None for r in cluster[3:])
    db.set_trace_callback(None)
