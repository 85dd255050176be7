"""The bundle's 16-bit weight storage (packaging/weight_storage.py, issue 22).

The bundle ships Xception and EfficientNet-Lite0 with their convolution kernels stored as int16
and a scale per output channel.  These tests hold what build.spec relies on: the file is about
half the size, onnxruntime folds the weights back to float32 when it creates the session (the
optimised graph is op for op the float32 one), and the features stay within 1e-3 (relative L2)
of the float32 file's on the built-in sample.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import weight_storage  # noqa: E402

from core.features.extract import FEATURE_MODELS  # noqa: E402
from core.images.io import read_image  # noqa: E402
from core.images.preprocess import Preprocessing, to_model_input  # noqa: E402
from core.paths import models_dir, sample_dir  # noqa: E402


def _model_path(name: str) -> Path:
    path = models_dir() / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is not built (bash scripts/dev.sh setup)")
    return path


def _optimised_ops(path: Path, tmp_path: Path) -> collections.Counter:
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / f"{path.stem}-optimised.onnx")
    options.log_severity_level = 3
    # basic level: constant folding without the CPU-specific layout rewrites, so both graphs compare op for op
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    return collections.Counter(n.op_type for n in graph.node)


def test_quantise_keeps_every_weight_within_half_a_step_of_its_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (8, 4, 3, 3)).astype(np.float32) * rng.uniform(1e-4, 10, (8, 1, 1, 1)).astype(np.float32)
    w[3] = 0.0  # an all-zero channel
    q, scale = weight_storage.quantise(w)
    assert q.dtype == np.int16 and scale.dtype == np.float32 and scale.shape == (8, 1, 1, 1)
    assert np.abs(q).max() == weight_storage.LEVELS  # each non-zero channel spans the grid
    assert np.all(np.abs(q * scale - w) <= scale / 2 * (1 + 1e-6))
    assert not q[3].any() and scale[3].item() == 1.0


@pytest.mark.parametrize("name,images", [("efficientnet_lite0", 24), ("xception", 6)])
def test_16bit_file_is_half_the_size_folds_to_float32_and_keeps_features_within_1e3(name, images, tmp_path):
    source = _model_path(name)
    stored = tmp_path / f"{name}.onnx"
    stats = weight_storage.convert(source, stored)
    assert stats["converted"] > 0
    assert stored.stat().st_size < 0.53 * source.stat().st_size

    # onnxruntime turns the int16 weights back into float32 initializers: the optimised graph has no
    # Cast or Mul of ours left and is op for op the float32 file's
    assert _optimised_ops(stored, tmp_path) == _optimised_ops(source, tmp_path)

    factory = FEATURE_MODELS.get(name).factory
    ref, new = factory(name, path=source, use_gpu=False), factory(name, path=stored, use_gpu=False)
    meta = new.session.get_modelmeta().custom_metadata_map
    assert "int16" in meta[weight_storage.STORAGE_KEY]
    assert meta["galaxy_sorter.input_size"] == ref.session.get_modelmeta().custom_metadata_map["galaxy_sorter.input_size"]
    paths = sorted(sample_dir().glob("*.png"))[:images]
    if not paths:
        pytest.skip(f"no sample images in {sample_dir()}")
    prep = Preprocessing()
    x = to_model_input([s for p in paths for s in ref.prepare(read_image(p), prep)], ref.scale, ref.offset)
    a, b = ref.infer(x), new.infer(x)
    rel = np.linalg.norm(b - a, axis=1) / np.linalg.norm(a, axis=1)
    assert rel.max() < 1e-3, rel.max()
    assert rel.max() > 0  # the weights were really rounded (a copy of the float32 file would pass the bound)
    assert new.cache_key(prep) != ref.cache_key(prep)  # the cache keeps the bundle's features apart


def test_float16_codec_is_the_plain_alternative_and_a_converted_file_is_refused(tmp_path):
    source = _model_path("galaxy_cnn")
    half = tmp_path / "half.onnx"
    stats = weight_storage.convert(source, half, min_elements=1024, codec="float16")
    assert stats["converted"] > 0 and stats["bytes_after"] < stats["bytes_before"]
    with pytest.raises(ValueError, match="already"):
        weight_storage.convert(half, tmp_path / "again.onnx")
    with pytest.raises(ValueError, match="codec"):
        weight_storage.convert(source, tmp_path / "x.onnx", codec="bfloat16")


def test_main_prints_what_it_stored(tmp_path, capsys):
    source = _model_path("galaxy_cnn")
    assert weight_storage.main([str(source), str(tmp_path / "g.onnx"), "--min-elements", "1024"]) == 0
    out = capsys.readouterr().out
    assert "initializers in 16 bits" in out and (tmp_path / "g.onnx").is_file()
