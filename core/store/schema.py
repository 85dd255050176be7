"""The project database's schema, its version number and a migration step per version."""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.store.layout import StoreError

SCHEMA_VERSION = 4

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


def _tails(stored: str) -> list[tuple[str, ...]]:
    """The folder parts of a stored path, below its anchor: as POSIX, and as Windows when it names a drive or share.

    A store written on Windows by a version before 3 holds ``C:\\Users\\...\\g0.png``, one
    file name to POSIX: its parts are found by Windows' rules too (only with a drive or
    share, so a name holding a backslash, legal here, is never split).
    """
    p = Path(stored)
    found = [p.parts[1:] if p.is_absolute() else p.parts]
    windows = PureWindowsPath(stored)
    if "\\" in stored and windows.drive:
        found.append(windows.parts[1:])
    return found


def _relative_key(stored: str, root: Path) -> str | None:
    """The key under ``root`` of a path stored by an older version, or None when no file there matches.

    Absolute paths under ``root`` become relative; otherwise the longest tail of
    the stored path that names an existing file under ``root`` is taken, which
    finds the images of a folder that was moved or opened by a relative path,
    or written on Windows (a drive letter, backslashes) or macOS (names in
    Unicode's decomposed form, NFD, where Linux has them composed, NFC).
    """
    p = Path(stored)
    under = None
    if p.is_absolute():
        try:
            under = p.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
        else:
            if (root / under).exists():
                return under
    for parts in _tails(stored):
        for i in range(len(parts)):
            if ".." in parts[i:]:  # a stored path is the store's word, not the folder's: never a key above the root
                continue
            tail = PurePosixPath(*parts[i:]).as_posix()
            for spelling in dict.fromkeys((tail, unicodedata.normalize("NFC", tail), unicodedata.normalize("NFD", tail))):
                if (root / spelling).is_file():
                    return spelling
    return under


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


def _migrate_v4(db: sqlite3.Connection, root: Path | None) -> None:
    """Version 4: a content fingerprint per image, so a label follows its file when renamed or moved.

    Filled here for the labelled images whose file is there (the only ones whose
    identity matters); others get theirs when labelled (see :mod:`core.store.identity`).
    """
    from core.store.identity import record_content

    db.execute("ALTER TABLE images ADD COLUMN content TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS images_content ON images(content)")
    if root is not None:
        labelled = [i for (i,) in db.execute("SELECT image_id FROM labels")]
        record_content(db, lambda key: str(root / key) if not Path(key).is_absolute() else key, labelled)


def migrate(db: sqlite3.Connection, root: str | os.PathLike[str] | None = None, upto: int = SCHEMA_VERSION) -> int:
    """Bring the database schema to :data:`SCHEMA_VERSION` (or to ``upto``); return the version found.

    ``root`` is the project's image folder, needed to turn the paths older
    versions stored into paths relative to it.  ``upto``: build an older
    version's tables (a damaged older store's rows are rescued into them, then
    migrated: :mod:`core.store.recovery`), rather than build ours and drop a
    column, which needs SQLite 3.35.  Raises :class:`StoreError` for a store
    written by a newer version.
    """
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreError(f"this project was written by a newer Galaxy Sorter (schema {found} > {SCHEMA_VERSION}); "
                         f"open it with that version")
    if found >= upto:
        if found == SCHEMA_VERSION:
            ensure_indices(db)
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
        if found < 2 <= upto:
            for stmt in _SCHEMA_V2.split(";"):
                if stmt.strip():
                    db.execute(stmt)
        if 0 < found < 3 <= upto:
            # Paths become relative to the root here when it is known, else at the first open that knows it.
            _migrate_v3(db, Path(root).resolve() if root is not None else None)
        if found < 4 <= upto:
            _migrate_v4(db, Path(root).resolve() if root is not None else None)
        db.execute(f"PRAGMA user_version={upto}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if upto == SCHEMA_VERSION:
        ensure_indices(db)
    return found


def ensure_indices(db: sqlite3.Connection) -> None:
    """Indices that only speed queries up, made on a writable open; no schema version, so older versions still open it.

    ``images_skipped`` (partial: the skipped files only) lets the skipped-files
    list read its few rows instead of scanning every image: 3 s of a reopen at
    1,000,000 images (issue 22).  Made once, when the store is first opened by
    this version.
    """
    db.execute("CREATE INDEX IF NOT EXISTS images_skipped ON images(path) WHERE status='skipped'")
