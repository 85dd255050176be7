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
survives a crash at any moment.  The schema carries a version number and a
migration step per version.

Concurrency: one writer per project.  A writable store holds an exclusive
``flock`` on ``<store>/lock`` for as long as it is open (shared by every store
object of the same process, released by the kernel if the process dies); a
second process that opens the project gets :class:`ProjectLocked` with the
other process's id, instead of two writers undoing each other's work.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import stat as _stat
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cache import FeatureCache

SCHEMA_VERSION = 3
STORE_DIR = ".galaxy-sorter"


class StoreError(RuntimeError):
    """A project store cannot be used as asked; ``str(error)`` says why and what to do."""


class ProjectLocked(StoreError):
    """Another process has the project open for writing."""


class ReadOnlyStore(StoreError):
    """The store is open read-only (its folder cannot be written); nothing can be saved."""


class UnsafeStore(StoreError):
    """The store folder holds a link, a hard-linked file or a special file: it could make us write elsewhere."""


#: Opening a file of the store never follows a link at its last component.
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def check_store_tree(folder: str | os.PathLike[str], max_entries: int = 1_000_000) -> None:
    """Refuse a store folder that could make a write land outside it (issue 19).

    A ``.galaxy-sorter/`` can arrive with a folder (an archive, a shared drive, a
    git repository).  Whoever made it could plant ``lock``, ``project.sqlite``,
    ``features/<key>.f32`` or ``.write-test`` as a symbolic link or a hard link to
    any file the user can write, and our next write would land there.  So nothing
    inside the store may be a link, a file with more than one name, or anything but
    a plain file or folder; the store folder itself may not be a link either.
    A missing folder passes (it is created by us).

    Raises
    ------
    UnsafeStore
        Naming the first offending entry, in one line, with what to do.
    """
    root = Path(folder)
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    def refuse(path: Path, what: str) -> UnsafeStore:
        return UnsafeStore(f"refusing the project store {root}: {path} is {what}, which could make Galaxy Sorter "
                           f"write outside the store; a store that arrives with a folder is not trusted with links. "
                           f"Delete {root} (the images are untouched) or remove that entry, then open again")

    if _stat.S_ISLNK(st.st_mode):
        raise refuse(root, f"a link to {os.readlink(root)}")
    if not _stat.S_ISDIR(st.st_mode):
        raise refuse(root, "not a folder")
    seen = 0
    stack = [root]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    raise UnsafeStore(f"refusing the project store {root}: more than {max_entries:,} entries")
                path = Path(entry.path)
                est = entry.stat(follow_symlinks=False)
                if _stat.S_ISLNK(est.st_mode):
                    raise refuse(path, f"a link to {os.readlink(path)}")
                if _stat.S_ISDIR(est.st_mode):
                    stack.append(path)
                elif not _stat.S_ISREG(est.st_mode):
                    raise refuse(path, "not a plain file (a pipe, socket or device)")
                elif est.st_nlink > 1:
                    raise refuse(path, f"a file with {est.st_nlink} names (a hard link)")


def open_in_store(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """``os.open`` for a file inside the store: never through a link (``O_NOFOLLOW``), never a hard-linked file."""
    fd = os.open(path, flags | O_NOFOLLOW, mode)
    try:
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise UnsafeStore(f"refusing {path}: not a plain file of the project store (a hard link or a special "
                              f"file); delete it and open again")
    except BaseException:
        os.close(fd)
        raise
    return fd

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
    """Return ``<folder>/.galaxy-sorter`` if it holds a store or is writable, else a folder in the user's data folder.

    An existing store is always returned, even when it cannot be written now:
    :class:`ProjectStore` then opens it read-only rather than starting an empty
    project that hides the user's labels.
    """
    folder = Path(image_folder).resolve()
    candidate = folder / STORE_DIR
    check_store_tree(candidate)  # a planted link is refused before anything is read or written
    if (candidate / "project.sqlite").is_file():
        return candidate
    try:
        candidate.mkdir(exist_ok=True)
        # A fresh, exclusive probe name: a planted file or link of that name is never opened.
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=candidate)
        os.close(fd)
        os.unlink(probe)
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


