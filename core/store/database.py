"""The project store: one folder with an SQLite database and the feature cache.

By default it lives in ``<image folder>/.galaxy-sorter``; when that folder is
read-only (a survey archive, a mounted disk) and holds no store yet, it goes
under the user's data folder instead, keyed by the image folder's path.  An
existing store in a folder that became read-only is opened read-only (its
labels shown, never hidden behind a new empty store): :attr:`ProjectStore.read_only`
says so and every write raises :class:`ReadOnlyStore`.

The database holds images, runs (with every parameter), cluster assignments
and user labels.  Images are keyed by their path relative to the project root
(the image folder), so moving or renaming the folder, or opening it by another
spelling of its path, keeps every label; the feature cache adds a content
fingerprint.  Every write is an SQLite transaction with ``synchronous=FULL`` in
WAL mode: a label is on disk when :meth:`ProjectStore.set_labels` returns and
survives a crash at any moment.  The schema has a version and a migration step per version.

Concurrency: one writer per project.  A writable store holds an exclusive
``flock`` on ``<store>/lock`` for as long as it is open (shared by every store
object of the same process, released by the kernel if the process dies); a
second process gets :class:`ProjectLocked` with the other's id, not two writers undoing each other's work.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from urllib.parse import quote

import numpy as np

from core.store.cache import FeatureCache
from core.store.content import ContentRecorder
from core.store.identity import OUTSIDE_DIR, OUTSIDE_REASON, decode_key, encode_key, outside_keys, outside_root, reattach_labels
from core.store.label_rows import write_labels
from core.store.layout import (
    MODELS_DIR,
    MORPHOLOGY_FILE,
    RUNS_DIR,
    STORE_DIR,
    ReadOnlyStore,
    StoreError,
    check_store_tree,
    fresh_member,
    member_path,
    open_in_store,
)
from core.store.lock import _acquire_lock, _release_lock
from core.store.recovery import check_intact, damage_named
from core.store.rows import ImageIds, no_gc, paths_of
from core.store.schema import SCHEMA_VERSION, _migrate_v3, migrate
from core.vocabulary import ROUND_METHOD


@dataclass
class Run:
    """One clustering run as stored: the record the pipeline saves, the project shows and the sidecar writes.

    ``params`` holds the settings (:meth:`core.pipeline.PipelineConfig.record`),
    the method's parameters and what the run keeps beside the store (``soft``,
    ``encoder``; a round's run also ``base_encoder``, ``parent_run``,
    ``user_labels``).  The properties below are the one place that reads them.
    """

    id: int
    method: str
    model: str
    n_clusters: int
    params: dict
    warnings: list[str]

    @property
    def is_round(self) -> bool:
        """Whether a fine-tuning round made this run (its clusters are the round's classes)."""
        return self.method == ROUND_METHOD

    @property
    def encoder(self) -> str | None:
        """The file name (under the store's models) of the run's DEC encoder, if it kept one."""
        return self.params.get("encoder")

    @property
    def base_encoder(self) -> str | None:
        """The encoder of the DEC run this run came from (every round starts from it), else :attr:`encoder`."""
        return self.params.get("base_encoder") or self.encoder

    @property
    def soft(self) -> str | None:
        """The file name (under the store's runs) of the run's soft assignments, if it kept them."""
        return self.params.get("soft")


def _writable(folder: Path) -> bool:
    db = folder / "project.sqlite"
    if not folder.exists():
        return True
    return os.access(folder, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


def _read_only_copy(folder: Path, tmp: Path) -> Path:
    """Copy the store's databases (with their WAL) into ``tmp`` so SQLite can read them without writing beside them."""
    for name in ("project.sqlite", "project.sqlite-wal", "features/features.sqlite", "features/features.sqlite-wal"):
        src = folder / name
        if src.is_file():
            dst = tmp / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return tmp


class ProjectStore:
    """Images, runs, assignments and labels of one image folder.

    Parameters
    ----------
    folder : path-like
        The store folder (see :func:`default_store_dir`); created if missing.
    """

    def __init__(self, folder: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder)
        check_store_tree(self.folder)
        self.read_only = not _writable(self.folder) and (self.folder / "project.sqlite").is_file()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        #: (old key, new key) of the labels the last :meth:`add_images` moved to a renamed or moved file.
        self.followed: list[tuple[str, str]] = []
        self._locked = False
        self.contents: ContentRecorder | None = None  # labelled images' content, recorded off the labelling thread
        if self.read_only:
            self._tmp = tempfile.TemporaryDirectory(prefix="galaxy-sorter-ro-")
            copy = _read_only_copy(self.folder, Path(self._tmp.name))
            self.db = sqlite3.connect(f"file:{copy / 'project.sqlite'}?mode=ro", uri=True, check_same_thread=False)
            with damage_named(self.folder):
                check_intact(self.db, self.folder)
                self._check_version()
            self.root = self._root(root)
            index = copy / "features" / "features.sqlite"
            self.features = FeatureCache(self.folder / "features", root=self.root, read_only=True,
                                         index=index if index.is_file() else ":memory:")
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _acquire_lock(self.folder)
        self._locked = True
        try:
            self.db = sqlite3.connect(self.folder / "project.sqlite", check_same_thread=False, timeout=30)
            with damage_named(self.folder):
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                check_intact(self.db, self.folder)
                self.db.isolation_level = None  # migrate() opens its own BEGIN IMMEDIATE
                migrate(self.db, self._root(root, stored=False))
                self.db.isolation_level = ""
            self.root = self._root(root)
            if self.root is not None:
                if root is not None:
                    self.set_setting("root", str(self.root))
                self._normalise_paths()
            self.features = FeatureCache(self.folder / "features", root=self.root)
            self.contents = ContentRecorder(self.folder / "project.sqlite", self.path_of, self.known_contents)
        except BaseException:
            self.close()
            raise

    def _normalise_paths(self) -> None:
        """Turn absolute image paths (older stores, or ones opened before the root was known) into relative keys."""
        if self.db.execute("SELECT 1 FROM images WHERE path GLOB '/*' LIMIT 1").fetchone() is None:
            return
        with self.db:
            _migrate_v3(self.db, self.root)

    @functools.cached_property
    def outside(self) -> frozenset[str]:
        """Stored keys that name a file outside the folder (:func:`~core.store.identity.outside_root`): never read.

        Found once, when first asked (the run's rows at a reopen; a job's own connection that never asks does
        not scan the images for them, 0.17 s a million keys)."""
        return outside_keys(self.db, self.root) if self.root is not None else frozenset()

    def _check_version(self) -> None:
        found = self.db.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError(f"this project was written by a newer Galaxy Sorter (schema {found} > "
                             f"{SCHEMA_VERSION}); open it with that version")

    def _root(self, given: str | os.PathLike[str] | None, stored: bool = True) -> Path | None:
        """The image folder: as given, else the folder holding ``.galaxy-sorter``, else as stored."""
        if given is not None:
            return Path(given).resolve()
        if self.folder.name == STORE_DIR:
            return self.folder.resolve().parent
        if stored:
            try:
                value = self.setting("root")
            except sqlite3.Error:
                value = None
            return Path(str(value)) if value else None
        return None

    def close(self) -> None:
        """Close the database files (and release the project's lock), the content recorder first."""
        if self.contents is not None:
            self.contents.close()
        for obj in (getattr(self, "features", None), getattr(self, "db", None)):
            if obj is not None:
                obj.close()
        if self._locked:
            self._locked = False
            _release_lock(self.folder)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _writing(self) -> None:
        if self.read_only:
            raise ReadOnlyStore(f"the project store {self.folder} is read-only (the folder cannot be written): "
                                f"its labels are shown but nothing new can be saved; make the folder writable "
                                f"or copy the images elsewhere")

    # images -----------------------------------------------------------------
    def key_of(self, path: str | os.PathLike[str]) -> str:
        """The stored key of an image: its path relative to the project root (see :meth:`FeatureCache.image_key`)."""
        return self.features.image_key(path)

    def path_of(self, key: str) -> str:
        """The path of an image on disk from its stored key (a name that is not UTF-8 decoded back to its bytes).

        A key outside the folder (:attr:`outside`) gets a path inside this store that no
        image has, so whatever asks for its file (a fingerprint, a label's follow) finds none.
        """
        if outside_root(key, self.root):
            return str(self.folder / OUTSIDE_DIR / quote(key, safe=""))
        path = str(self.root / key) if self.root is not None and not Path(key).is_absolute() else key
        if "\\" in key and not os.path.lexists(path):
            decoded = decode_key(key)
            decoded = str(self.root / decoded) if self.root is not None and not Path(decoded).is_absolute() else decoded
            if os.path.lexists(decoded):
                return decoded
        return path

    def add_images(self, paths: Iterable[Path], skipped: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
        """Register images (and files that could not be read); return path -> image id (see :meth:`image_ids`)."""
        from core.images.io import image_id

        self._writing()
        present: set[str] = set()
        with self.db:
            for p in paths:
                present.add(self.key_of(p))
                self.db.execute("INSERT INTO images (path, name) VALUES (?, ?) ON CONFLICT(path) DO UPDATE "
                                "SET status='ok', error=NULL", (self.key_of(p), encode_key(image_id(p))))
            for path, reason in skipped:
                present.add(self.key_of(path))
                self.db.execute("INSERT INTO images (path, name, status, error) VALUES (?, ?, 'skipped', ?) "
                                "ON CONFLICT(path) DO UPDATE SET status='skipped', error=excluded.error",
                                (self.key_of(path), encode_key(image_id(path)), encode_key(reason)))
            # A labelled file renamed or moved since: its label follows its content (issue 19).
            self.followed = reattach_labels(self.db, self.path_of, present, self.known_contents)
        return self.image_ids()

    def known_contents(self, keys: list[str]) -> dict[str, str]:
        """The content fingerprints of images the feature cache vouches for (:meth:`FeatureCache.known_contents`)."""
        return self.features.known_contents(keys, self.path_of)

    def record_pending_content(self) -> None:
        """Record the content of labelled images that have none yet, on the recorder's thread; returns at once.

        A session that closed before its recorder was done left them (:mod:`core.store.content`).
        """
        if self.contents is not None:
            self.contents.record_pending()

    def image_ids(self) -> dict[str, int]:
        """Return path -> id for every registered image.

        The mapping answers for any spelling of an image's path (relative,
        absolute, through a moved project folder): lookups go through :meth:`key_of`.
        """
        return ImageIds(self, {p: i for i, p in self.db.execute("SELECT id, path FROM images")})

    def skipped(self) -> list[tuple[str, str]]:
        """Return (path, reason) of files that could not be read."""
        rows = [(self.path_of(p), e) for p, e in
                self.db.execute("SELECT path, error FROM images WHERE status='skipped' ORDER BY path") if p not in self.outside]
        return rows + [(key, OUTSIDE_REASON) for key in sorted(self.outside)]

    # runs -------------------------------------------------------------------
    def save_run(self, method: str, model: str, n_clusters: int, params: dict, warnings: Sequence[str],
                 image_ids: Sequence[int], clusters: np.ndarray, confidence: np.ndarray,
                 coords: np.ndarray | None = None, names: dict[int, str] | None = None) -> int:
        """Store a run and its assignments in one transaction; return the run id."""
        coords = np.full((len(image_ids), 2), np.nan) if coords is None else coords
        self._writing()
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
        """Rows (image id, path on disk, name, cluster, confidence, x, y) of a run, by path (arrays: :mod:`.rows`)."""
        with no_gc():
            rows = self.db.execute("SELECT i.id, i.path, i.name, a.cluster, a.confidence, a.x, a.y FROM assignments a "
                                   "JOIN images i ON i.id = a.image_id WHERE a.run_id=? ORDER BY i.path", (run_id,)).fetchall()
            rows = [r for r in rows if r[1] not in self.outside] if self.outside else rows
            return [(r[0], p, *r[2:]) for r, p in zip(rows, paths_of(self, [r[1] for r in rows]))]

    def cluster_names(self, run_id: int) -> dict[int, str]:
        """Names given to the clusters of a run."""
        return {c: n for c, n in self.db.execute("SELECT cluster, name FROM cluster_names WHERE run_id=?", (run_id,))}

    def name_cluster(self, run_id: int, cluster: int, name: str | None) -> None:
        """Name (or rename) a cluster of a run; ``name=None`` forgets its name."""
        self._writing()
        with self.db:
            if name is None:
                self.db.execute("DELETE FROM cluster_names WHERE run_id=? AND cluster=?", (run_id, int(cluster)))
            else:
                self.db.execute("INSERT OR REPLACE INTO cluster_names VALUES (?, ?, ?)", (run_id, int(cluster), name))

    # labels -----------------------------------------------------------------
    def set_labels(self, image_ids: Sequence[int], label: str | None, source: str = "user") -> None:
        """Set (or with ``label=None`` clear) the label of images, durably, in one transaction.

        The write is then checkpointed (:meth:`checkpoint`), so ``project.sqlite``
        alone (without its ``-wal``) holds the label when this returns: a copy of
        that one file, taken while the app is open, keeps every acknowledged label.
        """
        self.set_label_groups([(image_ids, label)], source)

    def set_label_groups(self, groups: Sequence[tuple[Sequence[int], str | None]], source: str = "user") -> None:
        """:meth:`set_labels` of several ``(image_ids, label)`` groups in one transaction and one checkpoint.

        An undo gives a whole cluster back its labels of before, a few distinct ones
        (most often none and two classes): one commit and one checkpoint for all, not one each.
        """
        self._writing()
        with self.db:  # one statement a group through json_each, or a statement a row without it (core.store.label_rows)
            for image_ids, label in groups:
                write_labels(self.db, image_ids, label, source)
        self.checkpoint()
        if self.contents is not None:  # known by its content too: it follows a rename
            for image_ids, label in groups:
                if label is not None:
                    self.contents.submit(image_ids)  # read and hashed on the recorder's thread (core.store.content)

    def checkpoint(self) -> bool:
        """Copy committed pages from the WAL into ``project.sqlite`` (``PRAGMA wal_checkpoint(PASSIVE)``).

        Passive: it never waits for, nor blocks, a reader (the app's worker
        connection).  Returns True when every committed page reached the main
        file, False when a reader still held some back (the next call copies them).
        """
        if self.read_only:
            return True
        busy, log, done = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return not busy and done == log

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the project database to ``dest`` (SQLite's online backup API).

        The copy holds every committed label, run and setting in one file that
        needs no ``-wal`` beside it; it is written under a temporary name and
        renamed, so ``dest`` is either the old file or the whole new copy.  It is
        a ``project.sqlite``: put it in a folder's ``.galaxy-sorter/`` to open it.
        Works on a read-only store too (from its copy).
        """
        dest = Path(dest)
        if dest.resolve() == (self.folder / "project.sqlite").resolve():
            raise StoreError(f"{dest} is the project's own database; choose another file for the backup")
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        try:
            target = sqlite3.connect(tmp)
            try:
                self.db.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return dest

    def set_assignments(self, run_id: int, image_ids: Sequence[int], clusters: Sequence[int]) -> None:
        """Change the cluster of images in a run (merging or splitting clusters; a new map: :mod:`core.store.coords`).

        In image-id order, the table's, so each page is visited once and in turn, and bound from plain lists:
        a merge of 25,000 of 200,000 galaxies took 110 ms of the GUI thread in the order of the strip.
        """
        self._writing()
        ids = np.asarray(image_ids, np.int64)
        order = np.argsort(ids, kind="stable")
        with self.db:
            self.db.executemany("UPDATE assignments SET cluster=? WHERE run_id=? AND image_id=?",
                                zip(np.asarray(clusters, np.int64)[order].tolist(), repeat(int(run_id)), ids[order].tolist()))

    def new_model_path(self, prefix: str = "dec_encoder") -> Path:
        """A fresh file name under ``models/`` for an encoder (never an existing file: undo needs the old ones)."""
        self._writing()
        return fresh_member(self.folder, MODELS_DIR, prefix, ".onnx")

    def model_path(self, name: object) -> Path | None:
        """The encoder file ``name`` in this store's ``models/`` folder, or None (see :func:`member_path`)."""
        return member_path(self.folder, MODELS_DIR, name, ".onnx")

    def save_soft(self, image_ids: Sequence[int] | np.ndarray, soft: np.ndarray) -> str:
        """Keep a run's soft assignments in ``runs/soft_<hex>.npz`` (rows keyed by image id); returns the file name.

        The name goes into the run's parameters (:attr:`Run.soft`): the app's
        suggestions read the model's own probabilities instead of rebuilding
        them from the confidences.  Written through :func:`open_in_store` to a
        fresh name, never through a planted link.
        """
        self._writing()
        path = fresh_member(self.folder, RUNS_DIR, "soft", ".npz")
        fd = open_in_store(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, image_ids=np.asarray(image_ids, np.int64), soft=np.asarray(soft, np.float32))
        return path.name

    def load_soft(self, name: object, image_ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
        """Soft assignments saved by :meth:`save_soft`, in the order of ``image_ids`` (None when missing or partial)."""
        path = member_path(self.folder, RUNS_DIR, name, ".npz")
        if path is None:
            return None
        with np.load(path, allow_pickle=False) as data:
            where = {int(i): r for r, i in enumerate(data["image_ids"])}
            if not all(int(i) in where for i in image_ids):
                return None
            return data["soft"][[where[int(i)] for i in image_ids]]

    @property
    def morphology_file(self) -> Path:
        """Where the morphology parameters live (:mod:`core.features.morphology` reads and replaces it)."""
        return self.folder / MORPHOLOGY_FILE

    # classes and settings -----------------------------------------------------
    def set_classes(self, classes: Sequence[tuple[str, str]]) -> None:
        """Replace the label classes with ``(name, colour)`` pairs, in order."""
        self._writing()
        with self.db:
            self.db.execute("DELETE FROM classes")
            self.db.executemany("INSERT INTO classes VALUES (?, ?, ?)",
                                [(name, color, i) for i, (name, color) in enumerate(classes)])

    def classes(self) -> list[tuple[str, str]]:
        """Return the label classes as ``(name, colour)`` pairs, in order."""
        return list(self.db.execute("SELECT name, color FROM classes ORDER BY position"))

    def set_setting(self, key: str, value: object = None, *, text: str | None = None) -> None:
        """Store a project setting (JSON-serialisable), or ``text``, one encoded already (off the GUI thread)."""
        self._writing()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value) if text is None else text))

    def setting(self, key: str, default: object = None, loads: Callable[[str], object] = json.loads) -> object:
        """Return a project setting, or ``default``; ``loads`` decodes its JSON (a large one's in pieces)."""
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else loads(row[0])

    def labels(self) -> dict[int, tuple[str, str]]:
        """Return image id -> (label, source)."""
        return {i: (lab, src) for i, lab, src in self.db.execute("SELECT image_id, label, source FROM labels")}
