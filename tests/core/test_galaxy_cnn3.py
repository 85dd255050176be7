"""The training options that made galaxy_cnn3, issue 24's retrained candidate (measured, not kept: docs/models.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import train_galaxy_net2 as tgn2  # noqa: E402

from core.features.extract import extract_features, file_sha256  # noqa: E402
from core.images.preprocess import centre_crop, measured_crop  # noqa: E402
from tests.helpers import blob, fake_kaggle  # noqa: E402


def two_sample_images(sample_folder: Path) -> list[Path]:
    return sorted(p for p in Path(sample_folder).iterdir() if p.suffix == ".png")[:2]


def test_whole_crop_views_grow_past_the_users_crop_as_extraction_does():
    """--whole-crop: a galaxy that fills the user's crop is framed by measured_crop(user, whole=frame)."""
    big = blob(40.0, size=424)
    user = centre_crop(big, 0.5)
    assert measured_crop(user, tgn2.CROP_SCALE, whole=big).shape[0] > user.shape[0]  # extraction grows the crop

    def fill(view: np.ndarray) -> float:
        grey = view.astype(float).mean(axis=2)
        return float((grey > grey.min() + 0.5 * (grey.max() - grey.min())).mean())

    # The same draws (seed) with and without: only the framing differs, and the grown one shows the galaxy smaller.
    stop, grow = [], []
    for seed in range(8):
        stop.append(fill(tgn2.make_view(big, np.random.default_rng(seed))))
        grow.append(fill(tgn2.make_view(big, np.random.default_rng(seed), whole=True)))
    assert all(g <= 1.1 * s for g, s in zip(grow, stop)), (stop, grow)  # never a (much) tighter framing
    assert sum(g < 0.8 * s for g, s in zip(grow, stop)) >= 2, (stop, grow)  # unshrunk ones: a wider framing
    small = blob(6.0, size=424)  # a small galaxy: the user's crop is never reached, the views are the same
    np.testing.assert_array_equal(tgn2.make_view(small, np.random.default_rng(3)),
                                  tgn2.make_view(small, np.random.default_rng(3), whole=True))


def test_grey_as_band_views_are_exactly_grey_at_the_asked_share():
    import torch

    rng = np.random.default_rng(0)
    bank = torch.from_numpy(rng.integers(0, 255, (400, tgn2.STORE_SIZE, tgn2.STORE_SIZE, 3), dtype=np.uint8))
    a = tgn2.augment(bank, torch.Generator().manual_seed(1), grey_fraction=0.5, grey_as_band=True)
    b = tgn2.augment(bank, torch.Generator().manual_seed(1), grey_fraction=0.5, grey_as_band=True)
    assert torch.equal(a, b) and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    grey = [bool(torch.equal(v[0], v[1]) and torch.equal(v[1], v[2])) for v in a]
    assert 160 <= sum(grey) <= 240, sum(grey)  # half of 400, exactly grey as benchmarks.robustness.band gives
    none = tgn2.augment(bank, torch.Generator().manual_seed(1), grey_fraction=0.0, grey_as_band=True)
    assert not any(bool(torch.equal(v[0], v[1])) for v in none)


def test_the_training_options_run_warm_started_from_galaxy_cnn2_and_are_recorded(tmp_path):
    from core.features.extract import FeatureModel

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), tgn2.v1.split_of, tgn2.v1.CLASSES)
    out = tmp_path / "galaxy_cnn3.onnx"
    assert tgn2.main(["--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "4",
                      "--init", str(ROOT / "models" / "galaxy_cnn2.onnx"), "--grey-fraction", "0.5",
                      "--grey-as-band", "--whole-crop"]) == 0
    model = FeatureModel("galaxy_cnn3", use_gpu=False, path=out)
    meta = model.session.get_modelmeta().custom_metadata_map
    assert meta["galaxy_sorter.name"] == "galaxy_cnn3" and "CNN galaxy_cnn3" in meta["galaxy_sorter.weights"]
    source = meta["galaxy_sorter.source"]
    assert "--grey-fraction 0.5 --grey-as-band --whole-crop" in source
    assert f"warm-started from galaxy_cnn2.onnx (sha256 {file_sha256(ROOT / 'models' / 'galaxy_cnn2.onnx')[:12]})" in source
    res = extract_features(sorted((data / "images").glob("*.jpg"))[:2], model)
    assert res.features.shape == (2, 64) and np.all(np.isfinite(res.features))



def test_a_wider_network_trains_in_both_stages_and_its_width_is_recorded(tmp_path, capsys):
    """--width (issue 24's wider candidates): every convolution twice as wide, 64 features out.

    From scratch in the second stage (galaxy_cnn4), or as galaxy_cnn2 was made: the first
    stage's script at that width, then the second warm-started from it (galaxy_cnn2w).
    """
    import onnx
    import pytest
    from onnx import numpy_helper

    from core.features.extract import FeatureModel

    def widths(path: Path) -> list[int]:
        proto = onnx.load(str(path))
        return [numpy_helper.to_array(i).shape[0] for i in proto.graph.initializer if len(i.dims) == 4]

    def source(path: Path) -> str:
        return FeatureModel(path.stem, use_gpu=False, path=path).session.get_modelmeta().custom_metadata_map[
            "galaxy_sorter.source"]

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), tgn2.v1.split_of, tgn2.v1.CLASSES)
    common = ["--data", str(data), "--steps", "2", "--batch-size", "4"]
    with pytest.raises(SystemExit):  # galaxy_cnn's weights do not fit a wider network
        tgn2.main([*common, "--out", str(tmp_path / "x.onnx"), "--width", "2"])
    assert "holds a network of width 1; give --init none" in capsys.readouterr().err
    scratch = tmp_path / "galaxy_cnn4.onnx"
    assert tgn2.main([*common, "--out", str(scratch), "--init", "none", "--width", "2", "--grey-fraction", "0.5",
                      "--grey-as-band"]) == 0
    assert widths(scratch) == [32, 64, 96, 96, 192, 192, 256]  # galaxy_cnn's 16-32-48-48-96-96-128, twice
    assert "--grey-fraction 0.5 --grey-as-band --width 2.0, from scratch" in source(scratch)
    res = extract_features(sorted((data / "images").glob("*.jpg"))[:2], FeatureModel("g4", use_gpu=False, path=scratch))
    assert res.features.shape == (2, 64) and np.all(np.isfinite(res.features))

    first = tmp_path / "galaxy_cnn_w2.onnx"
    assert tgn2.v1.main([*common, "--out", str(first), "--width", "2"]) == 0
    assert widths(first) == widths(scratch) and "--width 2.0 on " in source(first)
    second = tmp_path / "galaxy_cnn2w.onnx"
    assert tgn2.main([*common, "--out", str(second), "--init", str(first), "--width", "2"]) == 0
    assert widths(second) == widths(scratch)
    assert f"--width 2.0, warm-started from galaxy_cnn_w2.onnx (sha256 {file_sha256(first)[:12]})" in source(second)
    with pytest.raises(SystemExit):
        tgn2.main([*common, "--out", str(tmp_path / "y.onnx"), "--init", str(first)])
    assert "holds a network of width 2" in capsys.readouterr().err
