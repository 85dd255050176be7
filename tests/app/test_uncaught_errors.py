"""An error nothing caught is shown in the window, not only printed on a console a desktop launch does not have.

A key whose slot raised printed a traceback on standard error and did nothing else: from the desktop icon or the
packaged app the user saw a key that did nothing.  These tests make the window as ``python -m app.main`` makes it
(:func:`app.main.open_window`) and take pytest-qt's own capture of such errors off, since the window takes the hooks.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from tests.helpers import cluster, fast


@pytest.fixture
def launched(qtbot, tmp_path):
    from app.main import open_window

    w = open_window(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    w.errors.uninstall()


@pytest.mark.qt_no_exception_capture
def test_a_key_whose_label_write_fails_shows_the_error_once_and_counts_the_rest(qtbot, launched, folder, monkeypatch, capsys):
    w = launched
    w.open_folder(folder)
    fast(w)
    cluster(qtbot, w)
    p = w.project

    def broken(rows, label, *args, **kwargs):
        raise RuntimeError("the disk said no")

    monkeypatch.setattr(p, "set_labels", broken)
    w.map.selection_requested.emit(np.array([0]), False)
    qtbot.keyClick(w, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: w.errors.box is not None and w.errors.box.isVisible())
    box = w.errors.box
    assert "the disk said no" in box.text() and "RuntimeError" in box.text()
    assert "Your labels so far are saved" in box.informativeText()
    assert "set_labels" in box.detailedText() or "broken" in box.detailedText()  # the traceback, to report
    assert "the disk said no" in w.stage_label.text()  # the status line says it too
    assert "RuntimeError: the disk said no" in capsys.readouterr().err  # and the console keeps its traceback
    for _ in range(3):  # a held key: one box, the rest counted in it
        qtbot.keyClick(w, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: w.errors.shown == 4)
    assert w.errors.box is box and "3 more error(s)" in box.informativeText()
    box.button(box.StandardButton.Close).click()
    qtbot.waitUntil(lambda: w.errors.box is None)
    monkeypatch.undo()
    qtbot.keyClick(w, Qt.Key.Key_1)  # the window goes on: the next key labels
    assert p.user_labels[0] is not None


@pytest.mark.qt_no_exception_capture
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # pytest's hook, which ours calls
def test_an_error_on_a_thread_of_the_app_is_shown_from_the_gui_thread(qtbot, launched):
    w = launched

    def fails():
        raise OSError(28, "No space left on device")

    t = threading.Thread(target=fails, name="thumbnails")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: w.errors.box is not None)
    assert "No space left on device" in w.errors.box.text() and "Check the disk" in w.errors.box.informativeText()
    assert "in thumbnails" in w.errors.box.detailedText()
