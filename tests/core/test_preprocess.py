"""Crops (fixed and fitted to the central object), rotations and normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from core.images.preprocess import (
    Preprocessing,
    central_object_fraction,
    centre_crop,
    crop_image,
    dihedral_variants,
    to_model_input,
)


def _disk(size: int, radius: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(x - (size - 1) / 2, y - (size - 1) / 2)
    rng = np.random.default_rng(0)
    img = np.where(r < radius, 200.0, 10.0) + rng.normal(0, 2, (size, size))
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_centre_crop_takes_the_middle():
    img = np.arange(100 * 80 * 3, dtype=np.uint32).reshape(100, 80, 3)
    out = centre_crop(img, 0.5)
    assert out.shape == (40, 40, 3)
    assert out[0, 0, 0] == img[30, 20, 0]


@pytest.mark.parametrize("radius", [10, 25, 45])
def test_auto_crop_follows_the_object_size(radius):
    size = 128
    frac = central_object_fraction(_disk(size, radius))
    assert frac is not None
    # margin 1.3 around the object's reach; the smoothing and the 3-sigma isophote of a
    # sharp-edged disk add a few pixels to the reach, never less than the disk itself
    assert 2 * 1.3 * radius / size <= frac <= min(1.0, 2 * 1.3 * (radius + 6) / size)


def test_auto_crop_falls_back_on_empty_sky():
    rng = np.random.default_rng(0)
    sky = np.clip(rng.normal(20, 0.5, (64, 64, 3)), 0, 255).astype(np.uint8)
    out = crop_image(sky, Preprocessing("auto", 0.5))
    assert out.shape[0] in (31, 32, 33)


def test_dihedral_variants_are_the_eight_symmetries():
    img = np.arange(9).reshape(3, 3)
    variants = dihedral_variants(img)
    assert len(variants) == 8
    assert len({v.tobytes() for v in variants}) == 8


def test_normalisation_and_layout():
    img = np.full((4, 4, 3), 255, np.uint8)
    img[..., 1] = 0
    batch = to_model_input([img], 1 / 127.5, -1.0)
    assert batch.shape == (1, 3, 4, 4) and batch.dtype == np.float32
    assert batch[0, 0, 0, 0] == pytest.approx(1.0) and batch[0, 1, 0, 0] == pytest.approx(-1.0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Preprocessing("diagonal")
    with pytest.raises(ValueError):
        Preprocessing("fixed", 0.0)
