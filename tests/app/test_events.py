"""Views follow the project's declared events, and change it only through its undoable methods."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QPushButton


def _button(widget, text: str) -> QPushButton:
    return next(b for b in widget.findChildren(QPushButton) if b.text() == text)


def test_the_colour_button_recolours_a_class_and_ctrl_z_gives_the_colour_back(qtbot, window, folder, monkeypatch):
    assert window.open_folder(folder)
    p = window.project
    name, before = p.classes[0].name, p.classes[0].color
    heard = []
    p.events.classes_changed.connect(lambda: heard.append("classes"))
    window.classes.list.setCurrentRow(0)
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor("#123456")))
    qtbot.mouseClick(_button(window.classes, "Colour…"), Qt.MouseButton.LeftButton)
    assert p.color_of(name) == "#123456" and heard == ["classes"]
    assert dict(p.store.classes())[name] == "#123456"  # on disk at once
    assert window.classes.list.item(0).icon().pixmap(8, 8).toImage().pixelColor(4, 4).name() == "#123456"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.color_of(name) == before and dict(p.store.classes())[name] == before
    assert window.classes.list.item(0).icon().pixmap(8, 8).toImage().pixelColor(4, 4).name() == before.lower()


def test_a_disconnected_view_hears_nothing_more(qtbot, window, folder):
    assert window.open_folder(folder)
    p = window.project
    seen = []

    def listener() -> None:
        seen.append(1)

    p.events.classes_changed.connect(listener)
    p.add_class("bar")
    p.events.classes_changed.disconnect(listener)
    p.add_class("ring")
    assert seen == [1] and [c.name for c in p.classes][-2:] == ["bar", "ring"]
