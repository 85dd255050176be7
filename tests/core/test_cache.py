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


def test_rows_of_linear_data_made_under_an_older_model_stretch_are_recomputed(tmp_path):
    """FITS (and PNG/TIFF, which may hold 16 bits) rows depend on the model's stretch of linear data, which
    the cache key does not hold: a cache written before the stretch changed forgets them, and keeps JPEG rows."""
    import sqlite3

    paths = []
    for name in ("a.fits", "b.png", "c.jpg", "d.TIFF"):
        p = tmp_path / name
        p.write_bytes(name.encode() * 10)
        paths.append(p)
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", paths, np.ones((4, 3), np.float32))
    assert len(cache.lookup("m", paths)) == 4
    cache.close()
    db = sqlite3.connect(tmp_path / "cache" / "features.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key='model_stretch'")  # as a cache written before the fixed stretch
    db.close()
    cache = FeatureCache(tmp_path / "cache")
    assert list(cache.lookup("m", paths)) == [tmp_path / "c.jpg"]
    assert any("3 row(s) of FITS, PNG or TIFF" in p for p in cache.take_problems())
    cache.store("m", paths[:1], np.zeros((1, 3), np.float32))
    cache.close()
    again = FeatureCache(tmp_path / "cache")  # the same stretch: nothing is dropped again
    assert set(again.lookup("m", paths)) == {tmp_path / "a.fits", tmp_path / "c.jpg"}
    assert again.take_problems() == []


def test_an_edited_band_of_a_band_set_invalidates_the_set_s_row(tmp_path):
    """A band set is cached under its reddest file; editing its g band must make the row stale too."""
    from astropy.io import fits

    from core.images.fits import band_files

    for band in "gri":
        fits.PrimaryHDU(np.full((16, 16), 1.0, np.float32)).writeto(tmp_path / f"obj_{band}.fits")
    rep = band_files(tmp_path / "obj_g.fits")[0]
    assert rep.name == "obj_i.fits"
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", [rep], np.ones((1, 3), np.float32))
    assert list(cache.lookup("m", [rep])) == [rep]
    fits.PrimaryHDU(np.full((16, 16), 2.0, np.float32)).writeto(tmp_path / "obj_g.fits", overwrite=True)
    st = (tmp_path / "obj_g.fits").stat()
    os.utime(tmp_path / "obj_g.fits", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a coarse clock still moves
    assert cache.lookup("m", [rep]) == {}