def _relative_key(stored: str, root: Path) -> str | None:
    """The key under ``root`` of a path stored by an older version, or None when no file there matches.

    Absolute paths under ``root`` become relative; otherwise the longest tail of
    the stored path that names an existing file under ``root`` is taken, which
    finds the images of a folder that was moved or opened by a relative path.
    """
    p = Path(stored)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    parts = p.parts[1:] if p.is_absolute() else p.parts
    for i in range(len(parts)):
        tail = Path(*parts[i:])
        if (root / tail).is_file():
            return tail.as_posix()
    return None


def _migrate_v3(db: sqlite3.Connection, root: Path | None) -> None:
    """Version 3: image paths relative to the project root; duplicate spellings of one image merged."""
    if root is None:
        return
    rows = list(db.execute("SELECT id, path FROM images ORDER BY id"))
    # Relative paths that already name a file under the root are keys as they stand.
    current = {p for _, p in rows if not Path(p).is_absolute() and (root / p).exists()}
    keep: dict[str, int] = {}
    for image_id_, path in rows:
        key = path if path in current else _relative_key(path, root)
        if key is None:
            continue
        if key not in keep:
            keep[key] = image_id_
            continue
        # The same image registered twice (opened once by a relative, once by an absolute path):
        # keep the first id, moving the newer label and the run assignments over to it.
        first = keep[key]
        db.execute("INSERT INTO labels SELECT ?, label, source, updated FROM labels WHERE image_id=? "
                   "ON CONFLICT(image_id) DO UPDATE SET label=excluded.label, source=excluded.source, "
                   "updated=excluded.updated WHERE excluded.updated > labels.updated", (first, image_id_))
        db.execute("DELETE FROM labels WHERE image_id=?", (image_id_,))
        db.execute("UPDATE OR IGNORE assignments SET image_id=? WHERE image_id=?", (first, image_id_))
        db.execute("DELETE FROM assignments WHERE image_id=?", (image_id_,))
        db.execute("DELETE FROM images WHERE id=?", (image_id_,))
    for key, image_id_ in keep.items():
        db.execute("UPDATE images SET path=? WHERE id=? AND path<>?", (key, image_id_, key))


def migrate(db: sqlite3.Connection, root: str | os.PathLike[str] | None = None) -> int:
    """Bring the database schema to :data:`SCHEMA_VERSION`; return the version found.

    ``root`` is the project's image folder, needed to turn the paths older
    versions stored into paths relative to it.  Raises :class:`StoreError`
    for a store written by a newer version.
    """
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreError(f"this project was written by a newer Galaxy Sorter (schema {found} > {SCHEMA_VERSION}); "
                         f"open it with that version")
    if found == SCHEMA_VERSION:
        return found
    # BEGIN IMMEDIATE: two processes creating one project at once take turns instead of
    # both running CREATE TABLE ("table images already exists").
    db.execute("BEGIN IMMEDIATE")
    try:
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found < 1:
            for stmt in _SCHEMA_V1.split(";"):
                if stmt.strip():
                    db.execute(stmt)
        if found < 2:
            for stmt in _SCHEMA_V2.split(";"):
                if stmt.strip():
                    db.execute(stmt)
        if 0 < found < 3:
            # Paths become relative to the root here when it is known, else at the first open that knows it.
            _migrate_v3(db, Path(root).resolve() if root is not None else None)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


# One exclusive lock per store folder and process, shared by every ProjectStore of the process
# (the app opens a second connection for its worker threads): folder -> (file descriptor, users).
_LOCKS: dict[Path, tuple[int, int]] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_holder(fd: int, wait: float = 1.0) -> str:
    """Who holds the lock, as it wrote it ("pid N on HOST").

    The holder writes this just after taking the lock, so a second process that
    arrives at the same moment can find the file still empty: it reads again for
    up to ``wait`` seconds before saying only "another process".
    """
    deadline = time.monotonic() + wait
    while True:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text or time.monotonic() >= deadline:
            return text or "another process"
        time.sleep(0.02)


