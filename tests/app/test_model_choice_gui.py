"""Choosing a galaxy model in the window's model box and running Cluster (Ctrl+R) extracts its features.

"Automatic" is the box's default (issue 24): galaxy_duo for colour folders,
galaxy_trio for single-band ones, and the status line says which a grey
folder got.  galaxy_cnn2 (64 features) and galaxy_duo (128) are each chosen
after another model, as a user switching models would.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt


def cluster_with_ctrl_r(qtbot, window) -> None:
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "cluster"


def test_automatic_is_what_a_new_user_gets_and_a_grey_folder_runs_galaxy_trio(qtbot, window, folder, tmp_path):
    grey = tmp_path / "one_filter"
    grey.mkdir()
    for png in sorted(folder.glob("*.png"))[::3]:  # the sample's galaxies as one band, as a single filter gives them
        Image.open(png).convert("L").save(grey / png.name)
    shutil.rmtree(folder)
    assert window.open_folder(grey)
    s = window.run_settings
    assert s.model.currentIndex() == 0 and s.model.currentData() == "auto"
    assert s.model.currentText().startswith("Automatic") and "one band" in s.model.itemData(0, 3)
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    cluster_with_ctrl_r(qtbot, window)
    p = window.project
    assert p.run.model == "galaxy_trio" and p.features.shape == (len(list(grey.glob("*.png"))), 192)
    assert "single-band folder" in window.stage_label.text() and "trio" in window.stage_label.text()


@pytest.mark.slow
def test_automatic_keeps_galaxy_duo_for_the_colour_sample(qtbot, window, folder):
    assert window.open_folder(folder)
    s = window.run_settings
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    cluster_with_ctrl_r(qtbot, window)
    assert window.project.run.model == "galaxy_duo" and window.project.features.shape == (30, 128)
    assert "single-band" not in window.stage_label.text()
    assert np.isfinite(window.project.features).all()


@pytest.mark.slow
@pytest.mark.parametrize(("model", "before", "in_name", "dim"),
                         [("galaxy_cnn2", "galaxy_duo", "v2", 64), ("galaxy_duo", "galaxy_cnn", "duo", 128)])
def test_choose_a_model_in_the_model_box_and_cluster(qtbot, window, folder, model, before, in_name, dim):
    assert window.open_folder(folder)
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData(before))
    index = s.model.findData(model)
    assert index >= 0 and in_name in s.model.itemText(index)
    s.model.setCurrentIndex(index)
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(3)
    cluster_with_ctrl_r(qtbot, window)
    p = window.project
    assert p.features is not None and p.features.shape == (30, dim)
    assert len(p.cluster_ids()) == 3
    assert s.config().model == model
