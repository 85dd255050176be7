"""galaxy_duo (issue 24): galaxy_cnn and galaxy_cnn2 on the same image, composed into one ONNX file, registered and
selectable; a model of two views goes through the product's one input path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))

import export_galaxy_duo as duo  # noqa: E402

from core.features.extract import FEATURE_MODELS, FeatureModel, extract_features, file_sha256, load_model  # noqa: E402
from core.images.preprocess import (  # noqa: E402
    ModelView,
    Preprocessing,
    centre_crop,
    dihedral_variants,
    measured_crop,
    measured_crops,
    model_square,
    parse_views,
    resize_square,
)
from tests import helpers  # noqa: E402


def blob(sigma: float, size: int = 256, seed: int = 0) -> np.ndarray:
    """A Gaussian galaxy 1.6 times longer than wide (:func:`tests.helpers.blob`)."""
    return helpers.blob(sigma, size, seed, elongation=1.6)


def parts_standardised(path: Path, images: list[Path], prep: Preprocessing) -> np.ndarray:
    """What the duo must give: each part on each of its views (the part's own file and crop), averaged over its
    views, standardised by the constants in the duo's file."""
    import onnx

    consts = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    blocks = []
    for name, views in duo.PARTS:
        runs = []
        for view in views:
            part = FeatureModel(name, use_gpu=False)
            part.views = (ModelView(**view),)
            runs.append(extract_features(images, part, prep).features)
        blocks.append((np.mean(runs, axis=0) - consts[f"{name}/train_mean"]) / consts[f"{name}/train_std"])
    return np.hstack(blocks)


def test_views_are_stacked_as_channels_each_one_centred_and_cropped_its_way():
    img = blob(8.0, size=424)
    prep = Preprocessing()
    views = (ModelView("none", size=48), ModelView("measured", 4.0, 64), ModelView("measured", 6.5, 64))
    square = model_square(img, prep, views, 64)
    assert square.shape == (64, 64, 9) and square.dtype == np.uint8
    user = centre_crop(img, 0.5)
    np.testing.assert_array_equal(square[8:56, 8:56, :3], resize_square(user, 48))
    assert not square[:8, :, :3].any() and not square[:, 56:, :3].any()  # zero around the smaller view
    np.testing.assert_array_equal(square[:, :, 3:6], resize_square(measured_crop(user, 4.0, whole=img), 64))
    np.testing.assert_array_equal(square[:, :, 6:], resize_square(measured_crop(user, 6.5, whole=img), 64))
    assert measured_crop(user, 4.0).shape[0] < measured_crop(user, 6.5).shape[0]  # a wider framing, same galaxy
    big = blob(40.0, size=424)  # one that fills the user's crop: each scale grows past it as measured_crop does
    crops = measured_crops(centre_crop(big, 0.5), (4.0, 6.5), whole=big)
    for crop, scale in zip(crops, (4.0, 6.5)):
        np.testing.assert_array_equal(crop, measured_crop(centre_crop(big, 0.5), scale, whole=big))
    for variant in dihedral_variants(square):  # rotations keep the small view where the graph slices it
        assert not variant[:8, :, :3].any() and variant[8:56, 8:56, :3].any()
    # One view is the plain square, as before views existed.
    np.testing.assert_array_equal(model_square(img, prep, (ModelView("none", size=48),), 48), resize_square(user, 48))
    assert parse_views(None) is None
    assert parse_views('[{"crop": "measured", "crop_scale": 5.0, "size": 64}]') == (ModelView("measured", 5.0, 64),)
    with pytest.raises(ValueError):
        ModelView("auto")


def test_the_committed_duo_is_registered_small_documented_and_gives_both_parts_standardised(sample_folder):
    assert "galaxy_duo" in FEATURE_MODELS.names()
    path = ROOT / "models" / FEATURE_MODELS.get("galaxy_duo").options.file
    assert path.stat().st_size < 20 * 2**20
    model = load_model("galaxy_duo", use_gpu=False)
    assert (model.input_size, model.channels, model.feature_dim) == (64, 12, 128)
    assert [(v.crop, v.crop_scale if v.crop == "measured" else None, v.size) for v in model.views] == [
        ("none", None, 48), ("measured", 4.0, 64), ("measured", 5.0, 64), ("measured", 6.5, 64)]
    meta = model.session.get_modelmeta().custom_metadata_map
    source = meta["galaxy_sorter.source"]
    assert "models/export_galaxy_duo.py --images" in source and "train split" in source
    for name, _ in duo.PARTS:  # the parts it was composed from are the committed ones
        assert f"{name}.onnx (sha256 {file_sha256(ROOT / 'models' / f'{name}.onnx')[:12]})" in source
    import re

    command = re.search(r"models/export_galaxy_duo.py --images \d+ --seed \d+", source).group(0)
    assert command in (ROOT / "docs" / "models.md").read_text()  # the docs give the command that made it
    images = sorted(p for p in Path(sample_folder).iterdir() if p.suffix == ".png")[:6]
    for prep in (Preprocessing(), Preprocessing(crop="auto", rotations=True)):
        got = extract_features(images, model, prep).features
        assert got.shape == (6, 128)
        np.testing.assert_allclose(got, parts_standardised(path, images, prep), atol=2e-4)


def test_the_exporter_composes_the_committed_parts_from_training_split_images_only(tmp_path, monkeypatch):
    import cv2

    data = tmp_path / "kaggle"
    (data / "images").mkdir(parents=True)
    rows = ["GalaxyID,morphology,top_answer"]
    ids = [str(400000 + i) for i in range(40)]
    for n, gid in enumerate(ids):
        cv2.imwrite(str(data / "images" / f"{gid}.jpg"), blob(6.0 + n, size=120, seed=n))
        rows.append(f"{gid},elliptical,x")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    seen: list[str] = []
    real = duo.part_stats
    monkeypatch.setattr(duo, "part_stats",
                        lambda paths, raw, *spec: seen.extend(p.stem for p in paths) or real(paths, raw, *spec))
    out = tmp_path / "duo.onnx"
    assert duo.main(["--data", str(data), "--images", "8", "--out", str(out)]) == 0
    assert len(seen) == 8 and all(duo.v1.split_of(s) == "train" for s in seen)  # never the test split
    assert duo.check(out) < 1e-5
    model = FeatureModel("galaxy_duo", use_gpu=False, path=out)
    assert (model.channels, model.feature_dim) == (12, 128)
    images = sorted((data / "images").glob("*.jpg"))[:4]
    np.testing.assert_allclose(extract_features(images, model).features,
                               parts_standardised(out, images, Preprocessing()), atol=2e-4)


def test_the_cli_without_model_uses_galaxy_duo(sample_folder, tmp_path, capsys):
    """The default since issue 24: a user who names no model gets the duo, recorded in the sidecar."""
    from core.cli import main
    from core.features.extract import DEFAULT_MODEL

    assert DEFAULT_MODEL == FEATURE_MODELS.default == "galaxy_duo"
    folder = Path(shutil.copytree(sample_folder, tmp_path / "imgs"))
    out = tmp_path / "clusters.csv"
    assert main(["cluster", str(folder), "--method", "kmeans", "--clusters", "3", "--out", str(out), "--quiet",
                 "--cpu"]) == 0, capsys.readouterr()
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["model"]["name"] == "galaxy_duo"


def test_pooled_appends_each_parts_pooled_layer_after_the_duos_own_features(tmp_path):
    """``export_galaxy_duo.py --pooled`` (the galaxy_duo_pools candidate of docs/models.md): the first 128 features
    are the duo's unchanged, then galaxy_cnn's and galaxy_cnn2's pooled penultimate layers (the input of each
    embedding), view-averaged; ``check`` reads them from each part's own file."""
    import onnxruntime as ort

    plain, pooled = tmp_path / "duo.onnx", tmp_path / "pools.onnx"
    duo.compose(None, {}, plain)
    duo.compose(None, {}, pooled, pooled=True)
    assert duo.part_dims(pooled=True) == [64, 64, 128, 128]
    x = np.random.default_rng(0).random((3, 12, 64, 64), dtype=np.float32)
    a = ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    b = ort.InferenceSession(str(pooled), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert a.shape == (3, 128) and b.shape == (3, 384)
    np.testing.assert_array_equal(b[:, :128], a)
    assert (b[:, 128:] >= 0).all() and b[:, 128:].std() > 0  # means of ReLU maps, unstandardised here
    assert duo.check(pooled, pooled=True) < 1e-5
    assert duo.check(plain) < 1e-5


def test_pooled_refuses_a_part_without_an_embedding_layer():
    """A network with no Gemm has no pooled input to take: a clear error, not a StopIteration from deep inside."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "no_embedding",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(ValueError, match="no Gemm node"):
        duo.pooled_input(graph)
