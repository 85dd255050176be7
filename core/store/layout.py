"""The layout of ``.galaxy-sorter/`` and the guard every file in it passes.

One module knows the store folder's name, where a store goes when the image
folder cannot be written, and what a store may contain: plain files and folders
only.  A store that arrives with a folder (an archive, a shared drive, a git
repository) is checked by :func:`check_store_tree` before anything in it is read
or written, and files are opened through :func:`open_in_store`, never through a
link.  The errors a store raises are defined here too.
"""

from __future__ import annotations

import os
import stat as _stat
import tempfile
from pathlib import Path

STORE_DIR = ".galaxy-sorter"
#: What the store folder holds besides its databases, each created, named and checked by the store
#: (:class:`core.store.database.ProjectStore`), never by the code that uses it.
RUNS_DIR = "runs"  # soft_<hex>.npz: a run's soft assignments, rows keyed by image id
MODELS_DIR = "models"  # <prefix>_<hex>.onnx: DEC encoders, one per run and round (undo needs the old ones)
MORPHOLOGY_FILE = "morphology.npz"  # the morphology parameters, one row per image id


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
                try:
                    est = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # gone since the listing: another process's SQLite journal
                    continue
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

def member_path(folder: str | os.PathLike[str], subdir: str, name: object, suffix: str) -> Path | None:
    """The file ``name`` in the store's ``subdir``, or None when ``name`` is not a plain name of an existing file there.

    ``name`` comes from a run's stored parameters, which a store received from
    someone else could set to any path: only a plain file name ending in
    ``suffix`` of an existing file that really lies in ``subdir`` (no ``..``, no
    absolute path, no link out of it) is accepted.
    """
    if not isinstance(name, str) or not name or Path(name).name != name or not name.endswith(suffix):
        return None
    where = (Path(folder) / subdir).resolve()
    path = where / name
    try:
        if path.resolve().parent != where or not path.is_file():
            return None
    except OSError:
        return None
    return path


def fresh_member(folder: str | os.PathLike[str], subdir: str, prefix: str, suffix: str) -> Path:
    """A new, unused file name ``<prefix>_<12 hex><suffix>`` in the store's ``subdir`` (created if missing)."""
    import uuid

    where = Path(folder) / subdir
    where.mkdir(exist_ok=True)
    return where / f"{prefix}_{uuid.uuid4().hex[:12]}{suffix}"


def default_store_dir(image_folder: str | os.PathLike[str]) -> Path:
    """Return ``<folder>/.galaxy-sorter`` if it holds a store or is writable, else a folder in the user's data folder.

    An existing store is always returned, even when it cannot be written now:
    :class:`ProjectStore` then opens it read-only rather than starting an empty
    project that hides the user's labels.  A folder that cannot be written gets
    its store under the user's data folder (:func:`core.store.fallback.fallback_store_dir`:
    found again when the same disk is mounted elsewhere); once the folder can be
    written, that store moves into it, or its labels are merged into the one
    there, instead of being hidden behind a new empty store (issue 19, item 5).
    """
    from core.store.fallback import adopt_fallback, fallback_store_dir

    folder = Path(image_folder).resolve()
    candidate = folder / STORE_DIR
    check_store_tree(candidate)  # a planted link is refused before anything is read or written
    if (candidate / "project.sqlite").is_file():
        adopt_fallback(folder, candidate)
        return candidate
    if _can_write(candidate):
        adopt_fallback(folder, candidate)
        return candidate
    return fallback_store_dir(folder)


def _can_write(candidate: Path) -> bool:
    """Whether the store folder can be created and written (a fresh probe file, removed at once)."""
    try:
        candidate.mkdir(exist_ok=True)
        # A fresh, exclusive probe name: a planted file or link of that name is never opened.
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=candidate)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def fallback_base() -> Path:
    """Where the stores of folders that cannot be written live: the user's data folder."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "galaxy-sorter" / "projects"


#: Bytes of the per-installation secret that signs feature-cache rows.
INSTALLATION_KEY_BYTES = 32


def installation_key_path() -> Path:
    """Where this installation's cache-signing secret lives: the user's config folder, never an image folder."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "galaxy-sorter" / "installation.key"


def installation_key() -> bytes:
    """This installation's secret for signing feature-cache rows (issue 19), created on first use.

    A checksum beside a cached row proves only that the row was not torn; whoever
    shipped the folder can rewrite both.  Rows are therefore signed with an HMAC
    whose key only this user's installation holds: 32 random bytes in
    :func:`installation_key_path`, created ``0600`` under a ``0700`` folder and
    published atomically (written to a temporary name, then hard-linked into
    place, so two processes starting at once agree on one key).  A cache written
    anywhere else fails the check and is recomputed.
    """
    path = installation_key_path()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | O_NOFOLLOW)
        except FileNotFoundError:
            pass
        else:
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                key = fh.read(INSTALLATION_KEY_BYTES + 1)
            if _stat.S_ISREG(st.st_mode) and len(key) == INSTALLATION_KEY_BYTES:
                if st.st_mode & 0o077:
                    os.chmod(path, 0o600)
                return key
            # Truncated or not a plain file: replaced by a fresh key (old signatures then fail: rows recomputed).
            os.unlink(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".installation-", dir=path.parent)  # created 0600
        try:
            os.write(fd, os.urandom(INSTALLATION_KEY_BYTES))
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process published its key first: read that one
        finally:
            os.unlink(tmp)
    raise StoreError(f"cannot create the installation key {path}")


def signed_path(purpose: str, path: str) -> dict[str, str]:
    """A file's path to keep in a project (a setting such as the truth file), signed by this installation.

    A store that arrived with a folder can name any file in its settings; one read
    again when the folder opens (:func:`kept_path`) is read only when this user's
    installation signed it (HMAC-SHA256 with :func:`installation_key` over the
    purpose and the path), so nothing a folder carries makes the program open a
    file outside it.
    """
    return {"path": path, "mac": _path_mac(purpose, path)}


def kept_path(purpose: str, value: object) -> tuple[str | None, str | None]:
    """The path :func:`signed_path` kept, if this installation signed it: ``(path, None)``; else ``(None, why)``.

    ``(None, None)`` when nothing is kept.  A plain path (kept by a version before
    the signature) or one signed elsewhere is not read, and ``why`` says so.
    """
    import hmac

    if value is None:
        return None, None
    if isinstance(value, dict) and isinstance(value.get("path"), str) and isinstance(value.get("mac"), str):
        if hmac.compare_digest(value["mac"], _path_mac(purpose, value["path"])):
            return value["path"], None
    shown = value.get("path") if isinstance(value, dict) else value
    return None, (f"the project names {shown!s:.200} but this installation did not choose it (a project from "
                  f"another machine or account, or kept by an older version), so it is not read")


def _path_mac(purpose: str, path: str) -> str:
    import hashlib
    import hmac

    mac = hmac.new(installation_key(), digestmod=hashlib.sha256)
    for part in ("kept path", purpose, path):
        mac.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return mac.hexdigest()
