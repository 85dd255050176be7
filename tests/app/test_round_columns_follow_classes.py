"""A class renamed or merged after a round takes its catalogue probability column along (exploratory QA).

The round keeps each class's calibrated probability under the classes' names at that round.  After Rename…
'elliptical' to 'E0' the catalogue still had a ``p_elliptical`` column, and a galaxy the user had labelled
elliptical lost its 1 and 0 (its label no longer matched a column): its row read label 'E0' (user) beside the
model's probabilities, the catalogue contradicting the astronomer.  A merge left the merged class's column behind.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QPushButton

from app.widgets import qt_labels
from tests.helpers import cluster as _cluster
from tests.helpers import export_catalogue as _export
from tests.helpers import fast as _fast

KINDS = {"elliptical": "elliptical", "spiral": "spiral", "edge_on": "irregular"}


def _columns(qtbot, window, path) -> tuple[list[str], dict[str, dict[str, str]]]:
    with open(_export(qtbot, window, str(path)), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [c for c in rows[0] if c.startswith("p_")], {r["path"]: r for r in rows}


@pytest.mark.slow
def test_rename_and_merge_after_a_round_carry_the_probability_columns(qtbot, window, folder, tmp_path, monkeypatch):
    window.open_folder(folder)
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window, timeout=600_000)
    p = window.project
    buttons = {b.text(): b for b in window.classes.findChildren(QPushButton)}
    window.classes.preset.setCurrentText("Hubble basic")
    buttons["Add preset"].click()
    ellipticals = []
    for kind, cls in KINDS.items():  # three galaxies of each kind answered with their class's key
        for row in [i for i, n in enumerate(p.names) if n.startswith(kind)][:3]:
            window.map.selection_requested.emit(np.array([row]), False)
            qtbot.keyClick(window, getattr(Qt.Key, f"Key_{p.class_names().index(cls) + 1}"))
            ellipticals += [row] if cls == "elliptical" else []
    with qtbot.waitSignal(window.jobs.finished, timeout=600_000) as done:
        qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert done.args[0] == "retrain"
    cols, before = _columns(qtbot, window, tmp_path / "round.csv")
    assert cols == ["p_elliptical", "p_spiral", "p_irregular"]

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("E0", True)))
    window.classes.list.setCurrentRow(p.class_names().index("elliptical"))
    buttons["Rename…"].click()
    cols, rows = _columns(qtbot, window, tmp_path / "renamed.csv")
    assert cols == ["p_E0", "p_spiral", "p_irregular"], cols
    for r in ellipticals:  # the user's own label is still certain, under its new name
        row = rows[p.paths[r]]
        assert (row["label"], row["label_source"], float(row["p_E0"]), float(row["p_spiral"])) == ("E0", "user", 1, 0)
    model = [path for path, row in rows.items() if row["label_source"] == "model"]
    assert all(rows[m]["p_E0"] == before[m]["p_elliptical"] for m in model)

    window.classes.list.setCurrentRow(p.class_names().index("irregular"))
    monkeypatch.setattr(qt_labels, "ask_item", lambda *_a, **_k: ("spiral", True))
    buttons["Merge into…"].click()
    cols, rows = _columns(qtbot, window, tmp_path / "merged.csv")
    assert cols == ["p_E0", "p_spiral"], cols
    for m in model:  # the merged class's probability is the target's now
        want = float(before[m]["p_spiral"]) + float(before[m]["p_irregular"])
        assert abs(float(rows[m]["p_spiral"]) - want) < 1e-6

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the merge, then the rename
    assert _columns(qtbot, window, tmp_path / "unmerged.csv")[0] == ["p_E0", "p_spiral", "p_irregular"]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    cols, rows = _columns(qtbot, window, tmp_path / "back.csv")
    assert cols == ["p_elliptical", "p_spiral", "p_irregular"] and rows == before
