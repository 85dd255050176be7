"""galaxy_trio (issue 24): galaxy_duo with galaxy_cnn6 (self-supervised) on galaxy_cnn2's crops, one ONNX file.

The third network reads the views the second already reads, so the input is
galaxy_duo's (12 channels) and preparing an image costs what it did; its first
128 features are galaxy_duo's, exactly.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import export_galaxy_duo as duo  # noqa: E402

from core.features.extract import FEATURE_MODELS, FeatureModel, extract_features, file_sha256, load_model  # noqa: E402
from core.images.preprocess import ModelView, Preprocessing  # noqa: E402

TRIO = duo.parts_with("galaxy_cnn2", "galaxy_cnn6")


def test_a_third_part_on_the_same_views_shares_their_input_channels():
    assert duo.view_slots(duo.PARTS) == [(0, False), (3, False)]
    assert duo.view_slots(TRIO) == [(0, False), (3, False), (3, True)]
    assert duo.input_channels(duo.PARTS) == duo.input_channels(TRIO) == 12
    assert duo.parts_with("galaxy_cnn2") == duo.PARTS


def test_the_committed_trio_is_the_duo_plus_galaxy_cnn6_standardised(sample_folder):
    import onnx

    path = ROOT / "models" / FEATURE_MODELS.get("galaxy_trio").options.file
    assert path.stat().st_size < 20 * 2**20
    assert duo.check(path, parts_spec=TRIO) < 1e-5  # each part on its views, averaged, standardised
    model = load_model("galaxy_trio", use_gpu=False)
    assert (model.input_size, model.channels, model.feature_dim) == (64, 12, 192)
    pair = load_model("galaxy_duo", use_gpu=False)
    assert model.views == pair.views
    images = sorted(p for p in Path(sample_folder).iterdir() if p.suffix == ".png")[:6]
    got = extract_features(images, model).features
    np.testing.assert_allclose(got[:, :128], extract_features(images, pair).features, atol=1e-5)
    consts = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    third = []
    for view in TRIO[2][1]:
        part = FeatureModel("galaxy_cnn6", use_gpu=False, path=ROOT / "models" / "galaxy_cnn6.onnx")
        part.views = (ModelView(**view),)
        third.append(extract_features(images, part, Preprocessing()).features)
    want = (np.mean(third, axis=0) - consts["galaxy_cnn6/train_mean"]) / consts["galaxy_cnn6/train_std"]
    np.testing.assert_allclose(got[:, 128:], want, atol=2e-4)


def test_the_trio_and_its_third_part_record_how_they_were_made_and_the_docs_give_the_commands():
    docs = (ROOT / "docs" / "models.md").read_text()
    trio = load_model("galaxy_trio", use_gpu=False).session.get_modelmeta().custom_metadata_map["galaxy_sorter.source"]
    command = re.search(r"models/export_galaxy_duo.py --images \d+ --seed \d+ --third galaxy_cnn6", trio).group(0)
    assert command in docs and "train split" in trio
    for name, _ in TRIO:
        assert f"{name}.onnx (sha256 {file_sha256(ROOT / 'models' / f'{name}.onnx')[:12]})" in trio
    cnn6 = FeatureModel("galaxy_cnn6", use_gpu=False, path=ROOT / "models" / "galaxy_cnn6.onnx")
    source = cnn6.session.get_modelmeta().custom_metadata_map["galaxy_sorter.source"]
    assert "models/pretrain_galaxy_ssl.py --steps 1500 --seed 0" in source and "--label-weight 1.0" in source
    assert f"galaxy_cnn2.onnx (sha256 {file_sha256(ROOT / 'models' / 'galaxy_cnn2.onnx')[:12]})" in source
    assert "pretrain_galaxy_ssl.py --steps 1500 --lr 0.001 --seed 0" in docs
