"""A class name is the astronomer's text, never markup or a keyboard mnemonic."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QPushButton

from tests.helpers import open_and_cluster, pick


def _new_classes_and_label(qtbot, window, monkeypatch, names: list[str]):
    p = window.project
    it = iter(names)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (next(it), True)))
    new = {b.text(): b for b in window.classes.findChildren(QPushButton)}["New…"]
    for n in names:
        new.click()
        window.map.selection_requested.emit(np.array([4 + names.index(n)]), False)
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{p.class_names().index(n) + 1}"))
        assert p.user_labels[4 + names.index(n)] == n


def test_the_maps_legend_shows_a_class_name_as_typed(qtbot, window, folder, monkeypatch):
    """Colour by label: the legend's entries are pyqtgraph LabelItems, which take their text as HTML.  A class
    "a < b & c > d" was shown as "a d", and "<i>barred</i> spiral" as an italic "barred spiral"."""
    open_and_cluster(qtbot, window, folder)
    names = ["a < b & c > d", "<i>barred</i> spiral"]
    _new_classes_and_label(qtbot, window, monkeypatch, names)
    pick(qtbot, window.color_combo, "label")
    qtbot.waitUntil(lambda: window.map_view.mode == "label")
    window.map_view.render()
    shown = [label.item.toPlainText() for _sample, label in window.map.legend.items]
    for n in names:
        assert f"{n} (1)" in shown, f"{n!r} is shown as one of {shown}"


def test_classify_modes_answer_button_shows_an_ampersand_and_takes_no_alt_key(qtbot, window, folder, monkeypatch):
    """Classify mode's answer buttons are QPushButtons whose text is the class name: in "R&D" the '&' marks a
    mnemonic, so the button reads "RD" (D underlined) and Alt+D labels the galaxy "R&D"."""
    from app.widgets.qt_classify import QtClassify

    open_and_cluster(qtbot, window, folder)
    _new_classes_and_label(qtbot, window, monkeypatch, ["R&D"])
    window.classify_action.trigger()
    (classify,) = window.findChildren(QtClassify)
    button = next(b for b in classify.findChildren(QPushButton) if "R" in b.text() and "D" in b.text())
    assert button.shortcut().isEmpty(), f"the class name gave the button the shortcut {button.shortcut().toString()}"
    assert button.text().replace("&&", "&") == "[4] R&D"  # '&&' is how a button shows one '&'
    assert "&&" in button.text() or "&" not in button.text()
