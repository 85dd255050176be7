"""Class names that collide with the product's own words or with an earlier class's name, through the Classes and
Clusters docks and Ctrl+Z (found by exploratory QA of user-typed class names)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox, QPushButton

from app.widgets import qt_labels
from tests.helpers import open_and_cluster


def _buttons(dock) -> dict[str, QPushButton]:
    return {b.text(): b for b in dock.findChildren(QPushButton)}


def _answer(monkeypatch, *answers: str) -> None:
    it = iter(answers)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (next(it), True)))


def _key(qtbot, window, row: int, name: str) -> None:
    window.map.selection_requested.emit(np.array([row]), False)
    qtbot.keyClick(window, getattr(Qt.Key, f"Key_{window.project.class_names().index(name) + 1}"))


def _said(window) -> str:
    return window.statusBar().currentMessage() or window.stage_label.text()


def _name_cluster(window, monkeypatch, cluster: int, name: str) -> None:
    tree = window.clusters.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == cluster)
    tree.setCurrentItem(item)
    monkeypatch.setattr(qt_labels, "ask_item", lambda *_a, **_k: (name, True))
    _buttons(window.clusters)["Name as class…"].click()


def test_no_label_is_refused_as_a_class_or_a_clusters_name(qtbot, window, folder, monkeypatch):
    """Colour by label calls the galaxies with no label "(no label)" and draws them grey: a class of that name had
    its galaxies drawn and counted as the unlabelled ones.  New… and Name as class… refuse it and say why."""
    p = open_and_cluster(qtbot, window, folder)
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a, **k: warned.append(text)))
    _answer(monkeypatch, "(no label)")
    _buttons(window.classes)["New…"].click()
    _name_cluster(window, monkeypatch, int(p.clusters[0]), "(no label)")
    assert "(no label)" not in p.class_names() and "(no label)" not in p.cluster_names.values()
    assert warned == ["'(no label)' is what the map calls galaxies with no label, not a class: choose another name"] * 2


@pytest.mark.parametrize("special", ["exclude", "unsure"])
def test_enter_on_a_cluster_named_exclude_labels_its_galaxies(qtbot, window, folder, monkeypatch, special):
    """Name as class… takes "exclude" for a cluster (a cluster of artefacts).  Enter on its galaxies raised
    ValueError("there is already a class called 'exclude'"): accept_model_labels made every name that is no class
    a class, the special labels too."""
    p = open_and_cluster(qtbot, window, folder)
    errors: list[BaseException] = []
    monkeypatch.setattr("sys.excepthook", lambda t, e, tb: errors.append(e))
    _name_cluster(window, monkeypatch, int(p.clusters[4]), special)
    assert p.cluster_names.get(int(p.clusters[4])) == special
    window.map.selection_requested.emit(np.array([4]), False)
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert not errors, f"Enter raised {errors!r}"
    assert p.user_labels[4] == special and special not in p.class_names()


def test_undo_of_a_rename_after_new_took_the_old_name_undoes_new_first(qtbot, window, folder, monkeypatch):
    """Rename… 'A' to 'B', New… 'A' (free again), Ctrl+Z: the undo renamed 'B' back to 'A' beside the new 'A', the
    store refused two classes of one name (UNIQUE constraint failed: classes.name), the window, the labels and the
    saved classes disagreed and the undo step was lost.  New… is now an undo step: Ctrl+Z takes the new 'A' back,
    the next gives 'B' its name back, and Ctrl+Shift+Z twice makes both again."""
    p = open_and_cluster(qtbot, window, folder)
    errors: list[BaseException] = []
    monkeypatch.setattr("sys.excepthook", lambda t, e, tb: errors.append(e))
    _answer(monkeypatch, "A", "B", "A")
    b = _buttons(window.classes)
    b["New…"].click()
    _key(qtbot, window, 4, "A")
    window.classes.list.setCurrentRow(p.class_names().index("A"))
    b["Rename…"].click()
    b["New…"].click()
    assert p.class_names()[-2:] == ["B", "A"] and p.user_labels[4] == "B"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.class_names()[-1] == "B" and "A" not in p.class_names()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not errors, f"Ctrl+Z raised {errors!r}"
    assert p.class_names()[-1] == "A" and "B" not in p.class_names() and p.user_labels[4] == "A"
    assert [n for n, _ in p.store.classes()] == p.class_names()
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_Z, redo)
    qtbot.keyClick(window, Qt.Key.Key_Z, redo)
    assert p.class_names()[-2:] == ["B", "A"] and p.user_labels[4] == "B" and not errors
    assert [n for n, _ in p.store.classes()] == p.class_names()


def test_an_undo_that_would_make_two_classes_of_one_name_is_refused_said_and_kept(qtbot, window, folder, monkeypatch):
    """A class can still come back without an undo step of its own (Add preset): the undo of a rename to its name
    then changes nothing, says why, and stays, instead of leaving two classes of one name."""
    p = open_and_cluster(qtbot, window, folder)
    errors: list[BaseException] = []
    monkeypatch.setattr("sys.excepthook", lambda t, e, tb: errors.append(e))
    b = _buttons(window.classes)
    window.classes.preset.setCurrentText("Hubble basic")
    b["Add preset"].click()
    _key(qtbot, window, 4, "spiral")
    _answer(monkeypatch, "disk")
    window.classes.list.setCurrentRow(p.class_names().index("spiral"))
    b["Rename…"].click()
    b["Add preset"].click()  # "spiral" again, beside "disk"
    names = p.class_names()
    assert "spiral" in names and "disk" in names and p.user_labels[4] == "disk"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not errors, f"Ctrl+Z raised {errors!r}"
    assert p.class_names() == names and p.user_labels[4] == "disk", "a refused undo changed something"
    assert [n for n, _ in p.store.classes()] == names
    assert "Not undone" in _said(window) and "'spiral' was made since" in _said(window)
    assert p.undo_text() == "rename class 'spiral' to 'disk'", "the refused step was lost"


def test_undo_of_a_merge_keeps_a_class_made_after_the_merge(qtbot, window, folder, monkeypatch):
    """Merge into… 'X' into 'Y', then classes made without an undo step of their own (Add preset), then Ctrl+Z: the
    undo put back the whole list of classes of before the merge, so the preset's classes (no part of the merge)
    vanished from the Classes panel and the store, and Ctrl+Shift+Z did not bring them back."""
    p = open_and_cluster(qtbot, window, folder)
    _answer(monkeypatch, "X", "Y")
    b = _buttons(window.classes)
    b["New…"].click()
    b["New…"].click()
    _key(qtbot, window, 4, "X")
    order = p.class_names()
    window.classes.list.setCurrentRow(p.class_names().index("X"))
    monkeypatch.setattr(qt_labels, "ask_item", lambda *_a, **_k: ("Y", True))
    b["Merge into…"].click()
    assert "X" not in p.class_names() and p.user_labels[4] == "Y"
    window.classes.preset.setCurrentText("GALAXY CRUISE")
    b["Add preset"].click()
    added = [n for n in p.class_names() if n not in order]
    assert added == ["ring", "fan", "distortion", "tail"]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.user_labels[4] == "X" and p.class_names() == order + added, "the undo dropped the preset or moved X"
    assert [n for n, _ in p.store.classes()] == p.class_names()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert p.user_labels[4] == "Y" and "X" not in p.class_names() and set(added) <= set(p.class_names())


def test_a_name_that_reads_as_a_class_is_refused_and_a_case_rename_is_not(qtbot, window, folder, monkeypatch):
    """New… took 'Spiral' beside 'spiral', 'UNSURE' beside unsure (then learned as a class of its own) and an 'é'
    typed in its decomposed form (macOS) beside one typed composed: classes that read the same, and catalogue
    columns (p_Spiral, p_spiral) a FITS reader takes for one.  Each is refused with the class it reads as; renaming
    'spiral' to 'Spiral' is still a rename."""
    p = open_and_cluster(qtbot, window, folder)
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a, **k: warned.append(text)))
    b = _buttons(window.classes)
    window.classes.preset.setCurrentText("Hubble basic")
    b["Add preset"].click()
    before = p.class_names()
    _answer(monkeypatch, "é-type", "Spiral", "UNSURE", "e\u0301-type", "Spiral")
    for _ in range(4):
        b["New…"].click()
    assert p.class_names() == before + ["é-type"]
    assert warned == ["'Spiral' reads as the class 'spiral': use that one, or a name of its own",
                      "'UNSURE' reads as the class 'unsure': use that one, or a name of its own",
                      "'e\u0301-type' reads as the class 'é-type': use that one, or a name of its own"]
    window.classes.list.setCurrentRow(p.class_names().index("spiral"))
    b["Rename…"].click()
    assert "Spiral" in p.class_names() and "spiral" not in p.class_names() and len(warned) == 3
    b["Add preset"].click()  # Hubble basic again: its 'spiral' is there already, as 'Spiral'
    assert "spiral" not in p.class_names() and p.class_names().count("Spiral") == 1
