"""Issue 19, item 8: a reopen survives a deleted image and a folder name that is not UTF-8."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from relhelp import copy_project


def _window(qtbot, tmp_path):
    from app.window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    return w


def test_one_deleted_image_does_not_block_the_others_features(qtbot, template, tmp_path):
    folder = copy_project(template[0], tmp_path / "imgs")
    gone = sorted(folder.glob("*.png"))[4]
    gone.unlink()
    window = _window(qtbot, tmp_path)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.open_folder(folder)
    p = window.project
    assert len(p) == 18
    assert p.features is not None and p.features.shape[0] == 18, "the features were never restored"
    # The deleted image keeps the row it was clustered with; the others are their own rows.
    reference = template[1]
    for path, row in zip(p.paths, p.features):
        np.testing.assert_allclose(row, reference[Path(path).name], rtol=1e-3, atol=1e-4)
    assert "features ready" in window.stage_label.text() and "gone or unreadable" in window.stage_label.text()
    # What needs the features works again, through the button the user clicks.
    assert window.run_settings.suggest_k_button.isEnabled()
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        qtbot.mouseClick(window.run_settings.suggest_k_button, Qt.MouseButton.LeftButton)
    assert done.args[0] == "suggest-k"


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS refuses file names that are not UTF-8")
def test_a_folder_name_that_is_not_utf8_is_stored_losslessly(qtbot, sample_folder, tmp_path):
    top = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    sub = Path(os.fsdecode(os.fsencode(top) + b"/sub\xff"))
    sub.mkdir(parents=True)
    sources = sorted(sample_folder.glob("*.png"))[:8]
    for i, src in enumerate(sources):
        shutil.copy(src, (sub if i % 2 else top) / src.name)  # file names not UTF-8 are skipped by design
    window = _window(qtbot, tmp_path)
    window.open_folder(top)
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(2)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.start_clustering()
    assert len(window.project) == 8
    window.project.set_labels([3], "spiral")
    window.close()

    again = _window(qtbot, tmp_path)
    with qtbot.waitSignal(again.jobs.finished, timeout=120_000):
        again.open_folder(top)
    p = again.project
    assert len(p) == 8 and all(os.path.isfile(x) for x in p.paths), [x for x in p.paths if not os.path.isfile(x)]
    assert {os.fsencode(x) for x in p.paths} == {os.fsencode(x) for x in list(top.rglob("*.png"))}
    assert p.features is not None and p.features.shape[0] == 8
    assert sum(u == "spiral" for u in p.user_labels) == 1
