"""A catalogue and its sidecar written so that both change or neither does.

Two files cannot be renamed into place in one step, so :func:`write_pair`
keeps a small journal:

1. the catalogue and the sidecar are written to temporary names beside their
   targets (``.<name>.export-<pid>-<token>``) and fsynced; a full disk fails
   here, before anything the user has changes, and the error names the
   catalogue's path (so the one-line message blames the full disk, not the
   project store);
2. the journal ``.<catalogue name>.export-journal`` (which temporary file goes
   where, and the catalogue's SHA-256) is written atomically (staged as
   ``<journal>.<pid>``, fsynced, renamed) and fsynced;
3. the sidecar, then the catalogue, are renamed into place, the folder is
   fsynced, and the journal removed.

A kill before step 2's rename leaves the previous pair untouched (and temporary
files, the staged journal among them, that the next export removes); a kill during step 3 leaves the journal, and
:func:`recover_export` (run first by every export) finishes the renames. The
sidecar names the catalogue's SHA-256 (``catalogue.sha256``), so a reader can
check that the two belong together (:func:`sidecar_matches`).

The sidecar is named after the catalogue's whole file name, ``catalogue.csv.json``
(:func:`sidecar_path`), so that one run exported as ``catalogue.csv`` and
``catalogue.fits`` has two sidecars, each describing its own file.  Before, it was
``<stem>.json`` (:func:`legacy_sidecar_path`), shared by every format of one stem:
the second export overwrote the first one's sidecar without a word.  Readers
(:func:`find_sidecar`) still take such an old sidecar when the new one is absent
and the old one's recorded SHA-256 is the catalogue's; a journal left by the old
code (it names the sidecar's temporary file, ``.<stem>.json.export-...``) is still
finished, to the name that export meant.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

JOURNAL = ".{name}.export-journal"
#: What a sidecar's temporary name holds between the target's name and the process id (:func:`_temp`).
EXPORT_MARK = ".export-"


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar of catalogue ``path``: its whole file name plus ``.json`` (``catalogue.csv.json``).

    Named after the whole name, not the stem, so that exports of one run in two
    formats beside each other (``catalogue.csv``, ``catalogue.fits``) each keep
    their own sidecar instead of the second overwriting the first's.
    """
    path = Path(path)
    return path.with_name(path.name + ".json")


