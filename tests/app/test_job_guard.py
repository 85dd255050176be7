"""No job cancels another unasked; actions follow the buttons' enabled state (issue 18, item 3).

The issue's two cases, driven by the shortcut as the user pressed it: Ctrl+G while a
clustering runs removed the clustering with no message, and Ctrl+G right after
reopening cancelled the feature load for good.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast


def _slow_cluster(window) -> None:
    """Start a clustering that takes long enough to press keys during it (DEC, many epochs)."""
    _fast(window, k=3, method="dec")
    window.start_clustering()
    assert window.jobs.busy and window.jobs.current_name == "cluster"


def test_ctrl_g_during_clustering_does_not_cancel_it(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    first_run = window.project.run_id
    _slow_cluster(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=180_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        assert not window.suggest_action.isEnabled()  # the action follows the (disabled) Suggest button
        assert not window.run_settings.suggest_button.isEnabled()
        message = window.statusBar().currentMessage()
        assert "Suggest" in message and "Clustering is running" in message
    assert blocker.args[0] == "cluster"  # the clustering finished instead of being cancelled
    assert window.project.run_id != first_run and window.project.run.method == "dec"


def test_ctrl_g_right_after_reopening_keeps_the_feature_load(qtbot, window, folder, tmp_path):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        window.open_folder(folder)  # reopen: the features load in the background
        assert window.jobs.current_name == "load-features"
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        assert "Loading the features is running" in window.statusBar().currentMessage()
    assert blocker.args[0] == "load-features"
    assert window.project.features is not None  # loaded, not cancelled for good
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "suggest" and len(window.grid.rows()) == 10


def test_a_second_job_started_by_code_is_refused_with_a_message(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    _slow_cluster(window)
    running = window.jobs.current
    with qtbot.waitSignal(window.jobs.refused) as refused:
        window.suggest_next()  # e.g. the auto-retrain or a script: refused, the run goes on
    assert refused.args == ["suggest", "cluster"]
    assert window.jobs.current is running and not running._stop
    assert "Suggest not started: clustering is still running" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.jobs.cancelled, timeout=180_000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # asked: Esc cancels
    assert window.cancel_action.isEnabled() is False


def test_esc_with_nothing_running_says_so(qtbot, window, folder):
    window.open_folder(folder)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert "Nothing is running to cancel" in window.statusBar().currentMessage()


def test_every_job_button_and_its_action_agree_idle_and_busy(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window)
    s = window.run_settings
    pairs = ((s.cluster_button, window.cluster_action), (s.suggest_button, window.suggest_action),
             (s.retrain_button, window.retrain_action))
    assert all(b.isEnabled() and a.isEnabled() for b, a in pairs)
    window.start_clustering()
    assert all(not b.isEnabled() and not a.isEnabled() for b, a in pairs)
    assert window.cancel_action.isEnabled()
    with qtbot.waitSignal(window.jobs.finished, timeout=180_000):
        pass
    assert all(b.isEnabled() and a.isEnabled() for b, a in pairs)
    np.testing.assert_array_equal(window.project.selection.indices, [])
