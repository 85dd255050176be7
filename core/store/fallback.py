"""The store of a folder that cannot be written, kept under the user's data folder (issue 19, item 5).

Keyed by the folder's path alone, such a store was lost when the same disk was
mounted elsewhere, and hidden by a new empty store once the folder could be
written.  It is now found by the folder's name and a digest of its listing
(the names and sizes of its entries, :func:`content_store_dir`), so the same
folder under another mount point finds it; a store under the older, path-keyed
name is still found.  When the folder can be written again,
:func:`adopt_fallback` moves the store into it, or merges its labels into the
store there (the newer label of an image wins), and keeps the old one renamed
``*.adopted-<time>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from core.store.layout import STORE_DIR, ProjectLocked, _can_write, check_store_tree, fallback_base


def _listing_digest(folder: Path) -> str:
    """A digest of the folder's entries (names, and sizes of files): the same on any mount point."""
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name == STORE_DIR:
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size if entry.is_file(follow_symlinks=False) else -1
            except OSError:
                size = -2
            entries.append(f"{os.fsencode(entry.name).hex()}:{size}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:16]


def path_store_dir(folder: Path) -> Path:
    """The fallback store's name before issue 19: keyed by the folder's path."""
    digest = hashlib.sha256(os.fsencode(str(folder))).hexdigest()[:16]
    return fallback_base() / f"{folder.name}-{digest}"


def content_store_dir(folder: Path) -> Path:
    """The fallback store's name: the folder's name and the digest of its listing."""
    return fallback_base() / f"{folder.name}-c{_listing_digest(folder)}"


def _existing(folder: Path) -> list[Path]:
    """The fallback stores of ``folder`` that exist (none without even reading the folder's listing)."""
    import glob

    base = fallback_base()
    if not base.is_dir() or not any(base.glob(f"{glob.escape(folder.name)}-*")):
        return []
    found = []
    for d in (path_store_dir(folder), content_store_dir(folder)):
        if (d / "project.sqlite").is_file() and d not in found:
            found.append(d)
    return found


def fallback_store_dir(folder: str | os.PathLike[str]) -> Path:
    """Where the store of a folder that cannot be written is: an existing one (by path, then content), else new."""
    folder = Path(folder).resolve()
    found = _existing(folder)
    return found[0] if found else content_store_dir(folder)


def adopt_fallback(folder: Path, candidate: Path) -> list[Path]:
    """Bring the fallback stores of ``folder`` into its own store ``candidate``, now that it can be written.

    No in-folder database yet: the fallback store is copied in whole (labels,
    runs, encoders, feature cache).  One already there: the fallback's labels
    and classes are merged in (the newer label of an image wins).  Each adopted
    fallback is renamed ``<name>.adopted-<time>``, kept, never used again.  A
    fallback open in another process is left for later.  Returns those adopted.
    """
    found = _existing(folder)
    if not found or not _can_write(candidate):
        return []
    from core.store.lock import _acquire_lock, _release_lock

    adopted = []
    for fb in found:
        check_store_tree(fb)
        try:
            _acquire_lock(fb)
        except ProjectLocked:
            continue
        try:
            if not (candidate / "project.sqlite").is_file():
                _move_in(fb, candidate)
            else:
                _merge_labels(fb, candidate, folder)
        finally:
            _release_lock(fb)
        stamp, n = time.strftime("%Y%m%d-%H%M%S"), 0
        done = fb.with_name(f"{fb.name}.adopted-{stamp}")
        while done.exists():  # two adoptions in one second: never over an older kept store
            n += 1
            done = fb.with_name(f"{fb.name}.adopted-{stamp}-{n}")
        os.replace(fb, done)
        adopted.append(done)
    return adopted


def _move_in(fb: Path, candidate: Path) -> None:
    """Copy the fallback store whole into the (empty) in-folder store, atomically by a rename."""
    db = sqlite3.connect(fb / "project.sqlite")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy needs no -wal
    finally:
        db.close()
    tmp = Path(tempfile.mkdtemp(prefix=".galaxy-sorter-adopting-", dir=candidate.parent))
    shutil.copytree(fb, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("lock", "*-wal", "*-shm"))
    if candidate.is_dir() and not any(candidate.iterdir()):
        candidate.rmdir()
    os.rename(tmp, candidate)


def _merge_labels(fb: Path, candidate: Path, folder: Path) -> None:
    """Copy the fallback's labels and classes into the in-folder store, by image key, newer label winning."""
    from core.store.database import ProjectStore

    src = ProjectStore(fb, root=folder)
    try:
        labels = list(src.db.execute("SELECT i.path, i.name, l.label, l.source, l.updated FROM labels l "
                                     "JOIN images i ON i.id = l.image_id"))
        classes = src.classes()
    finally:
        src.close()
    dst = ProjectStore(candidate, root=folder)
    try:
        with dst.db:
            for key, name, label, source, updated in labels:
                dst.db.execute("INSERT OR IGNORE INTO images (path, name) VALUES (?, ?)", (key, name))
                (image_id_,) = dst.db.execute("SELECT id FROM images WHERE path=?", (key,)).fetchone()
                dst.db.execute("INSERT INTO labels VALUES (?, ?, ?, ?) ON CONFLICT(image_id) DO UPDATE SET "
                               "label=excluded.label, source=excluded.source, updated=excluded.updated "
                               "WHERE excluded.updated > labels.updated", (image_id_, label, source, updated))
            known = {n for n, _ in dst.classes()}
            start = len(known)
            for i, (name, color) in enumerate(c for c in classes if c[0] not in known):
                dst.db.execute("INSERT INTO classes VALUES (?, ?, ?)", (name, color, start + i))
        dst.checkpoint()
    finally:
        dst.close()
