"""models/pretrain_galaxy_ssl.py: SimCLR pretraining of galaxy_cnn's network (issue 24's self-supervised route)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import pretrain_galaxy_ssl as ssl  # noqa: E402

from core.features.extract import FeatureModel, extract_features, file_sha256  # noqa: E402
from tests.helpers import blob, fake_kaggle  # noqa: E402


def test_the_loss_pairs_each_view_with_its_partner_and_nothing_else():
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.randn(6, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    paired = torch.cat([z, z])  # each galaxy's two views identical: every nearest neighbour is the partner
    loss, acc = ssl.nt_xent(paired.clone(), 0.1)
    assert float(acc) == 1.0
    swapped = torch.cat([z, z.roll(1, dims=0)])  # partners now another galaxy's view
    worse, acc_swapped = ssl.nt_xent(swapped.clone(), 0.1)
    assert float(acc_swapped) == 0.0 and float(worse) > float(loss) + 1.0


def test_pretraining_reads_the_train_split_and_the_unlabelled_images_never_the_test_split(tmp_path):
    import cv2

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), ssl.v1.split_of, ssl.v1.CLASSES, n=5)
    test_id = next(str(400000 + i) for i in range(200) if ssl.v1.split_of(str(400000 + i)) == "test")
    cv2.imwrite(str(data / "images" / f"{test_id}.jpg"), blob(12.0, size=120))
    with open(data / "labels.csv", "a") as f:
        f.write(f"{test_id},spiral,x\n")
    (data / "unlabelled").mkdir()
    for i in range(3):
        cv2.imwrite(str(data / "unlabelled" / f"9{i}.jpg"), blob(8.0 + i, size=120, seed=50 + i))
    paths = ssl.image_paths(data)
    assert len(paths) == 8 and data / "images" / f"{test_id}.jpg" not in paths
    assert [p.parent.name for p in paths] == ["images"] * 5 + ["unlabelled"] * 3


def test_a_pretrained_file_extracts_and_warm_starts_the_label_training(tmp_path, capsys):
    """The SSL file is galaxy_cnn2's kind (64 px, measured crop), and train_galaxy_net2 --init takes it."""
    import cv2
    import train_galaxy_net2 as tgn2

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), ssl.v1.split_of, ssl.v1.CLASSES)
    (data / "unlabelled").mkdir()
    cv2.imwrite(str(data / "unlabelled" / "77.jpg"), blob(9.0, size=120, seed=77))
    out = tmp_path / "galaxy_ssl.onnx"
    bank = tmp_path / "bank.npy"
    assert ssl.main(["--data", str(data), "--out", str(out), "--steps", "3", "--batch-size", "4", "--bank", str(bank)]) == 0
    assert "9 of the train split, 1 unlabelled" in capsys.readouterr().out
    assert np.load(bank).shape == (10, tgn2.VIEWS, tgn2.STORE_SIZE, tgn2.STORE_SIZE, 3)
    meta = FeatureModel("galaxy_ssl", use_gpu=False, path=out).session.get_modelmeta().custom_metadata_map
    assert meta["galaxy_sorter.crop"] == "measured" and meta["galaxy_sorter.input_size"] == "64"
    assert "--steps 3 --seed 0 --batch-size 4" in meta["galaxy_sorter.source"]
    assert "(SimCLR, no labels) on 9 Galaxy Zoo Kaggle train-split images and 1 unlabelled" in meta["galaxy_sorter.source"]
    images = sorted((data / "images").glob("*.jpg"))[:3]
    res = extract_features(images, FeatureModel("galaxy_ssl", use_gpu=False, path=out))
    assert res.features.shape == (3, 64) and np.all(np.isfinite(res.features))
    assert np.ptp(res.features, axis=0).max() > 0  # the galaxies differ in the features

    again = tmp_path / "again.onnx"  # the same seed and bank: the same weights
    assert ssl.main(["--data", str(data), "--out", str(again), "--steps", "3", "--batch-size", "4", "--bank", str(bank)]) == 0
    np.testing.assert_allclose(extract_features(images, FeatureModel("a", use_gpu=False, path=again)).features,
                               res.features, atol=1e-5)

    labelled = tmp_path / "galaxy_cnn5.onnx"
    assert tgn2.main(["--data", str(data), "--out", str(labelled), "--steps", "2", "--batch-size", "4",
                      "--init", str(out), "--grey-fraction", "0.5", "--grey-as-band", "--whole-crop"]) == 0
    source = FeatureModel("galaxy_cnn5", use_gpu=False, path=labelled).session.get_modelmeta().custom_metadata_map[
        "galaxy_sorter.source"]
    assert f"warm-started from galaxy_ssl.onnx (sha256 {file_sha256(out)[:12]})" in source


def test_the_joint_mode_adds_the_labels_to_a_warm_start_and_records_both(tmp_path):
    """--label-weight with --init (galaxy_cnn6): SimCLR and the labelled galaxies' cross-entropy, from galaxy_cnn2."""
    import torch

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), ssl.v1.split_of, ssl.v1.CLASSES)
    init = ROOT / "models" / "galaxy_cnn2.onnx"
    out = tmp_path / "galaxy_cnn6.onnx"
    assert ssl.main(["--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "4",
                     "--label-weight", "1.0", "--init", str(init)]) == 0
    meta = FeatureModel("galaxy_cnn6", use_gpu=False, path=out).session.get_modelmeta().custom_metadata_map
    assert (f"--label-weight 1.0 (SimCLR and the train split's labels), warm-started from galaxy_cnn2.onnx "
            f"(sha256 {file_sha256(init)[:12]})") in meta["galaxy_sorter.source"]
    assert "trained on labels" in meta["galaxy_sorter.weights"]

    # The labelled term reaches the convolutions: the same draws with a weight give other weights than without.
    bank = ssl.v2.build_bank(sorted((data / "images").glob("*.jpg")), 0, views=2, whole=True)
    labels = np.array([0, 1, 2, 0, 1, 2, -1, -1, 0])
    plain = ssl.pretrain(bank, steps=2, batch_size=4, labels=labels, label_weight=0.0)
    joint = ssl.pretrain(bank, steps=2, batch_size=4, labels=labels, label_weight=1.0)
    first = [p for n, p in plain.named_parameters() if n.startswith("body")][0]
    assert not torch.equal(first, [p for n, p in joint.named_parameters() if n.startswith("body")][0])


def test_a_warm_start_of_another_width_is_refused_before_the_views_are_made(tmp_path, capsys):
    import pytest

    data = fake_kaggle(tmp_path, lambda n: blob(10.0 + 3 * n, size=120, seed=n), ssl.v1.split_of, ssl.v1.CLASSES)
    wide = tmp_path / "wide.onnx"
    ssl.v1.export(ssl.v1.build_net(width=2).eval(), wide, {}, name="wide", input_size=64)
    bank = tmp_path / "bank.npy"
    with pytest.raises(SystemExit):
        ssl.main(["--data", str(data), "--out", str(tmp_path / "x.onnx"), "--steps", "1", "--init", str(wide),
                  "--label-weight", "1.0", "--bank", str(bank)])
    assert "wide.onnx holds a network of width 2; this script trains width 1" in capsys.readouterr().err
    assert not bank.exists()  # refused before the views
