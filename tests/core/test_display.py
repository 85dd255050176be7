"""Display stretches: the maths, the crop, and that the features never see them."""

from __future__ import annotations

import numpy as np
import pytest

from core.images.display import Stretch, apply_stretch, read_raw, render
from core.images.io import read_image
from core.images.preprocess import Preprocessing


def _fits_galaxy(path, shape=(64, 64), peak=1e5, bands=None):
    from astropy.io import fits

    y, x = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(x - shape[1] / 2, y - shape[0] / 2)
    rng = np.random.default_rng(0)
    img = peak * np.exp(-r / 3.0) + 10.0 * np.exp(-r / 20.0) + rng.normal(0, 0.5, shape)
    data = img if bands is None else np.stack([img * (i + 1) for i in range(bands)])
    fits.PrimaryHDU(data.astype(np.float32)).writeto(path)
    return path


def test_curves_map_limits_to_black_and_white_and_order_the_middle():
    ramp = np.linspace(0, 1000, 101, dtype=np.float32)[None, :]
    outs = {}
    for kind in ("linear", "sqrt", "log", "asinh"):
        rgb = apply_stretch(ramp, Stretch(kind, lower=0, upper=100))
        assert rgb.shape == (1, 101, 3) and rgb.dtype == np.uint8
        assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255
        assert np.all(np.diff(rgb[0, :, 0].astype(int)) >= 0)  # monotonic
        outs[kind] = int(rgb[0, 10, 0])  # value at 10 % of the range
    assert outs["linear"] == 26  # 0.1 * 255
    assert outs["sqrt"] == round(np.sqrt(0.1) * 255)
    assert outs["asinh"] == round(np.arcsinh(1.0) / np.arcsinh(10.0) * 255)
    # at 10 % of the range log lifts the faint end most (a = 1000), asinh (b = 0.1) least of the three
    assert outs["log"] > outs["sqrt"] > outs["asinh"] > outs["linear"]


def test_percentile_limits_clip_and_nans_are_black():
    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    data[0, 0] = np.nan
    rgb = apply_stretch(data, Stretch("linear", lower=10, upper=90))
    assert rgb[0, 0, 0] == 0
    assert rgb[1, 0, 0] == 0  # 10 is below the 10th percentile of 1..99
    assert rgb[9, 9, 0] == 255


def test_per_band_limits_equalise_bands_of_different_scale():
    rng = np.random.default_rng(1)
    base = rng.random((16, 16)).astype(np.float32)
    cube = np.stack([base, 10 * base, 100 * base], axis=2)
    shared = apply_stretch(cube, Stretch("linear", 0, 100))
    per = apply_stretch(cube, Stretch("linear", 0, 100, per_band=True))
    assert shared[..., 0].max() < 10 and shared[..., 2].max() == 255  # one scale: red is almost black
    np.testing.assert_array_equal(per[..., 0], per[..., 2])
    single = apply_stretch(cube, Stretch("linear", 0, 100, band=1))
    np.testing.assert_array_equal(single[..., 0], single[..., 2])  # one band: grey


def test_fits_core_is_not_saturated_under_log_with_full_range(tmp_path):
    path = _fits_galaxy(tmp_path / "g.fits")
    as_read = read_image(path)  # what the features get: a fixed asinh
    centre = (slice(28, 37), slice(28, 37))
    assert (as_read[centre][..., 0] == 255).sum() > 1  # the core saturates
    shown = render(path, Stretch("log", lower=0, upper=100))
    assert (shown[centre][..., 0] == 255).sum() == 1  # only the peak pixel is white
    assert read_raw(path).shape == (64, 64, 1)


def test_fits_cube_bands_and_crop(tmp_path):
    path = _fits_galaxy(tmp_path / "c.fits", bands=4)
    raw = read_raw(path)
    assert raw.shape == (64, 64, 4)
    crop = render(path, Stretch("asinh", band=3), Preprocessing("fixed", 0.5))
    assert crop.shape == (32, 32, 3)
    small = render(path, Stretch("sqrt"), size=16)
    assert small.shape == (16, 16, 3)


def test_stretch_never_reaches_the_features(tmp_path, sample_folder):
    """The display stretch is a view setting: the pipeline reads the same pixels whatever is shown."""
    path = next(sample_folder.rglob("*.png"), None) or next(sample_folder.rglob("*.jpg"))
    before = read_image(path).copy()
    render(path, Stretch("log", 5, 95, per_band=True))
    np.testing.assert_array_equal(read_image(path), before)
    np.testing.assert_array_equal(render(path, Stretch()), before)  # "as read" is exactly what the model reads


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        Stretch("linear", 50, 40)
    with pytest.raises(ValueError):
        Stretch("gamma")


@pytest.mark.parametrize("kind", ["linear", "asinh", "log"])
@pytest.mark.parametrize("crop", ["fixed", "none", "auto"])
def test_display_sized_render_matches_the_full_resolution_one(tmp_path, kind, crop):
    """A thumbnail stretched at display size looks like the full-resolution frame stretched and then shrunk."""
    import cv2
    from astropy.io import fits

    from core.images.display import Stretch, apply_stretch, read_raw, render
    from core.images.preprocess import Preprocessing, crop_image

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:600, :600]
    galaxy = 500.0 * np.exp(-(((xx - 300) / 40.0) ** 2 + ((yy - 300) / 25.0) ** 2))
    data = (galaxy + rng.gamma(2.0, 10.0, (600, 600))).astype(np.float32)
    path = tmp_path / "g.fits"
    fits.PrimaryHDU(data).writeto(path)
    stretch, prep = Stretch(kind, 0.5, 99.5), Preprocessing(crop)
    fast = render(path, stretch, prep, 96)
    if crop == "auto":  # found on the image the model reads, whatever the stretch
        from core.images.io import read_image
        from core.images.preprocess import central_object_fraction

        prep = Preprocessing("fixed", central_object_fraction(read_image(path)))
    full = crop_image(apply_stretch(read_raw(path), stretch), prep)
    slow = cv2.resize(full, fast.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert fast.shape == slow.shape and max(fast.shape[:2]) == 96
    # Compared at 24 px: resampling in another order draws the sky's noise differently pixel by pixel
    # (asinh and log lift it), which no one sees; the galaxy and the sky level must agree.
    a, b = (cv2.resize(x, (24, 24), interpolation=cv2.INTER_AREA).astype(int) for x in (fast, slow))
    # log (a = 1000) lifts the sky's noise most: the curve of averaged pixels is below the average of
    # the curve (concave), so the sky shows ~10 grey levels darker; linear and asinh within a few.
    assert np.abs(a - b).mean() < (12 if kind == "log" else 6)  # grey levels of 255
    assert np.corrcoef(a.mean(2).ravel(), b.mean(2).ravel())[0, 1] > 0.97