def legacy_sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where versions before the per-file sidecar wrote it: ``<stem>.json``, shared by every format of one stem."""
    return Path(path).with_suffix(".json")


def catalogue_format(path: str | os.PathLike[str] | None, fmt: str | None = None) -> str:
    """The export format of a catalogue named ``path``: ``fmt`` when given, else the one its extension names.

    ``--out x.fits`` alone wrote a CSV file named ``x.fits`` (which the next scan
    of the folder listed as an unreadable image), and ``--format fits --out
    x.csv``, or ``x.csv`` typed into the FITS export's dialog, a FITS table named
    ``x.csv``, without a word.  So an extension that names a catalogue format
    (the file filters of :data:`core.catalog.export.EXPORT_FORMATS`: ``.csv``,
    ``.fits``, ``.vot`` or ``.xml``, ``.ecsv``, ``.parquet``, ``.hats``) chooses the
    format when ``fmt`` is None, and must agree with ``fmt`` when it is given;
    another extension or none keeps ``fmt``, or the default, CSV.

    Raises
    ------
    ValueError
        When the extension names another format than ``fmt``.
    """
    import re

    from core.catalog.export import EXPORT_FORMATS

    named: dict[str, list[str]] = {}
    for name in EXPORT_FORMATS.names():
        for suffix in re.findall(r"\*(\.[A-Za-z0-9]+)", EXPORT_FORMATS.get(name).options.filter):
            named.setdefault(suffix.lower(), []).append(name)
    by_name = named.get(Path(path).suffix.lower(), []) if path is not None else []
    if fmt is None:
        return by_name[0] if by_name else EXPORT_FORMATS.default
    if by_name and fmt not in by_name:
        right = Path(path).with_suffix(EXPORT_FORMATS.get(fmt).options.suffix).name  # type: ignore[arg-type]
        raise ValueError(f"{Path(path).name} names a {by_name[0]} catalogue, not a {fmt} one: name it {right}")
    return fmt


def _recorded_sha256(side: Path) -> str | None:
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
        return str(record["catalogue"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _catalogue_sha256(path: Path) -> str | None:
    try:
        if path.is_dir():  # a partitioned Parquet or HATS folder: its digest (core.catalog.survey)
            from core.catalog.survey import folder_sha256

            return folder_sha256(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def find_sidecar(path: str | os.PathLike[str]) -> Path:
    """The sidecar that describes catalogue ``path``: :func:`sidecar_path`, else an older ``<stem>.json`` of it.

    The old name (:func:`legacy_sidecar_path`) is taken only when the new one is
    absent and the old one's ``catalogue.sha256`` is this catalogue's: a
    ``<stem>.json`` shared by two formats describes the last one written, so it
    cannot be trusted by its name alone.  Returns :func:`sidecar_path` (which may
    not exist) otherwise.
    """
    path = Path(path)
    new, old = sidecar_path(path), legacy_sidecar_path(path)
    if new.exists() or old == path or not old.is_file():
        return new
    recorded = _recorded_sha256(old)
    return old if recorded is not None and recorded == _catalogue_sha256(path) else new


def _journal(path: Path) -> Path:
    return path.with_name(JOURNAL.format(name=path.name))


def _temp(path: Path) -> Path:
    # The target's suffix last, for writers that go by it.
    return path.with_name(f".{path.name}.export-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform or file system without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _staged_prefix(path: Path) -> str:
    """The name of a staged journal (:func:`_staged_journal`) up to its process id: ``<journal>.``."""
    return _journal(path).name + "."


def _staged_journal(path: Path, pid: int) -> Path:
    """The journal as :func:`write_pair` stages it before its atomic rename: ``<journal>.<pid>``."""
    return _journal(path).with_name(f"{_staged_prefix(path)}{pid}")


def _stale_temps(path: Path) -> list[Path]:
    """Temporary files of exports to ``path`` (or its sidecar) whose process is gone.

    Also a staged journal (:func:`_staged_journal`) whose export was killed before
    renaming it: that export never committed, so its journal is dropped with its
    temporary files and the previous pair stands.
    """
    out = []
    staged = _staged_prefix(path)
    names = {path.name, sidecar_path(path).name, legacy_sidecar_path(path).name}
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return out
    for entry in entries:
        pid = entry.name[len(staged):] if entry.name.startswith(staged) else ""
        if pid.isdigit() and not _alive(int(pid)):
            out.append(entry)
            continue
        for name in names:
            # .tmp-: atomic_write_text's own temporary file, also inside an export's (..<name>.export-).
            for marker in (f".{name}.export-", f".{name}.tmp-", f"..{name}.export-"):
                rest = entry.name[len(marker):] if entry.name.startswith(marker) else None
                pid = (rest or "").split("-")[0].split(".")[0]
                if rest is not None and pid.isdigit() and not _alive(int(pid)):
                    out.append(entry)
    return out


def recover_export(path: str | os.PathLike[str]) -> bool:
    """Finish an export to ``path`` that was killed between its renames; remove a killed export's temporary files.

    Returns True when a journal was found and the pair completed.  The journal
    is only written once both temporary files are complete and fsynced, so
    finishing its renames gives exactly the pair that export meant to write.
    """
    path = Path(path)
    journal = _journal(path)
    finished = False
    if journal.is_file() and not journal.is_symlink():
        try:
            entry = json.loads(journal.read_text(encoding="utf-8"))
            moves = [(path.with_name(entry["sidecar"]), _journaled_sidecar(path, entry)),
                     (path.with_name(entry["catalogue"]), path)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            moves = []  # written atomically, so unreadable means not ours: leave the files alone
        for tmp, final in moves:
            if tmp.is_file() and not tmp.is_symlink():
                os.replace(tmp, final)
                finished = True
        _fsync_dir(path.parent)
        journal.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    for stale in _stale_temps(path):
        stale.unlink(missing_ok=True)
    return finished


def _journaled_sidecar(path: Path, entry: dict) -> Path:
    """Where the journal ``entry`` of an export to ``path`` meant its sidecar to go.

    The journal names the sidecar's temporary file, ``.<final name>.export-<pid>-<token>...``
    (:func:`_temp`); this code's journals also name the final file (``sidecar_name``).  A
    journal of the old code meant ``<stem>.json``, this code's ``<name>.json``: only these two
    are accepted, so a journal cannot move a file anywhere else.
    """
    allowed = {sidecar_path(path).name, legacy_sidecar_path(path).name}
    name = entry.get("sidecar_name")
    if name is None:
        temp = str(entry["sidecar"])
        name = temp[1:temp.rfind(EXPORT_MARK)] if temp.startswith(".") and EXPORT_MARK in temp else ""
    if name not in allowed or name == path.name:
        raise ValueError(f"the journal of {path.name} names no sidecar of it")
    return path.with_name(name)


def write_pair(path: str | os.PathLike[str], write_catalogue: Callable[[Path], object],
               sidecar: Callable[[str], str]) -> tuple[Path, Path]:
    """Write the catalogue ``path`` and its sidecar ``<name>.json`` so that both change or neither.

    Parameters
    ----------
    path : path-like
        The catalogue file; the sidecar is :func:`sidecar_path` (``catalogue.csv.json``).
    write_catalogue : callable
        Writes the catalogue to the path it is given (a temporary name).
    sidecar : callable
        Returns the sidecar's text from the catalogue's SHA-256 (hex).

    Raises
    ------
    OSError
        A write failed (e.g. ``ENOSPC``); nothing at ``path`` or its sidecar
        changed, no temporary file is left, and ``filename`` names ``path``.
    """
    path = Path(path)
    side_path = sidecar_path(path)
    recover_export(path)
    tmp_cat, tmp_side, journal = _temp(path), _temp(side_path), _journal(path)
    try:
        write_catalogue(tmp_cat)
        _fsync_file(tmp_cat)
        digest = hashlib.sha256(tmp_cat.read_bytes()).hexdigest()
        _write_synced(tmp_side, sidecar(digest))
        staged = _staged_journal(path, os.getpid())
        _write_synced(staged, json.dumps({"catalogue": tmp_cat.name, "sidecar": tmp_side.name,
                                               "sidecar_name": side_path.name, "sha256": digest}))
        os.replace(staged, journal)
        _fsync_dir(path.parent)
    except BaseException as exc:
        for tmp in (tmp_cat, tmp_side, _staged_journal(path, os.getpid())):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            # Name the catalogue: a full disk there is not the project store's fault.
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    os.replace(tmp_side, side_path)
    os.replace(tmp_cat, path)
    _fsync_dir(path.parent)
    journal.unlink()
    _fsync_dir(path.parent)
    return path, side_path


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def sidecar_matches(path: str | os.PathLike[str]) -> bool:
    """Whether the sidecar beside catalogue ``path`` (:func:`find_sidecar`) describes exactly this catalogue (its SHA-256)."""
    path = Path(path)
    recorded = _recorded_sha256(find_sidecar(path))
    return recorded is not None and recorded == _catalogue_sha256(path)
