"""The feature cache returns stored rows only while a file is unchanged, and survives a torn write."""

from __future__ import annotations

import os

import numpy as np

from core.store.cache import FeatureCache


def _files(tmp_path, n):
    paths = []
    for i in range(n):
        p = tmp_path / f"img{i}.png"
        p.write_bytes(bytes([i]) * 10)
        paths.append(p)
    return paths


def test_store_and_lookup(tmp_path):
    paths = _files(tmp_path, 3)
    cache = FeatureCache(tmp_path / "cache")
    feats = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.store("m1", paths, feats)
    got = cache.lookup("m1", paths)
    assert set(got) == set(paths)
    np.testing.assert_array_equal(got[paths[2]], feats[2])
    assert cache.lookup("other-model", paths) == {}


def test_changed_file_is_invalid(tmp_path):
    paths = _files(tmp_path, 2)
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", paths, np.ones((2, 3), np.float32))
    paths[0].write_bytes(b"changed content, different size")
    got = cache.lookup("m", paths)
    assert list(got) == [paths[1]]
    st = paths[1].stat()
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache.lookup("m", paths) == {}


def test_reopened_cache_keeps_rows_and_ignores_torn_tail(tmp_path):
    paths = _files(tmp_path, 2)
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", paths, np.eye(2, dtype=np.float32))
    cache.close()
    with open(tmp_path / "cache" / "m.f32", "ab") as fh:
        fh.write(b"\x00\x01")  # a crash mid-append leaves a partial row behind
    cache = FeatureCache(tmp_path / "cache")
    got = cache.lookup("m", paths)
    np.testing.assert_array_equal(got[paths[1]], [0, 1])
    assert cache.count("m") == 2
