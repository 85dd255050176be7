"""The project store: one folder with an SQLite database and the feature cache.

By default it lives in ``<image folder>/.galaxy-sorter``; when that folder is
read-only (a survey archive, a mounted disk) it goes under the user's data
folder instead, keyed by the image folder's path.  The database holds images,
runs (with every parameter), cluster assignments and user labels.  Every write
is an SQLite transaction with ``synchronous=FULL`` in WAL mode: a label is on
disk when :meth:`ProjectStore.set_labels` returns and survives a crash at any
moment.  The schema carries a version number and a migration step per version.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cache import FeatureCache

SCHEMA_VERSION = 2
STORE_DIR = ".galaxy-sorter"

_SCHEMA_V1 = """
CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
                     status TEXT NOT NULL DEFAULT 'ok', error TEXT);
CREATE TABLE runs (id INTEGER PRIMARY KEY, created REAL NOT NULL, method TEXT NOT NULL, model TEXT NOT NULL,
                   n_clusters INTEGER NOT NULL, params TEXT NOT NULL, warnings TEXT NOT NULL);
CREATE TABLE assignments (run_id INTEGER NOT NULL REFERENCES runs(id), image_id INTEGER NOT NULL REFERENCES images(id),
                          cluster INTEGER NOT NULL, confidence REAL NOT NULL, x REAL, y REAL,
                          PRIMARY KEY (run_id, image_id));
CREATE TABLE cluster_names (run_id INTEGER NOT NULL, cluster INTEGER NOT NULL, name TEXT NOT NULL,
                            PRIMARY KEY (run_id, cluster));
CREATE TABLE labels (image_id INTEGER PRIMARY KEY REFERENCES images(id), label TEXT NOT NULL,
                     source TEXT NOT NULL, updated REAL NOT NULL);
