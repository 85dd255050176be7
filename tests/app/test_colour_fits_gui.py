"""Colour FITS in the app: three band files of a galaxy shown in colour (make_lupton_rgb) from the stretch control."""

from __future__ import annotations

import numpy as np

from core.images.sample import make_band_sample
from tests.helpers import open_and_cluster
from tests.helpers import pixmap_array as _array


def test_three_band_fits_are_shown_in_colour_by_the_stretch_control(qtbot, window, tmp_path):
    folder = tmp_path / "bands"
    make_band_sample(folder, n=3)
    p = open_and_cluster(qtbot, window, folder, k=2)
    window.show_cluster(int(p.clusters[0]))
    row = window.grid.current_row()
    control = window.preview.stretch_control
    control.kind.setCurrentText("lupton")  # what the user picks in the preview's stretch box
    # drawn off the GUI thread once the control rests (issue 18)
    qtbot.waitUntil(lambda: window.preview.drawn == (p.paths[row], control.stretch()), timeout=10_000)
    assert window.grid.cache.stretch.kind == "lupton" and window.classify.stretch.kind == "lupton"
    big = _array(window.preview.view.item.pixmap()).astype(int)
    h, w = big.shape[:2]
    centre = big[h // 2 - 2:h // 2 + 3, w // 2 - 2:w // 2 + 3].reshape(-1, 3).mean(axis=0)
    assert centre[0] > centre[2] + 40, centre  # the red bulge of the i/r/g composite, not grey
    thumb = _array(window.grid.cache.get(p.paths[row])).astype(int)
    assert np.abs(thumb[:, :, 0] - thumb[:, :, 2]).mean() > 5  # the strip's thumbnails are in colour too
    before = big.mean()
    control.upper.setValue(90.0)  # the stretch limits apply to the colour composite
    qtbot.waitUntil(lambda: window.preview.drawn == (p.paths[row], control.stretch()), timeout=10_000)
    assert _array(window.preview.view.item.pixmap()).astype(int).mean() > before + 3
