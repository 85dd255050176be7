"""Rescue what can be read from a damaged project database, and rebuild a damaged feature cache (issue 19, item 13).

``project.sqlite`` holds the user's labels: when it is damaged (a bad disk
sector, a torn copy), "move it aside" would throw away every label still
readable in it.  :func:`recover_project` reads each table row by row, stepping
over the pages it cannot read, writes what it got into a fresh database of the
current schema, keeps the damaged file beside it (``project.sqlite.damaged-<time>``)
and says how much it rescued.  The CLI (``galaxy-sorter-cli recover FOLDER``)
and the app (offered when a project fails to open) both call it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.store.layout import StoreError, check_store_tree

#: The tables of a project database, parents first (images before the labels that point at them).
TABLES = ("settings", "classes", "images", "runs", "cluster_names", "assignments", "labels")


class DamagedStore(StoreError, sqlite3.DatabaseError):
    """The project database cannot be read whole; :func:`recover_project` rescues what can be.

    Also an ``sqlite3.DatabaseError``: callers that handled SQLite's own error still catch it.
    """

    def __init__(self, folder: Path, detail: str) -> None:
        self.folder = folder
        super().__init__(
            f"the project database {folder / 'project.sqlite'} is damaged ({detail}); recover it with "
            f"'galaxy-sorter-cli recover {folder.parent if folder.name == '.galaxy-sorter' else folder}' "
            f"(or open the folder in the app and choose Recover): every label that can still be read is kept "
            f"and the damaged file is kept beside it. Do not delete it: it holds your labels")


@dataclass
class Recovery:
    """What :func:`recover_project` rescued: rows per table, what it could not read, where the damaged file went."""

    rows: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    orphan_labels: int = 0
    damaged_copy: Path | None = None
    intact: bool = False

    def summary(self) -> str:
        """One paragraph for the user."""
        if self.intact:
            return "the project database is intact (SQLite's integrity check found no fault): nothing was changed"
        text = (f"recovered {self.rows.get('labels', 0)} label(s), {self.rows.get('images', 0)} image(s), "
                f"{self.rows.get('runs', 0)} run(s) and {self.rows.get('classes', 0)} class(es)")
        if self.orphan_labels:
            text += f"; {self.orphan_labels} label(s) lost their image's name (that page was unreadable)"
        if self.unreadable:
            text += f"; unreadable parts: {', '.join(self.unreadable)}"
        if self.damaged_copy is not None:
            text += f"; the damaged database is kept as {self.damaged_copy}"
        return text


def _rows(db: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple]:
    """Every readable row of ``table`` in rowid order, stepping over unreadable stretches."""
    cols = ", ".join(f'"{c}"' for c in columns)
    last, step, failures = -(2 ** 63), 1, 0
    while failures < 64:
        try:
            cursor = db.execute(f'SELECT rowid, {cols} FROM "{table}" WHERE rowid > ? ORDER BY rowid', (last,))
            for row in cursor:
                last, step = row[0], 1
                yield row[1:]
            return
        except sqlite3.DatabaseError:
            # A damaged page: skip ahead past it, further each time the same stretch fails again.
            failures += 1
            last += step
            step *= 16


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]


def _intact(db_file: Path) -> bool:
    """Whether SQLite's full integrity check finds no fault in ``db_file`` (read only; False when it cannot open it)."""
    try:
        db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            return [r[0] for r in db.execute("PRAGMA integrity_check(1)")] == ["ok"]
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def recover_project(store_folder: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Recovery:
    """Rebuild ``<store_folder>/project.sqlite`` from what can be read of it; return what was rescued.

    A database that passes SQLite's integrity check is left as it is
    (:attr:`Recovery.intact`): recovering a sound project renamed it
    ``damaged`` and said so.

    The damaged file (and its ``-wal``) is renamed ``project.sqlite.damaged-<time>``,
    never deleted.  Rows are copied by column name into a database of the
    current schema (migrated from an older one where needed).  Raises
    :class:`StoreError` when there is no database, or when another process has
    the project open.
    """
    from core.store.lock import _acquire_lock, _release_lock
    from core.store.schema import migrate

    folder = Path(store_folder)
    check_store_tree(folder)
    damaged = folder / "project.sqlite"
    if not damaged.is_file():
        raise StoreError(f"there is no project database in {folder} to recover")
    _acquire_lock(folder)
    try:
        if _intact(damaged):  # a rebuild would rename a sound database "damaged" and gain nothing
            return Recovery(intact=True)
        out = Recovery()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        fresh = folder / f"project.sqlite.recovering-{stamp}"
        new = sqlite3.connect(fresh)
        try:
            new.isolation_level = None
            version = 0
            try:
                old = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
                version = old.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                out.unreadable.append(f"the whole file ({exc})")
                old = None
            _build_schema(new, version, root)
            if old is not None:
                _copy_tables(old, new, out)
                old.close()
            if version < 4 and root is not None:
                migrate(new, root)  # the later steps (relative paths, content fingerprints) on the rescued rows
            new.execute("PRAGMA journal_mode=DELETE")
        finally:
            new.close()
        out.damaged_copy = folder / f"project.sqlite.damaged-{stamp}"
        os.replace(damaged, out.damaged_copy)
        for suffix in ("-wal", "-shm"):
            side = folder / f"project.sqlite{suffix}"
            if side.exists():
                os.replace(side, folder / f"{out.damaged_copy.name}{suffix}")
        os.replace(fresh, damaged)
        return out
    finally:
        _release_lock(folder)


def _build_schema(new: sqlite3.Connection, version: int, root: str | os.PathLike[str] | None) -> None:
    """The schema the rescued rows go into: the damaged file's version when older (migrated after), else ours."""
    from core.store.schema import SCHEMA_VERSION, migrate

    if 0 < version < SCHEMA_VERSION:
        # Build the older version's tables, so its rows fit; migrate() brings them forward after the copy.
        migrate(new, root, upto=version)
        return
    migrate(new, root)


def _copy_tables(old: sqlite3.Connection, new: sqlite3.Connection, out: Recovery) -> None:
    for table in TABLES:
        try:
            old_cols = set(_columns(old, table))
        except sqlite3.DatabaseError as exc:
            out.unreadable.append(f"{table} ({exc})")
            continue
        columns = [c for c in _columns(new, table) if c in old_cols]
        if not columns:
            out.unreadable.append(f"{table} (missing)")
            continue
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        new.execute("BEGIN")
        n = 0
        try:
            for row in _rows(old, table, columns):
                n += new.execute(f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({marks})', row).rowcount
        except sqlite3.DatabaseError as exc:
            out.unreadable.append(f"{table} ({exc})")
        new.execute("COMMIT")
        out.rows[table] = n
    out.orphan_labels = new.execute("SELECT COUNT(*) FROM labels WHERE image_id NOT IN (SELECT id FROM images)"
                                    ).fetchone()[0]


@contextlib.contextmanager
def damage_named(folder: Path) -> Iterator[None]:
    """Turn SQLite's "not a database" / "malformed" into :class:`DamagedStore`, which offers recovery.

    A busy, locked or full database (``OperationalError``) is not damage and passes unchanged.
    """
    try:
        yield
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise DamagedStore(folder, str(exc)) from exc


def check_intact(db: sqlite3.Connection, folder: Path) -> None:
    """``PRAGMA quick_check`` at open: a damaged page is found now, with the recovery offered, not mid-session."""
    problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise DamagedStore(folder, "; ".join(problems))
