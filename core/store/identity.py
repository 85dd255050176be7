"""An image's identity is its content: a label follows a renamed or moved file (issue 19, item 4).

The store keys images by their path relative to the project root, so renaming a
labelled file, or moving it into a subfolder, used to leave its label under the
old name.  Each labelled image now also keeps its content fingerprint
(:func:`core.images.io.file_fingerprint`, the ``images.content`` column of
schema 4), recorded after it is labelled, off the labelling thread
(:mod:`core.store.content`).  At scan time a labelled image whose
file has vanished gives its label to a newly found, unlabelled file with the
same content.  Only files of a vanished image's size are hashed, so a scan with
nothing vanished reads no file.
"""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

#: Where :meth:`core.store.database.ProjectStore.path_of` puts a key outside the folder: inside the store, where no
#: image is.
OUTSIDE_DIR = "outside-the-folder"
#: Why such an image is listed under the skipped files.
OUTSIDE_REASON = "outside the folder, never read (a store from elsewhere); its label is kept"
#: The SQL condition that picks every image key :func:`outside_root` may refuse (few rows: most keys are plain names).
MAY_CLIMB = "path GLOB '*..*' OR path GLOB '/*' OR path GLOB '*\\*' OR path GLOB '?:*'"


def _size_of(content: str) -> int | None:
    """The file size a fingerprint ``c2:<size>:<sha1>`` records (None for another form)."""
    parts = content.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "c2" and parts[1].isdigit() else None


def record_content(db: sqlite3.Connection, path_of: Callable[[str], str], image_ids: Iterable[int]) -> None:
    """Store the content fingerprint of those images that have none yet (files that cannot be read are left)."""
    from core.images.io import file_fingerprint

    ids = [int(i) for i in image_ids]
    rows = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows += db.execute(f"SELECT id, path FROM images WHERE content IS NULL AND id IN "
                           f"({','.join('?' * len(chunk))})", chunk).fetchall()
    found = []
    for image_id_, key in rows:
        try:
            found.append((file_fingerprint(path_of(key)), image_id_))
        except OSError:
            continue
    if found:
        db.executemany("UPDATE images SET content=? WHERE id=?", found)


def reattach_labels(db: sqlite3.Connection, path_of: Callable[[str], str], present: set[str],
                    known: Callable[[list[str]], Mapping[str, str]] | None = None) -> list[tuple[str, str]]:
    """Move the labels of vanished files to present files with the same content; return (old key, new key) pairs.

    ``present`` holds the keys the scan found.  A labelled image is vanished when
    its key is not among them and its file does not exist.  Its label moves to
    an unlabelled present image with the same fingerprint (one each, in path
    order); an already labelled image is never overwritten.  A vanished image
    whose content was not recorded yet (renamed before the recorder of
    :mod:`core.store.content` reached it, or the app closed first) takes the
    fingerprint ``known`` gives for its key (the feature cache's, as last
    seen).  Runs inside the caller's transaction.
    """
    from core.images.io import file_fingerprint

    orphans = [(i, key, content) for i, key, content in db.execute(
        "SELECT i.id, i.path, i.content FROM images i JOIN labels l ON l.image_id = i.id")
        if key not in present and not os.path.exists(path_of(key))]
    unknown = [key for _, key, content in orphans if content is None]
    if unknown:
        cached = known(unknown) if known is not None else {}
        orphans = [(i, key, content if content is not None else cached.get(key)) for i, key, content in orphans]
        db.executemany("UPDATE images SET content=? WHERE id=? AND content IS NULL",
                       [(content, i) for i, key, content in orphans if key in cached])
    followed = _same_name_in_other_form(db, [orphan for orphan in orphans if orphan[2] is None], present)
    orphans = [orphan for orphan in orphans if orphan[2] is not None]
    if not orphans:
        return followed
    sizes = {_size_of(c) for _, _, c in orphans} - {None}
    labelled = {i for (i,) in db.execute("SELECT image_id FROM labels")}
    by_content: dict[str, list[tuple[int, str]]] = {}
    for image_id_, key, content in db.execute("SELECT id, path, content FROM images ORDER BY path"):
        if key not in present or image_id_ in labelled:
            continue
        if content is None:
            try:
                if os.stat(path_of(key)).st_size not in sizes:
                    continue
                content = file_fingerprint(path_of(key))
            except OSError:
                continue
            db.execute("UPDATE images SET content=? WHERE id=?", (content, image_id_))
        by_content.setdefault(content, []).append((image_id_, key))
    moved = []
    for old_id, old_key, content in orphans:
        candidates = by_content.get(content)
        if not candidates:
            continue
        new_id, new_key = candidates.pop(0)
        db.execute("UPDATE labels SET image_id=? WHERE image_id=?", (new_id, old_id))
        moved.append((old_key, new_key))
    return followed + moved


