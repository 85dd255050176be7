"""Issue 19, items 4 and 7: the cache sees every edit, and a label follows its galaxy's content."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.store.cache import FeatureCache


def test_a_same_size_edit_in_the_middle_with_mtime_restored_is_seen(tmp_path):
    """Item 7: a 1 MiB file edited in its middle (same size, ``touch -r``) is not served its old row."""
    path = tmp_path / "big.fits"
    data = bytearray(np.random.default_rng(0).bytes(1024 * 1024))
    path.write_bytes(bytes(data))
    cache = FeatureCache(tmp_path / "cache")
    cache.store("k", [path], np.ones((1, 8), np.float32))
    assert len(cache.lookup("k", [path])) == 1
    st = os.stat(path)
    data[len(data) // 2] ^= 0xFF  # one byte in the middle, far from either end
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the modification time set back
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert cache.lookup("k", [path]) == {}, "the edited file was served its stale features"
    cache.close()


def _poison(cache_dir: Path, key: str) -> None:
    """What an attacker can do to a shipped cache: rewrite every row and its checksum to match."""
    import sqlite3
    import zlib

    db = sqlite3.connect(cache_dir / "features.sqlite")
    dim = db.execute("SELECT dim FROM dims WHERE key=?", (key,)).fetchone()[0]
    f32 = cache_dir / f"{key}.f32"
    rows = np.fromfile(f32, np.float32).reshape(-1, dim)
    evil = np.zeros_like(rows)
    evil[:, 0] = np.arange(len(rows)) % 2 * 100.0  # the attacker's rule
    evil.tofile(f32)
    with db:
        for i, r in enumerate(evil):
            db.execute("UPDATE rows SET crc=? WHERE key=? AND row=?", (zlib.crc32(r.tobytes()), key, i))
    db.close()


def _files(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    paths = [folder / f"g{i}.png" for i in range(n)]
    for p in paths:
        p.write_bytes(rng.bytes(3000))
    return paths


def test_a_poisoned_cache_with_matching_checksums_is_not_trusted(tmp_path):
    """Item 2: rows and checksums rewritten together are recomputed, not served."""
    paths = _files(tmp_path / "imgs")
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    cache.store("k", paths, np.random.default_rng(2).normal(size=(len(paths), 4)).astype(np.float32))
    assert len(cache.lookup("k", paths)) == len(paths)
    cache.close()
    _poison(tmp_path / "cache", "k")
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    assert cache.lookup("k", paths) == {}, "poisoned rows with recomputed checksums were trusted"
    assert any("not computed by this installation" in m for m in cache.take_problems())
    cache.close()


def test_a_cache_signed_by_another_installation_is_recomputed(tmp_path, monkeypatch):
    """Item 2: a folder arriving with a cache made elsewhere (valid everywhere but here) is recomputed."""
    from core.store.layout import installation_key_path

    paths = _files(tmp_path / "imgs")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "attacker-config"))
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    cache.store("k", paths, np.full((len(paths), 4), 7.0, np.float32))
    cache.close()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "victim-config"))
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    assert cache.lookup("k", paths) == {}
    assert cache.count("k") == 0, "the foreign rows stay in the index"
    cache.store("k", paths, np.ones((len(paths), 4), np.float32))
    assert len(cache.lookup("k", paths)) == len(paths), "rows this installation computed are reused"
    cache.close()
    key_file = installation_key_path()
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    assert tmp_path / "victim-config" in key_file.parents and tmp_path / "imgs" not in key_file.parents
