"""Cluster (Ctrl+R) on a folder of galaxies small in their frames: DEC's start is chosen for them and the user told.

The rule is :mod:`core.features.framing` (issue 24); the status line is what
the user reads after the run, and the run's parameters are what reopening it
reruns.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.features.framing import SMALL_START
from tests.helpers import framed_folder


def cluster_with_ctrl_r(qtbot, window) -> None:
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "cluster"


@pytest.mark.slow
def test_ctrl_r_on_small_galaxies_starts_dec_for_them_and_says_so(qtbot, window, tmp_path):
    folder = framed_folder(tmp_path, 2.5)
    assert window.open_folder(folder)
    s = window.run_settings
    assert s.method.currentData() == "dec"  # what a new user runs
    s.model.setCurrentIndex(s.model.findData("galaxy_cnn"))
    cluster_with_ctrl_r(qtbot, window)
    run = window.project.run
    assert run.params["dec_params"]["init"] == SMALL_START and run.params["start_chosen_by"] == "auto: small galaxies"
    assert "small galaxies" in window.stage_label.text()
