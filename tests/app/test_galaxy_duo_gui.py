"""galaxy_duo is the model box's default (issue 24); choosing it after another model and running Cluster (Ctrl+R)
extracts its 128 features."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt


@pytest.mark.slow
def test_choose_galaxy_duo_in_the_model_box_and_cluster(qtbot, window, folder):
    assert window.open_folder(folder)
    s = window.run_settings
    assert s.model.currentData() == "galaxy_duo" and "default" in s.model.currentText()  # what a new user gets
    s.model.setCurrentIndex(s.model.findData("galaxy_cnn"))
    index = s.model.findData("galaxy_duo")
    assert index >= 0 and "duo" in s.model.itemText(index)
    s.model.setCurrentIndex(index)
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(3)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "cluster"
    p = window.project
    assert p.features is not None and p.features.shape == (30, 128)
    assert len(p.cluster_ids()) == 3
    assert s.config().model == "galaxy_duo"
