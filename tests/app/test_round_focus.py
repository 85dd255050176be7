"""A round's report never takes the keyboard from a user who labels on (Run > Retrain automatically).

Exploratory QA found that the report of an automatic round, shown after the 20th new label, became the active
window: the next six number keys labelled nothing, and Enter closed the report instead of accepting the model's
guess.  One report a round also piled up (50 open windows in a session of 1,000 labels).  Every key here goes
where the user's keyboard goes, the application's focus widget, not to the window object.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast

KEYS = {"elliptical": Qt.Key.Key_1, "spiral": Qt.Key.Key_2, "edge_on": Qt.Key.Key_3}


def _type(qtbot, key) -> None:
    """One key press, to whatever holds the keyboard (the focus widget, else the active window)."""
    target = QApplication.focusWidget() or QApplication.activeWindow()
    assert target is not None
    qtbot.keyClick(target, key)


def _label_by_keys(qtbot, window, rows) -> None:
    p = window.project
    for row in rows:
        p.selection.set([row])
        _type(qtbot, KEYS[next(k for k in KEYS if p.names[row].startswith(k))])


@pytest.mark.slow
def test_an_automatic_rounds_report_leaves_the_keys_with_the_labelling(qtbot, window, tmp_path):
    from core.images.sample import make_sample

    window.open_folder(make_sample(tmp_path / "galaxies", per_class=16, size=128, seed=1))  # 48: two rounds of 20
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window, timeout=600_000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.auto_retrain_action.trigger()  # Run > Retrain automatically every 20 new labels
    assert window.auto_retrain_action.isChecked()
    p = window.project
    order = [i for group in zip(*([i for i, n in enumerate(p.names) if n.startswith(k)] for k in KEYS)) for i in group]
    with qtbot.waitSignal(window.jobs.finished, timeout=600_000, check_params_cb=lambda name, _r: name == "retrain"):
        _label_by_keys(qtbot, window, order[:20])  # the 20th starts the round
    first = window.last_round_box
    qtbot.waitUntil(first.isVisible)
    assert QApplication.activeWindow() is window  # the report is there, the keyboard is not its
    # the keys go on labelling: a number key labels, Enter accepts the model's guess
    _label_by_keys(qtbot, window, order[20:22])
    assert [p.user_labels[order[i]] for i in (20, 21)] == [p.user_labels[order[i % 3]] for i in (20, 21)]
    assert None not in [p.user_labels[order[i]] for i in (20, 21)]
    guessed = order[22]
    p.selection.set([guessed])
    _type(qtbot, Qt.Key.Key_Return)
    assert p.user_labels[guessed] is not None and first.isVisible()
    # the next round's report replaces this one: one report open, however many rounds
    with qtbot.waitSignal(window.jobs.finished, timeout=600_000, check_params_cb=lambda name, _r: name == "retrain"):
        _label_by_keys(qtbot, window, order[23:40])
    second = window.last_round_box
    qtbot.waitUntil(second.isVisible)
    reports = [w for w in QApplication.topLevelWidgets() if w.objectName() == "round_box" and w.isVisible()]
    assert reports == [second] and QApplication.activeWindow() is window
    labelled = np.array([u is not None for u in p.user_labels])
    assert labelled.sum() == 40


@pytest.mark.slow
def test_suggest_ks_scores_leave_the_keys_with_the_labelling(qtbot, window, folder):
    """The same for every message a job leaves beside the map (dialogs.show_beside): Suggest k's scores."""
    window.open_folder(folder)
    _fast(window, k=3)
    _cluster(qtbot, window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000, check_params_cb=lambda name, _r: name == "suggest-k"):
        qtbot.mouseClick(window.run_settings.suggest_k_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Higher separates better" in getattr(window, "last_notice", ""))
    assert QApplication.activeWindow() is window
    # its answer is in the notice: the status bar says it is done, not "Starting…" (a GUI audit found it stuck)
    assert window.stage_label.text() == "Suggest k: done"
    p = window.project
    _label_by_keys(qtbot, window, [0])
    assert p.user_labels[0] is not None
