"""Features, crops and morphology are what they were with OpenCV (issue 22).

The feature models were trained on OpenCV's decoding and resizing; core now
decodes with Pillow and resizes with :mod:`core.images.ops`.  These tests run the
same images through both paths (the old one is :func:`tests.opencv_reference.opencv_path`)
and compare: the model inputs byte for byte, the features of ``galaxy_duo``,
``galaxy_cnn``, ``efficientnet_lite0`` and ``xception`` (relative L2 per image,
goal < 1e-4), the automatic crop, and the morphology parameters.
Measured when written: every input square identical, so every feature row
identical (0.0), crop fractions identical, morphology within 1.3e-9 relative
(the asymmetry's rotation, float32 rounding), on the 90 sample images and 200
Kaggle and GC1 images.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from core.features.extract import extract_features, load_model
from core.features.morphology import morphology_of_image
from core.images.io import read_image
from core.images.preprocess import Preprocessing, central_object_fraction
from tests.opencv_reference import opencv_path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "sample"
DATA = ROOT.parent / "shared" / "data"
MODELS = ("galaxy_duo", "galaxy_cnn", "efficientnet_lite0", "xception")
#: Most relative L2 distance a feature row may move (the issue's goal; its bound was 1e-3).
FEATURE_GOAL = 1e-4
#: Most relative change of a morphology parameter (float32 rounding in the asymmetry's rotation).
MORPHOLOGY_TOLERANCE = 1e-6


@pytest.fixture(scope="module", autouse=True)
def _cv2():
    pytest.importorskip("cv2", reason="opencv-python-headless (the dev extra) is the reference here")


def _sample() -> list[Path]:
    return sorted(SAMPLE.glob("*.png"))


def _real(n: int = 200) -> list[Path]:
    kaggle = sorted((DATA / "galaxy-zoo-kaggle" / "images").glob("*.jpg"))
    gc1 = sorted(p for p in (DATA / "galaxy-cruise-gc1").rglob("*") if p.suffix in (".jpg", ".png"))
    if not kaggle or not gc1:
        pytest.skip(f"real galaxy images not found under {DATA} (../shared/data beside the checkout)")
    random.Random(0).shuffle(kaggle)
    random.Random(0).shuffle(gc1)
    return kaggle[: n // 2] + gc1[: n // 2]


def _relative_l2(new: np.ndarray, old: np.ndarray) -> float:
    return float((np.linalg.norm(new - old, axis=1) / np.maximum(np.linalg.norm(old, axis=1), 1e-12)).max())


def _inputs_and_crops_agree(paths: list[Path]) -> None:
    models = {name: load_model(name, use_gpu=False) for name in MODELS}
    for p in paths:
        image = read_image(p)
        with opencv_path():
            assert np.array_equal(read_image(p), image), p.name
        for prep in (Preprocessing(), Preprocessing("auto"), Preprocessing("none")):
            for name, model in models.items():
                new = model.prepare(image, prep)
                with opencv_path():
                    old = model.prepare(image, prep)
                assert all(np.array_equal(a, b) for a, b in zip(new, old)), (p.name, name, prep.crop)
        new_fraction = central_object_fraction(image)
        with opencv_path():
            assert central_object_fraction(image) == new_fraction, p.name


def _morphology_agrees(paths: list[Path]) -> float:
    worst = 0.0
    for p in paths:
        image = read_image(p)
        new = morphology_of_image(image)
        with opencv_path():
            old = morphology_of_image(image)
        assert np.array_equal(np.isnan(new), np.isnan(old)), p.name
        ok = ~np.isnan(old)
        worst = max(worst, float((np.abs(new[ok] - old[ok]) / np.maximum(np.abs(old[ok]), 1e-12)).max(initial=0.0)))
    assert worst < MORPHOLOGY_TOLERANCE
    return worst


def _features_agree(paths: list[Path]) -> dict[str, float]:
    out = {}
    for name in MODELS:
        model = load_model(name, use_gpu=False)
        new = extract_features(paths, model, workers=2)
        with opencv_path():
            old = extract_features(paths, model, workers=2)
        assert new.paths == old.paths and len(new.paths) == len(paths)
        out[name] = _relative_l2(new.features, old.features)
        assert out[name] < FEATURE_GOAL, (name, out[name])
    return out


def test_sample_model_inputs_crops_and_morphology_are_unchanged():
    _inputs_and_crops_agree(_sample())
    _morphology_agrees(_sample())


@pytest.mark.slow
def test_sample_features_of_the_four_models_are_unchanged():
    distances = _features_agree(_sample())
    print("max relative L2, sample:", distances)


@pytest.mark.slow
def test_real_images_inputs_crops_morphology_and_features_are_unchanged():
    paths = _real()
    _inputs_and_crops_agree(paths)
    worst = _morphology_agrees(paths)
    distances = _features_agree(paths)
    print(f"max relative L2, {len(paths)} Kaggle and GC1 images:", distances, "morphology:", worst)