def _acquire_lock(folder: Path) -> None:
    key = folder.resolve()
    with _LOCKS_GUARD:
        if key in _LOCKS:
            fd, users = _LOCKS[key]
            _LOCKS[key] = (fd, users + 1)
            return
        fd = open_in_store(key / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise ProjectLocked(f"the project {key.parent} is open in another Galaxy Sorter ({holder}); "
                                f"close it there first (one writer per project keeps labels from being "
                                f"overwritten)") from None
        except OSError:
            os.close(fd)
            raise
        info = f"pid {os.getpid()} on {socket.gethostname()}".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        _LOCKS[key] = (fd, 1)


def _release_lock(folder: Path) -> None:
    key = folder.resolve()
    with _LOCKS_GUARD:
        if key not in _LOCKS:
            return
        fd, users = _LOCKS[key]
        if users > 1:
            _LOCKS[key] = (fd, users - 1)
            return
        del _LOCKS[key]
        os.close(fd)  # closing the last descriptor releases the flock


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
        self._locked = False
        if self.read_only:
            self._tmp = tempfile.TemporaryDirectory(prefix="galaxy-sorter-ro-")
            copy = _read_only_copy(self.folder, Path(self._tmp.name))
            self.db = sqlite3.connect(f"file:{copy / 'project.sqlite'}?mode=ro", uri=True, check_same_thread=False)
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
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.isolation_level = None  # migrate() opens its own BEGIN IMMEDIATE
            migrate(self.db, self._root(root, stored=False))
            self.db.isolation_level = ""
            self.root = self._root(root)
            if self.root is not None:
                if root is not None:
                    self.set_setting("root", str(self.root))
                self._normalise_paths()
            self.features = FeatureCache(self.folder / "features", root=self.root)
        except BaseException:
            self.close()
            raise

    def _normalise_paths(self) -> None:
        """Turn absolute image paths (older stores, or ones opened before the root was known) into relative keys."""
        if self.db.execute("SELECT 1 FROM images WHERE path LIKE '/%' LIMIT 1").fetchone() is None:
            return
        with self.db:
            _migrate_v3(self.db, self.root)

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
        """Close the database files (and release the project's lock)."""
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
        """The path of an image on disk from its stored key."""
        if self.root is not None and not Path(key).is_absolute():
            return str(self.root / key)
        return key

    def add_images(self, paths: Iterable[Path], skipped: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
        """Register images (and files that could not be read); return path -> image id (see :meth:`image_ids`)."""
        from core.images import image_id

        self._writing()
        with self.db:
            for p in paths:
                self.db.execute("INSERT INTO images (path, name) VALUES (?, ?) ON CONFLICT(path) DO UPDATE "
                                "SET status='ok', error=NULL", (self.key_of(p), image_id(p)))
            for path, reason in skipped:
                self.db.execute("INSERT INTO images (path, name, status, error) VALUES (?, ?, 'skipped', ?) "
                                "ON CONFLICT(path) DO UPDATE SET status='skipped', error=excluded.error",
                                (self.key_of(path), image_id(path), reason))
        return self.image_ids()

    def image_ids(self) -> dict[str, int]:
        """Return path -> id for every registered image.

        The mapping answers for any spelling of an image's path (relative,
        absolute, through a moved project folder): lookups go through :meth:`key_of`.
        """
        return _ImageIds(self, {p: i for i, p in self.db.execute("SELECT id, path FROM images")})

    def skipped(self) -> list[tuple[str, str]]:
        """Return (path, reason) of files that could not be read."""
        return [(self.path_of(p), e) for p, e in
                self.db.execute("SELECT path, error FROM images WHERE status='skipped' ORDER BY path")]

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
        """Rows (image id, path on disk, name, cluster, confidence, x, y) of a run, by path."""
        return [(i, self.path_of(p), *rest) for i, p, *rest in self.db.execute(
            "SELECT i.id, i.path, i.name, a.cluster, a.confidence, a.x, a.y FROM assignments a "
            "JOIN images i ON i.id = a.image_id WHERE a.run_id=? ORDER BY i.path", (run_id,))]

    def cluster_names(self, run_id: int) -> dict[int, str]:
        """Names given to the clusters of a run."""
        return {c: n for c, n in self.db.execute("SELECT cluster, name FROM cluster_names WHERE run_id=?", (run_id,))}

    def name_cluster(self, run_id: int, cluster: int, name: str) -> None:
        """Name (or rename) a cluster of a run."""
        self._writing()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO cluster_names VALUES (?, ?, ?)", (run_id, int(cluster), name))

    # labels -----------------------------------------------------------------
    def set_labels(self, image_ids: Sequence[int], label: str | None, source: str = "user") -> None:
        """Set (or with ``label=None`` clear) the label of images, durably, in one transaction."""
        now = time.time()
        self._writing()
        with self.db:
            if label is None:
                self.db.executemany("DELETE FROM labels WHERE image_id=?", [(int(i),) for i in image_ids])
            else:
                self.db.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)",
                                    [(int(i), label, source, now) for i in image_ids])

    def set_assignments(self, run_id: int, image_ids: Sequence[int], clusters: Sequence[int]) -> None:
        """Change the cluster of images in a run (after merging or splitting clusters)."""
        self._writing()
        with self.db:
            self.db.executemany("UPDATE assignments SET cluster=? WHERE run_id=? AND image_id=?",
                                [(int(c), run_id, int(i)) for i, c in zip(image_ids, clusters)])

    def set_coords(self, run_id: int, image_ids: Sequence[int], coords: np.ndarray) -> None:
        """Store a new 2-D map of a run (another projection of the same clusters)."""
        self._writing()
        with self.db:
            self.db.executemany("UPDATE assignments SET x=?, y=? WHERE run_id=? AND image_id=?",
                                [(float(x), float(y), run_id, int(i)) for i, (x, y) in zip(image_ids, coords)])

    def new_model_path(self, prefix: str = "dec_encoder") -> Path:
        """A fresh file name under ``models/`` for an encoder (never an existing file: undo needs the old ones)."""
        import uuid

        self._writing()
        folder = self.folder / "models"
        folder.mkdir(exist_ok=True)
        return folder / f"{prefix}_{uuid.uuid4().hex[:12]}.onnx"

    def model_path(self, name: object) -> Path | None:
        """The encoder file ``name`` in this store's ``models/`` folder, or None.

        ``name`` comes from a run's stored parameters, which a store received
        from someone else could set to any path: only a plain file name of an
        existing ``.onnx`` file that really lies in ``models/`` (no ``..``, no
        absolute path, no link out of it) is accepted.
        """
        if not isinstance(name, str) or not name or Path(name).name != name or not name.endswith(".onnx"):
            return None
        folder = (self.folder / "models").resolve()
        path = folder / name
        try:
            if path.resolve().parent != folder or not path.is_file():
                return None
        except OSError:
            return None
        return path

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

    def set_setting(self, key: str, value: object) -> None:
        """Store a project setting (JSON-serialisable)."""
        self._writing()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    def setting(self, key: str, default: object = None) -> object:
        """Return a project setting, or ``default``."""
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def labels(self) -> dict[int, tuple[str, str]]:
        """Return image id -> (label, source)."""
        return {i: (lab, src) for i, lab, src in self.db.execute("SELECT image_id, label, source FROM labels")}


class _ImageIds(dict):  # type: ignore[type-arg]
    """path -> image id, looked up by any spelling of the path (through :meth:`ProjectStore.key_of`)."""

    def __init__(self, store: ProjectStore, ids: dict[str, int]) -> None:
        super().__init__(ids)
        self._store = store

    def _key(self, path: object) -> object:
        if isinstance(path, (str, os.PathLike)) and not dict.__contains__(self, path):
            return self._store.key_of(path)
        return path

    def __getitem__(self, path: object) -> int:
        return dict.__getitem__(self, self._key(path))

    def __contains__(self, path: object) -> bool:
        return dict.__contains__(self, self._key(path))

    def get(self, path: object, default: object = None) -> object:
        return dict.get(self, self._key(path), default)