def _same_name_in_other_form(db: sqlite3.Connection, lost: list[tuple[int, str, None]],
                             present: set[str]) -> list[tuple[str, str]]:
    """Give each vanished labelled image with no known content to the unlabelled present file of the same name in
    another Unicode form; return (old key, new key) pairs.

    A store from macOS keys names in the decomposed form (NFD: ``e`` + a combining
    accent), which a copy to Linux may have composed (NFC): the same name to the
    user, another key here.  With its content unrecorded (the app closed before
    :mod:`core.store.content` reached it) and the shipped feature cache not
    trusted (signed by another installation), such a label had nothing to follow.
    """
    if not lost:
        return []
    wanted = {unicodedata.normalize("NFC", key): (old_id, key) for old_id, key, _ in lost}
    moved = []
    for key in sorted(present):
        if key.isascii():
            continue
        old = wanted.pop(unicodedata.normalize("NFC", key), None)
        if old is None or old[1] == key:
            continue
        row = db.execute("SELECT i.id FROM images i LEFT JOIN labels l ON l.image_id = i.id "
                         "WHERE i.path=? AND l.image_id IS NULL", (key,)).fetchone()
        if row is not None:
            db.execute("UPDATE labels SET image_id=? WHERE image_id=?", (row[0], old[0]))
            moved.append((old[1], key))
    return moved


def outside_root(key: str, root: Path | None) -> bool:
    """Whether a stored image key names a file outside the project root: absolute elsewhere, or climbing with ``..``.

    The keys this program writes are relative and never climb
    (:meth:`core.store.cache.FeatureCache.image_key`); a key that does came from a
    store written on another machine, or planted in a folder that arrived with its
    ``.galaxy-sorter/``.  Such an image is never read: nothing a folder carries may
    make the program open a file outside it (its features, thumbnail, fingerprint,
    or a copy in an export).  A store with no root (every key absolute) has no outside.
    """
    if root is None or not (".." in key or key.startswith(("/", "\\")) or key[1:2] == ":"):
        return False  # the fast answer for nearly every key
    path = decode_key(key)
    if ".." in Path(path).parts or ".." in path.split("/"):
        return True
    if Path(path).is_absolute() or Path(path).anchor:
        return not path.startswith(str(root).rstrip(os.sep) + os.sep)
    return False


def outside_keys(db: sqlite3.Connection, root: Path | None) -> frozenset[str]:
    """The stored keys that name a file outside the folder (:func:`outside_root`): never read."""
    return frozenset(key for (key,) in db.execute(f"SELECT path FROM images WHERE {MAY_CLIMB}") if outside_root(key, root))


def encode_key(path: str) -> str:
    """An image key SQLite can store, losslessly, for any file name (issue 19, item 8).

    A name that is valid UTF-8 is kept as it is.  A name with bytes that are not
    (an old Latin-1 folder, say: Python holds them as surrogates, which SQLite
    cannot store) is written with each such byte as ``\\xNN`` and each backslash
    doubled, so :func:`decode_key` gives back the very bytes.  Keys of
    earlier versions (``\\xNN`` without doubled backslashes) decode the same way
    when their name holds no backslash.
    """
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape").replace("\\", "\\\\").encode(
            "utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def decode_key(key: str) -> str:
    """The path a key from :func:`encode_key` names (``\\xNN`` back to the byte; ``\\\\`` to one backslash)."""
    if "\\" not in key:
        return key
    out = bytearray()
    i = 0
    while i < len(key):
        ch = key[i]
        if ch == "\\" and key[i + 1:i + 2] == "\\":
            out += b"\\"
            i += 2
        elif ch == "\\" and key[i + 1:i + 2] == "x" and len(key) >= i + 4:
            try:
                out.append(int(key[i + 2:i + 4], 16))
                i += 4
                continue
            except ValueError:
                out += b"\\"
                i += 1
        else:
            out += ch.encode("utf-8")
            i += 1
    return os.fsdecode(bytes(out))


def changed_since_labelled(db: sqlite3.Connection,
                           fingerprints_of: Callable[[list[str]], Mapping[str, str]]) -> list[str]:
    """The labelled images whose file now holds other content than when it was labelled; their keys, in path order.

    ``fingerprints_of`` gives, for image keys, the content fingerprint their
    file has now (what the feature cache verified or recomputed this run: no
    file is read here), and is asked about the labelled images only.  A label
    stays with its file name when the file is replaced (a re-rendered cutout of
    the same object is the usual reason), but the user is told, once: the
    recorded content becomes the new one, so a later rename still carries the
    label.  A labelled image with no content recorded yet (the app closed
    before :mod:`core.store.content` recorded it) gets this one, unsaid.  Runs
    inside a transaction of its own.
    """
    rows = db.execute("SELECT i.id, i.path, i.content FROM images i JOIN labels l ON l.image_id = i.id "
                      "ORDER BY i.path").fetchall()
    now = fingerprints_of([key for _, key, _ in rows]) if rows else {}
    changed = [(now[key], image_id_, key, content) for image_id_, key, content in rows
               if now.get(key, content) not in (content, None)]
    if changed:
        with db:
            db.executemany("UPDATE images SET content=? WHERE id=?", [(fp, i) for fp, i, *_ in changed])
    return [key for _, _, key, content in changed if content is not None]
