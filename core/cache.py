"""A persistent feature cache: SQLite index plus memory-mapped float32 rows.

Rows are keyed by (cache key, file path) and are valid while the file's size
and modification time are unchanged; the cache key already covers the model
file's content and the preprocessing.  Each cache key has one append-only
``<key>.f32`` file of rows.  A row is written and fsynced *before* the index
that points at it is committed, so a crash at any moment leaves at worst an
unreferenced row, never an index pointing at garbage.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1


class FeatureCache:
    """Feature rows on disk, looked up by file path, size and mtime.

    Parameters
    ----------
    folder : path-like
        Folder for ``features.sqlite`` and the ``*.f32`` row files (created).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "features.sqlite", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS rows (key TEXT, path TEXT, size INTEGER, mtime_ns INTEGER,"
                " row INTEGER, PRIMARY KEY (key, path))")
            self._db.execute("CREATE TABLE IF NOT EXISTS dims (key TEXT PRIMARY KEY, dim INTEGER)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        """Close the index."""
        self._db.close()

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.f32"

    def _dim(self, key: str) -> int | None:
        row = self._db.execute("SELECT dim FROM dims WHERE key=?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def lookup(self, key: str, paths: Sequence[Path]) -> dict[Path, np.ndarray]:
        """Return the cached rows of those ``paths`` whose size and mtime still match."""
        with self._lock:
            dim = self._dim(key)
            if dim is None or not self._file(key).exists():
                return {}
            index = {r[0]: r[1:] for r in self._db.execute(
                "SELECT path, size, mtime_ns, row FROM rows WHERE key=?", (key,))}
        nbytes = self._file(key).stat().st_size
        n_rows = nbytes // (4 * dim)
        if n_rows == 0:
            return {}
        data = np.memmap(self._file(key), dtype=np.float32, mode="r", shape=(n_rows, dim))
        out: dict[Path, np.ndarray] = {}
        for p in paths:
            entry = index.get(str(p))
            if entry is None:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            size, mtime_ns, row = entry
            if st.st_size == size and st.st_mtime_ns == mtime_ns and row < n_rows:
                out[p] = np.array(data[row])
        return out

    def store(self, key: str, paths: Sequence[Path], features: np.ndarray) -> None:
        """Append ``features`` (one row per path) and index them."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        if len(paths) != len(features):
            raise ValueError("one feature row per path is needed")
        stats = []
        for p in paths:
            st = p.stat()
            stats.append((st.st_size, st.st_mtime_ns))
        with self._lock:
            dim = self._dim(key)
            if dim is None:
                with self._db:
                    self._db.execute("INSERT INTO dims VALUES (?, ?)", (key, features.shape[1]))
                dim = features.shape[1]
            elif dim != features.shape[1]:
                raise ValueError(f"cache {key} holds {dim}-d rows, not {features.shape[1]}-d")
            path = self._file(key)
            with open(path, "ab") as fh:
                start = fh.tell() // (4 * dim)
                fh.write(features.tobytes())
                fh.flush()
                os.fsync(fh.fileno())
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)",
                    [(key, str(p), s, m, start + i) for i, (p, (s, m)) in enumerate(zip(paths, stats))])

    def count(self, key: str) -> int:
        """Number of indexed rows for ``key``."""
        return int(self._db.execute("SELECT COUNT(*) FROM rows WHERE key=?", (key,)).fetchone()[0])
