"""Esc during the feature load on reopen leaves a clear state and a way on (issue 18, item 3 of the rest).

Before: after Esc while a reopened folder's features loaded, Retrain and Suggest said
"the features are still loading" until the folder was opened again.  Now the status
says the load was cancelled and how to restart it, Run > Load features restarts it,
and Retrain (Ctrl+T), Suggest (Ctrl+G) and their buttons load the features first and
then do their job.  Everything here goes through the keys, the menu and the buttons.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.feature_load import CANCELLED_TEXT
from core.project import Project
from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast

HOLD = {"on": False}


@pytest.fixture(autouse=True)
def _slow_load(monkeypatch):
    """While ``HOLD["on"]``, a feature load lasts until Esc (at most 20 s), as on a big folder: with 30
    cached images the real one can finish before the key press is handled, and Esc has nothing to cancel."""
    real = Project.reload_features

    def slow(self, progress=None, should_stop=None):
        result = real(self, progress=progress, should_stop=should_stop)
        end = time.monotonic() + 20
        while HOLD["on"] and should_stop is not None and not should_stop() and time.monotonic() < end:
            time.sleep(0.01)
        return result  # the job runner reports a cancel asked for before the return as cancelled

    monkeypatch.setattr(Project, "reload_features", slow)


def _reopen_and_press_esc(qtbot, window, folder) -> None:
    """Reopen the folder and press Esc while its features load."""
    HOLD["on"] = True
    with qtbot.waitSignal(window.jobs.cancelled, timeout=60_000) as blocker:
        window.open_folder(folder)
        assert window.jobs.current_name == "load-features"
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    HOLD["on"] = False
    assert blocker.args[0] == "load-features"
    assert window.project.features is None
    assert window.stage_label.text() == CANCELLED_TEXT
    assert window.load_features_action.isEnabled()  # Run > Load features offers the way on


def _menu(window, path: str):
    """The menu bar's action at ``path`` ("Run/Load features"), as a user finds it."""
    top, name = path.split("/")
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == top)
    return next(a for a in menu.actions() if a.text().replace("&", "") == name)


def _run_job_through(qtbot, window, press, job: str) -> list[str]:
    """Press (a key, a click) and wait until ``job`` has finished; the jobs that finished, in order."""
    finished: list[str] = []
    window.jobs.finished.connect(lambda name, _r: finished.append(name))
    press()
    qtbot.waitUntil(lambda: job in finished, timeout=180_000)
    return finished


def test_esc_during_feature_load_then_menu_load_features(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    assert not window.load_features_action.isEnabled()  # the features are there: nothing to load
    _reopen_and_press_esc(qtbot, window, folder)
    action = _menu(window, "Run/Load features")
    assert action is window.load_features_action
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        action.trigger()  # a click on the menu entry
    assert blocker.args[0] == "load-features"
    assert window.project.features is not None and len(window.project.features) == len(window.project)
    assert "features ready" in window.stage_label.text()
    assert not window.load_features_action.isEnabled()


def test_esc_during_feature_load_then_ctrl_t_and_ctrl_g_load_them_first(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window)
    p = window.project
    for row, key in zip(range(6), (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) * 2):
        p.selection.set([row])
        qtbot.keyClick(window, key)
    _reopen_and_press_esc(qtbot, window, folder)
    run_before = window.project.run_id
    finished = _run_job_through(
        qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier), "retrain")
    assert finished == ["load-features", "retrain"]  # loaded first, then retrained, no "still loading"
    assert window.project.run_id != run_before and window.project.run.is_round
    assert "still loading" not in (getattr(window, "last_error", "") or "")
    window.last_round_box.close()  # the round's report, read and closed: the window has the keys again
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)

    _reopen_and_press_esc(qtbot, window, folder)
    finished = _run_job_through(
        qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier), "suggest")
    assert finished == ["load-features", "suggest"]
    assert len(window.grid.rows()) == 10 and window.project.features is not None

    _reopen_and_press_esc(qtbot, window, folder)
    finished = _run_job_through(qtbot, window, window.run_settings.retrain_button.click, "retrain")
    assert finished == ["load-features", "retrain"]
    window.last_round_box.close()


def test_esc_during_feature_load_then_a_new_projection_loads_them_first(qtbot, window, folder):
    """A projection picked after Esc used to do nothing, silently: it now loads the features, then draws."""
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    _reopen_and_press_esc(qtbot, window, folder)
    combo = window.run_settings.projection
    target = next(combo.itemData(i) for i in range(combo.count()) if combo.itemData(i) not in (
        window.project.projection(), "lda"))
    i = combo.findData(target)

    def pick() -> None:  # the user picks it in the Map box
        combo.setCurrentIndex(i)
        combo.activated.emit(i)

    finished = _run_job_through(qtbot, window, pick, "project")
    assert finished == ["load-features", "project"]
    assert window.project.projection() == target
