"""Morphology parameters on synthetic galaxies whose answers are known."""

from __future__ import annotations

import cv2
import numpy as np

from core.features.morphology import NAMES, morphology_of_image, morphology_table
from core.images.preprocess import Preprocessing

NONE = Preprocessing(crop="none")


def _galaxy(size=128, axis_ratio=1.0, scale=6.0, sersic=1.0, clump=0.0, colour=(1.0, 1.0, 1.0), seed=0):
    """An RGB Sersic-like profile on a noisy sky; optional off-centre clump."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    r = np.sqrt(xx ** 2 + (yy / axis_ratio) ** 2)
    lum = 200 * np.exp(-((r / scale) ** (1 / sersic)))
    if clump:
        lum += clump * 200 * np.exp(-((xx - 12) ** 2 + (yy - 5) ** 2) / 8.0)
    img = np.stack([lum * c for c in colour], axis=2) + 10 + rng.normal(0, 1.5, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _params(img):
    return dict(zip(NAMES, morphology_of_image(img, NONE)))


def test_round_symmetric_galaxy():
    p = _params(_galaxy())
    assert p["ellipticity"] < 0.1
    assert p["asymmetry"] < 0.1
    assert 0 < p["gini"] < 1


def test_elongated_galaxy_has_its_axis_ratio():
    p = _params(_galaxy(axis_ratio=0.5))
    assert 0.35 < p["ellipticity"] < 0.65


def test_steeper_profile_scores_higher_concentration():
    exponential = _params(_galaxy(sersic=1.0, scale=8))
    steeper = _params(_galaxy(sersic=2.0, scale=1.0))
    assert steeper["concentration"] > exponential["concentration"] + 0.2


def test_evenly_spread_light_has_low_gini():
    yy, xx = np.mgrid[0:96, 0:96] - 47.5
    flat = np.where(xx ** 2 + yy ** 2 < 20 ** 2, 150, 10).astype(np.uint8)
    flat = np.repeat(flat[..., None], 3, axis=2)
    assert _params(flat)["gini"] < 0.15  # edge pixels of the smoothed segment add a little
    assert _params(_galaxy())["gini"] > 0.3


def test_off_centre_clump_raises_asymmetry_and_m20():
    smooth = _params(_galaxy())
    clumpy = _params(_galaxy(clump=1.5))
    assert clumpy["asymmetry"] > smooth["asymmetry"] + 0.05
    assert clumpy["m20"] > smooth["m20"]


def test_redder_galaxy_has_larger_colour():
    blue = _params(_galaxy(colour=(0.6, 0.8, 1.0)))
    red = _params(_galaxy(colour=(1.0, 0.8, 0.6)))
    assert red["colour"] > blue["colour"] + 0.5


def test_empty_sky_gives_nan():
    sky = np.full((64, 64, 3), 10, np.uint8)
    assert np.all(np.isnan(morphology_of_image(sky, NONE)))


def test_table_reads_files_and_skips_bad_ones(tmp_path):
    good = tmp_path / "g.png"
    cv2.imwrite(str(good), _galaxy())
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    res = morphology_table([good, bad], prep=NONE)
    assert res.paths == [good]
    assert res.values.shape == (1, len(NAMES))
    assert [s.path for s in res.skipped] == [str(bad)]
