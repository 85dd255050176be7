"""The galaxy CNN's training script runs end to end (2 steps on synthetic images) and exports a usable model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import train_galaxy_net as tgn  # noqa: E402


def test_split_is_fixed_and_about_80_20():
    ids = [str(100000 + i) for i in range(2000)]
    first = [tgn.split_of(i) for i in ids]
    assert first == [tgn.split_of(i) for i in ids]
    assert 0.77 < first.count("train") / len(ids) < 0.83
    assert set(first) == {"train", "test"}


def test_augment_shapes_and_range():
    import torch

    batch = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (6, tgn.STORE_SIZE, tgn.STORE_SIZE, 3),
                                                               dtype=np.uint8))
    a = tgn.augment(batch, torch.Generator().manual_seed(0))
    b = tgn.augment(batch, torch.Generator().manual_seed(0))
    assert a.shape == (6, 3, tgn.INPUT_SIZE, tgn.INPUT_SIZE)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(a, b)


def test_training_script_runs_and_exports(tmp_path):
    import cv2

    pytest.importorskip("onnx")
    from core.features.extract import FeatureModel, extract_features

    data = tmp_path / "kaggle"
    (data / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["GalaxyID,morphology,top_answer"]
    ids = [str(200000 + i) for i in range(40) if tgn.split_of(str(200000 + i)) == "train"][:12]
    for n, gid in enumerate(ids):
        cv2.imwrite(str(data / "images" / f"{gid}.jpg"), rng.integers(0, 255, (80, 80, 3), dtype=np.uint8))
        rows.append(f"{gid},{tgn.CLASSES[n % 3]},x")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "net.onnx"
    assert tgn.main(["--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "4"]) == 0
    model = FeatureModel("galaxy_cnn", use_gpu=False, path=out)
    assert model.input_size == tgn.INPUT_SIZE
    assert model.feature_dim == tgn.EMBED_DIM
    res = extract_features(sorted((data / "images").glob("*.jpg"))[:3], model)
    assert res.features.shape == (3, tgn.EMBED_DIM)
    assert np.all(np.isfinite(res.features))


def test_committed_model_is_registered():
    from core.features.extract import FEATURE_MODELS, FeatureModel

    assert "galaxy_cnn" in FEATURE_MODELS.names()  # the default's first part (galaxy_duo) since issue 24
    model = FeatureModel("galaxy_cnn", use_gpu=False, path=ROOT / "models" / "galaxy_cnn.onnx")
    assert (model.input_size, model.feature_dim) == (tgn.INPUT_SIZE, tgn.EMBED_DIM)
    meta = model.session.get_modelmeta().custom_metadata_map
    assert "train split" in meta["galaxy_sorter.source"]
    assert (ROOT / "models" / "galaxy_cnn.onnx").stat().st_size < 20 * 2**20
