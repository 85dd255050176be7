"""A class cannot be given the name an unnamed cluster has (``cluster 1``, ``noise``), from the Classes panel."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox, QPushButton

from app.widgets import qt_labels
from tests.helpers import open_and_cluster


def test_new_and_rename_refuse_an_unnamed_clusters_name_and_say_why(qtbot, window, folder, monkeypatch):
    """Exploratory QA: New… accepted a class called "cluster 1"; everywhere else that name means an unnamed
    cluster, so Enter would not accept it and a round dropped it from its cluster names. Now both buttons say why."""
    window.open_folder(folder)
    p = window.project
    before = p.class_names()
    answers = iter(["cluster 1", "noise", "cluster -1", "Cluster 1 (bright)", "cluster 2"])
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (next(answers), True)))
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a, **k: warned.append(text)))
    buttons = {b.text(): b for b in window.classes.findChildren(QPushButton)}
    for _ in range(4):
        buttons["New…"].click()
    assert p.class_names() == before + ["Cluster 1 (bright)"]  # a name that only looks like one is a class
    assert warned == [f"'{n}' is what an unnamed cluster is called, not a class: choose another name"
                      for n in ("cluster 1", "noise", "cluster -1")]
    window.classes.list.setCurrentRow(0)
    first = window.classes.current_class()
    buttons["Rename…"].click()
    assert first in p.class_names() and "cluster 2" not in p.class_names()
    assert warned[-1] == "'cluster 2' is what an unnamed cluster is called, not a class: choose another name"


def test_merging_a_class_called_none_relabels_only_its_own_galaxies(qtbot, window, folder, monkeypatch):
    """A class may be called "None" (a survey's flag column, say).  Merge into… found the class's galaxies by the
    text of every label, and an unlabelled galaxy's label read as "None": merging that class relabelled every
    unlabelled galaxy of the folder.  It also made a text of 200,000 labels to find a class's few (70 ms)."""
    p = open_and_cluster(qtbot, window, folder)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("None", True)))
    buttons = {b.text(): b for b in window.classes.findChildren(QPushButton)}
    buttons["New…"].click()
    assert "None" in p.class_names()
    target = p.class_names()[0]
    window.map.selection_requested.emit(np.array([4]), False)  # one galaxy labelled "None"
    qtbot.keyClick(window, getattr(Qt.Key, f"Key_{p.class_names().index('None') + 1}"))
    assert p.user_labels[4] == "None"
    unlabelled = [r for r in range(len(p)) if p.user_labels[r] is None]
    window.classes.list.setCurrentRow(p.class_names().index("None"))
    monkeypatch.setattr(qt_labels, "ask_item", lambda *_a, **_k: (target, True))
    buttons["Merge into…"].click()
    assert "None" not in p.class_names() and p.user_labels[4] == target
    assert all(p.user_labels[r] is None for r in unlabelled), "the merge labelled galaxies nobody had labelled"
