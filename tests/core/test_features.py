"""Feature extraction with the real ONNX models: provider, cache reuse, bad files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.cache import FeatureCache
from core.features import Cancelled, FeatureModel, extract_features
from core.preprocess import Preprocessing


@pytest.fixture(scope="module")
def fast_model():
    return FeatureModel("efficientnet_lite0")


def test_model_reports_the_provider_it_really_uses(fast_model):
    assert fast_model.provider == fast_model.session.get_providers()[0]
    assert fast_model.device in ("CPU", "CUDA")
    assert fast_model.feature_dim == 1280 and fast_model.input_size == 224


def test_cpu_only_model_is_on_cpu():
    assert FeatureModel("efficientnet_lite0", use_gpu=False).provider == "CPUExecutionProvider"


def test_cache_makes_reopening_free_and_recomputes_only_new_files(tmp_path, sample_folder, fast_model):
    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    paths = sorted(folder.glob("*.png"))[:12]
    cache = FeatureCache(tmp_path / "cache")
    first = extract_features(paths[:10], fast_model, cache=cache, batch_size=4)
    assert first.computed == 10 and first.cached == 0
    second = extract_features(paths, fast_model, cache=cache, batch_size=4)
    assert second.cached == 10 and second.computed == 2
    np.testing.assert_allclose(second.features[:10], first.features, atol=1e-6)
    # touching a file's content recomputes just that one
    paths[0].write_bytes(paths[1].read_bytes())
    third = extract_features(paths, fast_model, cache=cache, batch_size=4)
    assert third.computed == 1
    np.testing.assert_allclose(third.features[0], third.features[1], atol=1e-5)
    # other preprocessing, other cache key
    other = extract_features(paths[:2], fast_model, Preprocessing("fixed", 0.8), cache=cache)
    assert other.computed == 2


def test_bad_files_are_listed_and_skipped(tmp_path, sample_folder, fast_model):
    good = sorted(sample_folder.glob("*.png"))[:3]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    res = extract_features([good[0], bad, good[1], empty, good[2]], fast_model, batch_size=2)
    assert res.paths == [good[0], good[1], good[2]]
    assert res.features.shape == (3, 1280)
    assert {s.path for s in res.skipped} == {str(bad), str(empty)}
    assert all(s.reason for s in res.skipped)


def test_rotation_averaging_is_orientation_invariant(sample_folder, fast_model):
    import cv2

    from core.images import read_image

    path = sorted(sample_folder.glob("spiral_*.png"))[0]
    rotated = path.with_name("rotated_copy.png")
    cv2.imwrite(str(rotated), cv2.cvtColor(np.rot90(read_image(path)).copy(), cv2.COLOR_RGB2BGR))
    try:
        plain = extract_features([path, rotated], fast_model, Preprocessing(rotations=False)).features
        averaged = extract_features([path, rotated], fast_model, Preprocessing(rotations=True)).features
        d_plain = np.linalg.norm(plain[0] - plain[1])
        d_avg = np.linalg.norm(averaged[0] - averaged[1])
        # The 8 variants of the rotated image are the 8 variants of the original; what remains
        # is OpenCV's fixed-point resampling, far below the change rotation makes without averaging.
        assert d_avg < 0.2 * d_plain
        cos = averaged[0] @ averaged[1] / np.linalg.norm(averaged[0]) / np.linalg.norm(averaged[1])
        assert cos > 0.999
    finally:
        rotated.unlink()


def test_cancel_keeps_what_was_computed(tmp_path, sample_folder, fast_model):
    paths = sorted(sample_folder.glob("*.png"))
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(Cancelled):
        extract_features(paths, fast_model, cache=cache, batch_size=4, should_stop=lambda: True)
    assert cache.count(fast_model.cache_key(Preprocessing())) == 4
