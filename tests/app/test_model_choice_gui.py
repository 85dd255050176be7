"""Choosing a galaxy model in the window's model box and running Cluster (Ctrl+R) extracts its features.

galaxy_duo is the box's default (issue 24); galaxy_cnn2 (64 features), galaxy_duo and the
candidate galaxy_duo3 (128) are each chosen after another model, as a user switching models would.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt


def test_galaxy_duo_is_what_a_new_user_gets(qtbot, window, folder):
    assert window.open_folder(folder)
    s = window.run_settings
    assert s.model.currentData() == "galaxy_duo" and "default" in s.model.currentText()


@pytest.mark.slow
@pytest.mark.parametrize(("model", "before", "in_name", "dim"),
                         [("galaxy_cnn2", "galaxy_duo", "v2", 64), ("galaxy_duo", "galaxy_cnn", "duo", 128),
                          ("galaxy_duo3", "galaxy_duo", "v3", 128)])  # the candidate duo (galaxy_cnn3)
def test_choose_a_model_in_the_model_box_and_cluster(qtbot, window, folder, model, before, in_name, dim):
    assert window.open_folder(folder)
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData(before))
    index = s.model.findData(model)
    assert index >= 0 and in_name in s.model.itemText(index)
    s.model.setCurrentIndex(index)
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(3)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "cluster"
    p = window.project
    assert p.features is not None and p.features.shape == (30, dim)
    assert len(p.cluster_ids()) == 3
    assert s.config().model == model
