"""The int8 feature models (models/export_int8.py): they load, run and agree with fp32.

The files are built by the set-up command; each test skips, saying so, when its
file is absent.  The sample images here (seed 1) are not the calibration images
(the exporter renders the sample with seed 0).  Speed is measured by
``benchmarks/int8.py``, never here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.features.extract import FEATURE_MODELS, FeatureModel
from core.images.io import read_image
from core.images.preprocess import Preprocessing

MODELS = Path(__file__).resolve().parents[2] / "models"
sys.path.insert(0, str(MODELS))
import export_int8  # noqa: E402

# Mean cosine similarity of int8 to fp32 features on the test sample, measured with the
# sample-calibrated files (onnxruntime 1.31): Xception 0.994 (min 0.990), Lite0 0.974 (min 0.944).
MIN_MEAN_COSINE = {"xception": 0.98, "efficientnet_lite0": 0.95}


def _pair(name: str) -> tuple[FeatureModel, FeatureModel]:
    fp32, int8 = MODELS / f"{name}.onnx", export_int8.out_path(name)
    for path in (fp32, int8):
        if not path.is_file():
            pytest.skip(f"{path} not built (bash scripts/dev.sh setup, or python models/export_int8.py)")
    return FeatureModel(name, use_gpu=False, path=fp32), FeatureModel(f"{name}_int8", use_gpu=False, path=int8)


@pytest.mark.slow
@pytest.mark.parametrize("name", export_int8.MODELS)
def test_int8_features_have_the_fp32_shape_and_direction(name, sample_folder):
    fp32, int8 = _pair(name)
    paths = sorted(sample_folder.glob("*.png"))
    squares = [fp32.prepare(read_image(p), Preprocessing())[0] for p in paths]
    a, b = fp32.run(squares), int8.run(squares)
    assert b.shape == a.shape == (len(paths), fp32.feature_dim) and b.dtype == np.float32
    assert np.isfinite(b).all()
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.mean() > MIN_MEAN_COSINE[name], f"int8/fp32 mean cosine {cos.mean():.4f}"
    # Agreement is not chance: an image's int8 features are nearer its own fp32 features than another's.
    assert (np.argmax(b @ a.T / np.linalg.norm(a, axis=1), axis=1) == np.arange(len(paths))).mean() > 0.9


@pytest.mark.parametrize("name", export_int8.MODELS)
def test_int8_file_keeps_the_metadata_and_gets_its_own_cache_key(name):
    fp32, int8 = _pair(name)
    assert (int8.input_size, int8.scale, int8.offset) == (fp32.input_size, fp32.scale, fp32.offset)
    meta = int8.session.get_modelmeta().custom_metadata_map
    assert meta["galaxy_sorter.name"] == f"{name}_int8"
    assert "QDQ" in meta["galaxy_sorter.quantisation"]
    prep = Preprocessing()
    assert int8.cache_key(prep) != fp32.cache_key(prep)


@pytest.mark.parametrize("name", export_int8.MODELS)
def test_the_convolutions_run_in_int8(name):
    import onnx

    _pair(name)
    path = export_int8.out_path(name)
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node)
    assert convs > 0 and export_int8.quantised_ops(path).get("Conv", 0) == convs


def test_registered_int8_entries_name_their_file_and_exporter():
    int8 = [e for e in FEATURE_MODELS if e.name.endswith("_int8")]
    assert int8, "no int8 feature model is registered"
    for entry in int8:
        assert entry.name.removesuffix("_int8") in export_int8.MODELS
        assert (MODELS / f"{entry.option('exporter')}.py").is_file()


@pytest.mark.slow
def test_export_is_deterministic(tmp_path):
    """Same fp32 file, same options: the same bytes as the file the set-up command built."""
    built = export_int8.out_path("efficientnet_lite0")
    if not built.is_file() or not (MODELS / "efficientnet_lite0.onnx").is_file():
        pytest.skip(f"{built} not built (bash scripts/dev.sh setup)")
    out = tmp_path / "lite0_int8.onnx"
    assert export_int8.main(["--model", "efficientnet_lite0", "--out", str(out)]) == 0
    assert out.read_bytes() == built.read_bytes()
