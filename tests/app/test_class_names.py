"""A class cannot be given the name an unnamed cluster has (``cluster 1``, ``noise``), from the Classes panel."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMessageBox, QPushButton


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
