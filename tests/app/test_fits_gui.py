"""A folder of FITS (cubes, band files, single bands) in the app: the display stretch the user picks
changes what is shown, never the features the model computed (issue 24)."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from core.images.sample import render_galaxy


def _fits_folder(folder):
    """Nine galaxies: g,r,i cubes named in the header, band-file sets, and single r bands."""
    folder.mkdir()
    rng = np.random.default_rng(2)
    for k, kind in enumerate(["elliptical", "spiral", "edge_on"] * 3):
        rgb = render_galaxy(kind, 96, rng).astype(np.float64) / 255.0
        gri = np.moveaxis((np.sinh(3.0 * rgb) / np.sinh(3.0))[::-1, :, ::-1], -1, 0) * 900.0 + 20.0
        gri = gri.astype(np.float32)
        if k % 3 == 0:
            hdu = fits.PrimaryHDU(gri)
            hdu.header["BANDS"] = "g,r,i"
            hdu.writeto(folder / f"{kind}_{k}.fits")
        elif k % 3 == 1:
            for b, band in enumerate("gri"):
                fits.PrimaryHDU(gri[b]).writeto(folder / f"{kind}_{k}_{band}.fits")
        else:
            fits.PrimaryHDU(gri[1]).writeto(folder / f"{kind}_{k}.fits")
    return folder


def test_the_display_stretch_never_changes_the_features(qtbot, window, tmp_path):
    from core.features.extract import extract_features, load_model
    from core.images.display import Stretch
    from tests.helpers import cluster, fast, pixmap_array

    folder = _fits_folder(tmp_path / "fits")
    assert window.open_folder(folder)
    fast(window, k=3)
    cluster(qtbot, window)
    project = window.project
    assert len(project.paths) == 9  # three band files are one galaxy
    before = np.array(project.features, copy=True)
    window.show_cluster(0)
    qtbot.waitUntil(lambda: window.preview.drawn is not None, timeout=20_000)
    assert window.preview.drawn[1] == Stretch()  # "as read": what the model gets
    shown = pixmap_array(window.preview.view.item.pixmap()).astype(int)

    control = window.preview.stretch_control
    control.kind.setCurrentText("lupton")
    control.lower.setValue(5.0)
    control.upper.setValue(99.0)
    picked = Stretch("lupton", 5.0, 99.0)
    qtbot.waitUntil(lambda: window.preview.drawn is not None and window.preview.drawn[1] == picked, timeout=20_000)
    now = pixmap_array(window.preview.view.item.pixmap()).astype(int)
    assert now.shape != shown.shape or np.abs(now - shown).mean() > 5  # the stretch took effect on screen

    cluster(qtbot, window)  # a new run under the new display stretch
    np.testing.assert_array_equal(window.project.features, before)
    config = window.project.config()
    fresh = extract_features(list(window.project.paths), load_model(config.model, use_gpu=False), config.prep,
                             cache=None, batch_size=4, workers=1)  # computed again, no cache
    np.testing.assert_allclose(fresh.features, before, rtol=1e-5, atol=1e-5)
    assert window.project.run.params["input_stretch"]["name"] == "asinh"
