"""galaxy_cnn2 (issue 24): the measured crop, its training script, and the model registered and selectable."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import train_galaxy_net2 as tgn2  # noqa: E402

from core.images.preprocess import centre_crop, measured_crop, measured_fraction, moment_radius  # noqa: E402
from tests import helpers  # noqa: E402
from tests.helpers import fake_kaggle  # noqa: E402


def blob(sigma: float, size: int = 256, seed: int = 0, colour: bool = True) -> np.ndarray:
    """A round grey Gaussian galaxy (:func:`tests.helpers.blob`, all three planes equal)."""
    return helpers.blob(sigma, size, seed, tint=(1.0, 1.0, 1.0), colour=colour)


def test_moment_radius_of_a_gaussian_is_its_rms_radius():
    # A 2-D Gaussian's flux-weighted RMS radius is sqrt(2) sigma (cut at 2 noise levels: a little less).
    for sigma in (6.0, 12.0, 24.0):
        r = moment_radius(blob(sigma)) * 256
        assert 0.8 * np.sqrt(2) * sigma < r < 1.05 * np.sqrt(2) * sigma, (sigma, r)
    assert moment_radius(blob(12.0, colour=False)) == pytest.approx(moment_radius(blob(12.0)), rel=0.02)


def test_the_measured_crop_follows_the_galaxy_size():
    big, small = measured_fraction(blob(24.0)), measured_fraction(blob(8.0))
    assert small / big == pytest.approx(1 / 3, rel=0.15)
    # So the galaxy fills its crop alike at both sizes (what the network was trained on).
    a, b = measured_crop(blob(24.0)), measured_crop(blob(8.0))
    assert b.shape[0] < a.shape[0] / 2.5
    flat = np.full((64, 64, 3), 40, np.uint8)
    assert moment_radius(flat) is None and measured_fraction(flat) == 1.0  # nothing there: the whole crop


def test_a_galaxy_that_fills_the_users_crop_grows_it_to_its_own_size():
    big = blob(40.0, size=424)  # 5 RMS radii ~ 280 px: more than the 0.5 crop's 212
    user = centre_crop(big, 0.5)
    assert measured_fraction(user) == 1.0
    assert measured_crop(user).shape == user.shape  # without the whole image: the user's crop
    grown = measured_crop(user, whole=big)
    assert 240 < grown.shape[0] < 330, grown.shape  # about 5 x sqrt(2) x 40 px
    small = blob(8.0, size=424)
    inner = centre_crop(small, 0.5)
    np.testing.assert_array_equal(measured_crop(inner, whole=small), measured_crop(inner))  # small ones: no change


def test_training_views_frame_a_shrunk_galaxy_like_the_full_one():
    """The view bank crops with the product's function: a galaxy at any size fills its view alike."""
    img = blob(30.0, size=424)
    rng = np.random.default_rng(0)
    fills = []
    for _ in range(6):
        view = tgn2.make_view(img, rng).astype(float).mean(axis=2)
        assert view.shape == (tgn2.STORE_SIZE, tgn2.STORE_SIZE)
        above = view > view.min() + 0.5 * (view.max() - view.min())
        fills.append(above.mean())
    assert max(fills) < 3 * min(fills), fills  # the shrink (1/1.2 - 1/7) does not reach the framing


def test_warm_start_reproduces_galaxy_cnn_in_eval_mode():
    import onnxruntime as ort
    import torch

    net = tgn2.v1.build_net()
    gen = torch.Generator().manual_seed(0)
    calib = torch.rand(16, 3, 48, 48, generator=gen)
    onnx_path = ROOT / "models" / "galaxy_cnn.onnx"
    tgn2.warm_start(net, onnx_path, calib)
    net.eval()
    x = torch.rand(4, 3, 48, 48, generator=gen)
    with torch.no_grad():
        got = net.features(x).numpy()
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)


def test_augment_is_seeded_and_one_band_inputs_occur():
    import torch

    bank = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (64, tgn2.STORE_SIZE, tgn2.STORE_SIZE, 3),
                                                              dtype=np.uint8))
    a = tgn2.augment(bank, torch.Generator().manual_seed(1))
    b = tgn2.augment(bank, torch.Generator().manual_seed(1))
    assert a.shape == (64, 3, tgn2.INPUT_SIZE, tgn2.INPUT_SIZE) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    grey = [bool(torch.allclose(v[0], v[1], atol=0.15) and torch.allclose(v[1], v[2], atol=0.15)) for v in a]
    assert 5 <= sum(grey) <= 40  # about 30 % single band (noise is added after)


def test_training_script_runs_and_exports_a_measured_crop_model(tmp_path):
    from core.features.extract import FeatureModel, extract_features

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), tgn2.v1.split_of, tgn2.v1.CLASSES)
    out, bank = tmp_path / "net.onnx", tmp_path / "bank.npy"
    args = ["--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "4", "--bank", str(bank)]
    assert tgn2.main(args) == 0
    assert np.load(bank).shape == (len(list((data / "images").iterdir())), tgn2.VIEWS, tgn2.STORE_SIZE, tgn2.STORE_SIZE, 3)
    assert tgn2.main(args) == 0  # the second run reads the cached views
    model = FeatureModel("galaxy_cnn2", use_gpu=False, path=out)
    assert (model.input_size, model.model_crop, model.crop_scale) == (tgn2.INPUT_SIZE, "measured", tgn2.CROP_SCALE)
    res = extract_features(sorted((data / "images").glob("*.jpg"))[:3], model)
    assert res.features.shape == (3, tgn2.v1.EMBED_DIM) and np.all(np.isfinite(res.features))


def test_the_model_crops_each_image_to_its_galaxy():
    """FeatureModel.prepare: the user's crop, then the measured one (galaxy_cnn2), not for galaxy_cnn."""
    from core.features.extract import load_model
    from core.images.preprocess import Preprocessing, resize_square

    v2, v1 = load_model("galaxy_cnn2", use_gpu=False), load_model("galaxy_cnn", use_gpu=False)
    assert v2.model_crop == "measured" and v1.model_crop == "none"
    small = blob(6.0, size=424)
    prep = Preprocessing()
    want = resize_square(measured_crop(centre_crop(small, 0.5), v2.crop_scale), v2.input_size)
    np.testing.assert_array_equal(v2.prepare(small, prep)[0], want)
    big = blob(40.0, size=424)
    want = resize_square(measured_crop(centre_crop(big, 0.5), v2.crop_scale, whole=big), v2.input_size)
    np.testing.assert_array_equal(v2.prepare(big, prep)[0], want)
    np.testing.assert_array_equal(v1.prepare(small, prep)[0], resize_square(centre_crop(small, 0.5), 48))


def test_committed_galaxy_cnn2_is_registered_small_and_documented():
    from core.features.extract import FEATURE_MODELS, load_model

    assert "galaxy_cnn2" in FEATURE_MODELS.names()
    path = ROOT / "models" / FEATURE_MODELS.get("galaxy_cnn2").options.file
    assert path.stat().st_size < 20 * 2**20
    model = load_model("galaxy_cnn2", use_gpu=False)
    assert (model.input_size, model.feature_dim) == (tgn2.INPUT_SIZE, tgn2.v1.EMBED_DIM)
    source = model.session.get_modelmeta().custom_metadata_map["galaxy_sorter.source"]
    assert "train_galaxy_net2.py --steps" in source and "train split" in source
    import re

    steps_seed = re.search(r"--steps \d+ --seed \d+", source).group(0)  # the docs give the command that made it
    assert f"models/train_galaxy_net2.py {steps_seed}" in (ROOT / "docs" / "models.md").read_text()
