"""Menu actions and their shortcuts, driven the way the user drives them (issue 18).

Tests used to call ``window.suggest_next(6)`` directly and missed that the menu
entry and Ctrl+G passed ``QAction.triggered``'s ``checked=False`` as ``n``, so
the shortcut suggested 0 galaxies while the button suggested 10.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast


@pytest.mark.slow
def test_ctrl_g_suggests_ten_galaxies(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "suggest"
    assert len(list(window.grid.rows())) == 10  # the strip shows the ten, the first one marked
    assert window.stage_label.text().startswith("10 galaxies suggested")


@pytest.mark.slow
def test_run_menu_suggest_entry_suggests_ten_galaxies(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    run_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Run")
    entry = next(a for a in run_menu.actions() if a.text() == "&Suggest galaxies to label")
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        entry.trigger()
    assert len(list(window.grid.rows())) == 10


@pytest.mark.slow
def test_suggest_button_and_shortcut_agree(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        qtbot.mouseClick(window.run_settings.suggest_button, Qt.MouseButton.LeftButton)
    by_button = sorted(int(i) for i in window.grid.rows())
    assert len(by_button) == 10
    window.project.selection.clear()
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert sorted(int(i) for i in window.grid.rows()) == by_button


@pytest.mark.slow
def test_ctrl_g_on_a_survey_suggests_ten_unlabelled_galaxies_from_the_sampled_path(qtbot, window, folder, monkeypatch):
    """A survey's Suggest measures on a seeded sample (core.learning.active.SAMPLE_ROWS): forced on the 90-galaxy
    sample, Ctrl+G still fills the strip with ten galaxies, none of them labelled, and a second press agrees."""
    import numpy as np

    import core.learning.active as active

    monkeypatch.setattr(active, "SAMPLE_ROWS", 40)
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    p.set_labels([0, 1, 2], "elliptical")
    rows = []
    for _ in range(2):
        window.project.selection.clear()
        with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
            qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        assert blocker.args[0] == "suggest"
        rows.append(sorted(int(i) for i in window.grid.rows()))
    labelled = np.array([u is not None for u in p.user_labels])
    assert len(rows[0]) == 10 and not labelled[rows[0]].any() and rows[0] == rows[1]


@pytest.mark.slow
def test_ctrl_g_with_every_galaxy_labelled_says_so_and_keeps_the_strip(qtbot, window, folder):
    """Exploratory QA: it said "0 galaxies suggested: unsure, near a boundary, ..." and emptied the strip."""
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    p.set_labels(list(range(len(p))), "spiral")
    p.selection.set([3, 4])
    shown = sorted(int(i) for i in window.grid.rows())
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert window.stage_label.text() == "Nothing to suggest: every galaxy has your label"
    assert sorted(int(i) for i in window.grid.rows()) == shown