"""

# Version 2: the user's label classes (name, colour, order) and project settings.
_SCHEMA_V2 = """
CREATE TABLE classes (name TEXT PRIMARY KEY, color TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def default_store_dir(image_folder: str | os.PathLike[str]) -> Path:
    """Return ``<folder>/.galaxy-sorter`` if writable, else a per-folder directory in the user's data folder."""
    folder = Path(image_folder).resolve()
    candidate = folder / STORE_DIR
    try:
        candidate.mkdir(exist_ok=True)
        probe = candidate / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
        return candidate
    except OSError:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "galaxy-sorter" / "projects"
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        return base / f"{folder.name}-{digest}"


@dataclass
class Run:
    """One clustering run as stored."""

    id: int
    method: str
    model: str
    n_clusters: int
    params: dict
    warnings: list[str]


def migrate(db: sqlite3.Connection) -> int:
    """Bring the database schema to :data:`SCHEMA_VERSION`; return the version found."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise RuntimeError(f"this project was written by a newer Galaxy Sorter (schema {found} > {SCHEMA_VERSION})")
    with db:
        if found < 1:
            db.executescript(_SCHEMA_V1)
        if found < 2:
            db.executescript(_SCHEMA_V2)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return found


class ProjectStore:
    """Images, runs, assignments and labels of one image folder.

    Parameters
    ----------
    folder : path-like
        The store folder (see :func:`default_store_dir`); created if missing.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.folder / "project.sqlite", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrate(self.db)
        self.features = FeatureCache(self.folder / "features")

    def close(self) -> None:
        """Close the database files."""
        self.features.close()
        self.db.close()

    # images -----------------------------------------------------------------
    def add_images(self, paths: Iterable[Path], skipped: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
        """Register images (and files that could not be read); return path -> image id."""
        from core.images import image_id

        with self.db:
            for p in paths:
                self.db.execute("INSERT INTO images (path, name) VALUES (?, ?) ON CONFLICT(path) DO UPDATE "
                                "SET status='ok', error=NULL", (str(p), image_id(p)))
            for path, reason in skipped:
                self.db.execute("INSERT INTO images (path, name, status, error) VALUES (?, ?, 'skipped', ?) "
                                "ON CONFLICT(path) DO UPDATE SET status='skipped', error=excluded.error",
                                (str(path), image_id(path), reason))
        return self.image_ids()

    def image_ids(self) -> dict[str, int]:
        """Return path -> id for every registered image."""
        return {p: i for i, p in self.db.execute("SELECT id, path FROM images")}

    def skipped(self) -> list[tuple[str, str]]:
        """Return (path, reason) of files that could not be read."""
        return list(self.db.execute("SELECT path, error FROM images WHERE status='skipped' ORDER BY path"))

    # runs -------------------------------------------------------------------
    def save_run(self, method: str, model: str, n_clusters: int, params: dict, warnings: Sequence[str],
                 image_ids: Sequence[int], clusters: np.ndarray, confidence: np.ndarray,
                 coords: np.ndarray | None = None, names: dict[int, str] | None = None) -> int:
        """Store a run and its assignments in one transaction; return the run id."""
        coords = np.full((len(image_ids), 2), np.nan) if coords is None else coords
        with self.db:
            cur = self.db.execute(
                "INSERT INTO runs (created, method, model, n_clusters, params, warnings) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), method, model, int(n_clusters), json.dumps(params, default=str), json.dumps(list(warnings))))
            run_id = int(cur.lastrowid)
            self.db.executemany(
                "INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, int(i), int(c), float(q), float(x), float(y))
                 for i, c, q, (x, y) in zip(image_ids, clusters, confidence, coords)])
            for c, name in (names or {}).items():
                self.db.execute("INSERT INTO cluster_names VALUES (?, ?, ?)", (run_id, int(c), name))
        return run_id

    def latest_run(self) -> Run | None:
        """Return the newest run, or None."""
        row = self.db.execute("SELECT id, method, model, n_clusters, params, warnings FROM runs "
                              "ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Run(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]))

    def run(self, run_id: int) -> Run | None:
        """Return a run by id, or None."""
        row = self.db.execute("SELECT id, method, model, n_clusters, params, warnings FROM runs WHERE id=?",
                              (run_id,)).fetchone()
        return None if row is None else Run(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]))

    def assignments(self, run_id: int) -> list[tuple[int, str, str, int, float, float, float]]:
        """Rows (image id, path, name, cluster, confidence, x, y) of a run, by path."""
        return list(self.db.execute(
            "SELECT i.id, i.path, i.name, a.cluster, a.confidence, a.x, a.y FROM assignments a "
            "JOIN images i ON i.id = a.image_id WHERE a.run_id=? ORDER BY i.path", (run_id,)))

    def cluster_names(self, run_id: int) -> dict[int, str]:
        """Names given to the clusters of a run."""
        return {c: n for c, n in self.db.execute("SELECT cluster, name FROM cluster_names WHERE run_id=?", (run_id,))}

    def name_cluster(self, run_id: int, cluster: int, name: str) -> None:
        """Name (or rename) a cluster of a run."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO cluster_names VALUES (?, ?, ?)", (run_id, int(cluster), name))

    # labels -----------------------------------------------------------------
    def set_labels(self, image_ids: Sequence[int], label: str | None, source: str = "user") -> None:
        """Set (or with ``label=None`` clear) the label of images, durably, in one transaction."""
        now = time.time()
        with self.db:
            if label is None:
                self.db.executemany("DELETE FROM labels WHERE image_id=?", [(int(i),) for i in image_ids])
            else:
                self.db.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)",
                                    [(int(i), label, source, now) for i in image_ids])

    def set_assignments(self, run_id: int, image_ids: Sequence[int], clusters: Sequence[int]) -> None:
        """Change the cluster of images in a run (after merging or splitting clusters)."""
        with self.db:
            self.db.executemany("UPDATE assignments SET cluster=? WHERE run_id=? AND image_id=?",
                                [(int(c), run_id, int(i)) for i, c in zip(image_ids, clusters)])

    def set_coords(self, run_id: int, image_ids: Sequence[int], coords: np.ndarray) -> None:
        """Store a new 2-D map of a run (another projection of the same clusters)."""
        with self.db:
            self.db.executemany("UPDATE assignments SET x=?, y=? WHERE run_id=? AND image_id=?",
                                [(float(x), float(y), run_id, int(i)) for i, (x, y) in zip(image_ids, coords)])

    def new_model_path(self, prefix: str = "dec_encoder") -> Path:
        """A fresh file name under ``models/`` for an encoder (never an existing file: undo needs the old ones)."""
        import uuid

        folder = self.folder / "models"
        folder.mkdir(exist_ok=True)
        return folder / f"{prefix}_{uuid.uuid4().hex[:12]}.onnx"

    # classes and settings -----------------------------------------------------
    def set_classes(self, classes: Sequence[tuple[str, str]]) -> None:
        """Replace the label classes with ``(name, colour)`` pairs, in order."""
        with self.db:
            self.db.execute("DELETE FROM classes")
            self.db.executemany("INSERT INTO classes VALUES (?, ?, ?)",
                                [(name, color, i) for i, (name, color) in enumerate(classes)])

    def classes(self) -> list[tuple[str, str]]:
        """Return the label classes as ``(name, colour)`` pairs, in order."""
        return list(self.db.execute("SELECT name, color FROM classes ORDER BY position"))

    def set_setting(self, key: str, value: object) -> None:
        """Store a project setting (JSON-serialisable)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    def setting(self, key: str, default: object = None) -> object:
        """Return a project setting, or ``default``."""
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def labels(self) -> dict[int, tuple[str, str]]:
        """Return image id -> (label, source)."""
        return {i: (lab, src) for i, lab, src in self.db.execute("SELECT image_id, label, source FROM labels")}
