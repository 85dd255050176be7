"""Feature extraction with the real ONNX models: provider, cache reuse, bad files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.features.extract import Cancelled, FeatureModel, extract_features
from core.images.preprocess import Preprocessing
from core.store.cache import FeatureCache


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

    from core.images.io import read_image

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


# --- the extraction pipeline (issue 13): prepared in place on worker threads, several batches ahead ---


def _old_stacked_input(model, prep, paths):
    """The model input as extract_features built it before the pipeline: stack, convert, transpose."""
    from core.images.io import read_image

    squares = [sq for p in paths for sq in model.prepare(read_image(p), prep)]
    batch = np.stack(squares).astype(np.float32)
    batch *= model.scale
    batch += model.offset
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("rotations", [False, True])
def test_prepared_batches_are_bit_identical_to_the_stacked_input(tmp_path, sample_folder, fast_model, rotations):
    from core.features.extract import prepared_batches

    good = sorted(sample_folder.glob("*.png"))[:5]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    paths = [good[0], good[1], bad, good[2], good[3], good[4]]
    prep = Preprocessing(rotations=rotations)
    batches = list(prepared_batches(paths, fast_model, prep, batch_size=4, workers=2, prefetch=1))
    assert [b.paths for b in batches] == [[good[0], good[1], good[2]], [good[3], good[4]]]
    assert [s.path for b in batches for s in b.skipped] == [str(bad)]
    for b in batches:
        expected = _old_stacked_input(fast_model, prep, b.paths)
        assert b.inputs.shape == expected.shape and b.inputs.dtype == np.float32
        np.testing.assert_array_equal(b.inputs, expected)


def test_features_do_not_depend_on_batching_prefetch_or_workers(sample_folder, fast_model):
    from core.images.io import read_image

    paths = sorted(sample_folder.glob("*.png"))[:11]
    seen: list = []
    fractions: list[float] = []
    deep = extract_features(paths, fast_model, batch_size=4, workers=3, prefetch=3,
                            on_batch=lambda p, f: seen.append((p, f)), progress=lambda f, m: fractions.append(f))
    shallow = extract_features(paths, fast_model, batch_size=16, workers=1, prefetch=1)
    direct = fast_model.run([fast_model.prepare(read_image(p), Preprocessing())[0] for p in paths])
    np.testing.assert_allclose(deep.features, shallow.features, atol=1e-5)
    np.testing.assert_allclose(deep.features, direct, atol=1e-5)
    # on_batch sees every batch once, in order; progress rises to 1 once per batch after the first call
    assert [p for ps, _ in seen for p in ps] == paths
    np.testing.assert_array_equal(np.concatenate([f for _, f in seen]), deep.features)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 1 + 3


def test_cancel_stops_the_decoding_threads(sample_folder, fast_model):
    import threading

    paths = sorted(sample_folder.glob("*.png"))
    with pytest.raises(Cancelled):
        extract_features(paths, fast_model, batch_size=2, prefetch=3, should_stop=lambda: True)
    assert not [t for t in threading.enumerate() if t.name.startswith("features")]


def test_an_error_in_on_batch_propagates_and_stops_the_decoding_threads(tmp_path, sample_folder, fast_model):
    import threading

    paths = sorted(sample_folder.glob("*.png"))
    cache = FeatureCache(tmp_path / "cache")

    def fail(batch_paths, feats):
        raise RuntimeError("the map went away")

    with pytest.raises(RuntimeError, match="the map went away"):
        extract_features(paths, fast_model, cache=cache, batch_size=2, prefetch=3, on_batch=fail)
    assert not [t for t in threading.enumerate() if t.name.startswith("features")]
    assert cache.count(fast_model.cache_key(Preprocessing())) == 2  # stored before on_batch was called


def test_decoding_threads_run_at_a_lower_priority_on_linux(sample_folder, fast_model):
    import os
    import sys
    import threading

    from core.features import extract as features
    if not sys.platform.startswith("linux"):
        pytest.skip("thread priorities are set on Linux only")
    nice: list[int] = []
    original = features._load_and_prepare

    def spy(*args, **kwargs):
        nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return original(*args, **kwargs)

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    features._load_and_prepare = spy
    try:
        extract_features(sorted(sample_folder.glob("*.png"))[:3], fast_model, batch_size=2)
    finally:
        features._load_and_prepare = original
    assert nice and all(n == min(19, own + features.DECODE_NICE) for n in nice)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # the model's thread is untouched


def test_io_binding_path_runs_on_the_cpu_with_the_same_features(sample_folder):
    from core.images.io import read_image

    plain = FeatureModel("efficientnet_lite0", use_gpu=False)
    bound = FeatureModel("efficientnet_lite0", use_gpu=False, io_binding=True)
    assert plain.io_binding is False and bound.io_binding is True  # default: on exactly when on CUDA
    squares = [plain.prepare(read_image(p), Preprocessing())[0] for p in sorted(sample_folder.glob("*.png"))[:3]]
    np.testing.assert_allclose(bound.run(squares), plain.run(squares), atol=1e-6)
    assert bound.cache_key(Preprocessing()) == plain.cache_key(Preprocessing())


def test_fp16_model_stays_within_tolerance_and_keeps_its_own_cache(sample_folder):
    import hashlib
    import json

    paths = sorted(sample_folder.glob("*.png"))[:6]
    full = FeatureModel("galaxy_cnn", use_gpu=False)
    half = FeatureModel("galaxy_cnn", use_gpu=False, fp16=True, io_binding=True)
    a = extract_features(paths, full).features
    b = extract_features(paths, half).features
    assert b.dtype == np.float32 and b.shape == a.shape
    cos = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 1 - 1e-4  # the tolerance the FeatureModel docstring states
    prep = Preprocessing()
    assert half.cache_key(prep) != full.cache_key(prep)
    # float32 keys are the ones made before fp16 existed, so existing caches stay valid
    blob = json.dumps({"model": full.sha256, "prep": prep.as_dict(), "v": 1}, sort_keys=True)
    assert full.cache_key(prep) == f"galaxy_cnn-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def test_bgra_images_lose_alpha_and_come_out_rgb(tmp_path):
    import cv2

    from core.images.io import read_image

    rgba = np.random.default_rng(3).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    img = read_image(tmp_path / "a.png")
    assert img.flags.c_contiguous
    np.testing.assert_array_equal(img, rgba[:, :, :3])
