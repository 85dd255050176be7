"""A persistent feature cache: SQLite index plus memory-mapped float32 rows, every row verified.

Rows are keyed by (cache key, image key).  The cache key already covers the
model file's content and the preprocessing; the image key is the path relative
to the project root (so a moved or renamed project folder, or one opened once
by a relative and once by an absolute path, keeps its cache).  A row is valid
while the file's size, modification time and content fingerprint
(:func:`core.images.io.file_fingerprint`) are unchanged; the fingerprint is
recomputed only when the file's change time (which no tool sets back) moved.

Each cache key has one append-only ``<key>.f32`` file of rows.  A row is
written and fsynced *before* the index that points at it is committed, and the
index holds a CRC-32 of every row.  Reading checks the file's length against
the index, each row's checksum and that every value is finite; a bad row is
dropped from the index (so it is recomputed) and :meth:`FeatureCache.take_problems`
says what was found.  A torn tail (a write cut short by a crash or a full disk)
is cut off before the next append, so new rows are never misaligned.

A checksum proves a row intact, not that we computed it: whoever ships a folder
can rewrite rows and checksums alike (issue 19).  So each row also carries an
HMAC-SHA256, keyed by this installation's secret
(:func:`core.store.layout.installation_key`, kept in the user's config folder,
never in the image folder), over the cache key, the image key, the file's
fingerprint and the row's bytes.  A row this installation did not sign (a cache
that arrived with the folder, or one written before version 3) is dropped and
recomputed, never trusted; a whole-cache HMAC check costs no model time, where
re-verifying a sample against the model would cost inference and could miss a
few poisoned rows.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.store.identity import encode_key

#: Version 2: image keys relative to the project root, content fingerprints and a checksum per row.
#: Version 3: an HMAC per row with this installation's key (rows of version 2 are unsigned: recomputed).
SCHEMA_VERSION = 3


def _row_crc(row: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(row, dtype=np.float32).tobytes())


def _row_mac(secret: bytes, key: str, ikey: str, fingerprint: str, row: np.ndarray) -> str:
    """HMAC-SHA256 binding a row to this installation, its cache key, its image and that image's content."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in (key, ikey, fingerprint):
        mac.update(part.encode("utf-8", "surrogateescape") + b"\0")
    mac.update(np.ascontiguousarray(row, dtype=np.float32).tobytes())
    return mac.hexdigest()


def _secret() -> tuple[bytes, str | None]:
    """This installation's signing key, or a key for this process only (and why) when it cannot be kept."""
    from core.store.layout import installation_key

    try:
        return installation_key(), None
    except (OSError, RuntimeError) as exc:
        return os.urandom(32), (f"feature cache: this installation's key cannot be kept ({exc}); features "
                                f"computed now are not reused by the next session")


class _Stats:
    """``(size, mtime_ns, ctime_ns)`` of an image file; of a FITS band set, over all its band files.

    A band set (``obj_g.fits``, ``obj_r.fits`` ...) is cached under its reddest
    file, so an edit of another band must change what the cache compares too:
    the sizes are summed and the newest times taken.  Folder listings are kept
    for the object's life (one lookup or store), so a folder of many band files
    is listed once, not once per file.
    """

    def __init__(self) -> None:
        self._indexes: dict[Path, dict] = {}  # each folder's band index (core.images.fits.band_index), made once

    def __call__(self, path: Path) -> tuple[int, int, int]:
        from core.images.io import FITS_SUFFIXES

        st = os.stat(path)
        if not path.name.lower().endswith(FITS_SUFFIXES):
            return st.st_size, st.st_mtime_ns, st.st_ctime_ns
        from core.images.fits import band_group, band_index

        folder = path.parent
        if folder not in self._indexes:
            try:
                self._indexes[folder] = band_index(os.listdir(folder))
            except OSError:
                self._indexes[folder] = {}
        group = band_group(path.name, index=self._indexes[folder])
        if group is None or group[0] != path.name:
            return st.st_size, st.st_mtime_ns, st.st_ctime_ns
        size, mtime, ctime = 0, 0, 0
        for name in group:
            member = os.stat(folder / name)
            size, mtime, ctime = size + member.st_size, max(mtime, member.st_mtime_ns), max(ctime, member.st_ctime_ns)
        return size, mtime, ctime


def _readable_index(db_path: Path) -> bool:
    """Whether a cache index opens and passes ``quick_check`` (a read-only store cannot rebuild it)."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return db.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


class FeatureCache:
    """Feature rows on disk, looked up by image, verified on every read.

    Parameters
    ----------
    folder : path-like
        Folder for ``features.sqlite`` and the ``*.f32`` row files (created unless ``read_only``).
    root : path-like, optional
        The project's image folder: images are keyed by their path relative to
        it.  Without it (or for files outside it) the resolved absolute path is the key.
    read_only : bool
        Open an index copy (``index``) and never write: :meth:`store` does nothing.
    index : path-like, optional
        The SQLite index to open instead of ``folder/features.sqlite`` (a read-only copy).
    """

    def __init__(self, folder: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
                 read_only: bool = False, index: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder)
        self.root = Path(root).resolve() if root is not None else None
        self.read_only = read_only
        self._problems: list[str] = []
        self._dirs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._secret, problem = _secret()
        if problem:
            self._problems.append(problem)
        if not read_only:
            self.folder.mkdir(parents=True, exist_ok=True)
        db_path = Path(index) if index is not None else self.folder / "features.sqlite"
        if read_only:
            if db_path.is_file() and _readable_index(db_path):
                self._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
            else:  # no index to read (or a damaged one): an empty one in memory
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._migrate()
            return
        self._db = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            if self._db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            self._migrate()
        except sqlite3.OperationalError:
            raise  # busy or full: not damage
        except sqlite3.DatabaseError as exc:
            self._rebuild(db_path, exc)

    def _rebuild(self, db_path: Path, exc: Exception) -> None:
        """Start an empty cache when its index is damaged (it is only a cache: the rows are recomputed).

        The row files go too: without their index nothing says which image a row belongs to.
        """
        self._db.close()
        for path in [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), *self.folder.glob("*.f32")]:
            if path.exists():
                path.unlink()
        self._problems.append(f"feature cache: its index {db_path.name} was damaged ({exc}); it was rebuilt "
                              f"empty and the features are recomputed (labels are not in the cache and are untouched)")
        self._db = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one process creates or migrates; another waits (busy timeout)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise RuntimeError(f"the feature cache {self.folder} was written by a newer Galaxy Sorter "
                                   f"(cache schema {found} > {SCHEMA_VERSION})")
            if 0 < found < 2:
                # Version 1 rows carry neither fingerprints nor checksums: they cannot be
                # verified, so they are dropped and recomputed rather than trusted.
                db.execute("DROP TABLE IF EXISTS rows")
                db.execute("DROP TABLE IF EXISTS dims")
                for f in self.folder.glob("*.f32"):
                    f.unlink()
                self._problems.append("feature cache: rows from an older version cannot be verified; "
                                      "they are recomputed")
            db.execute("CREATE TABLE IF NOT EXISTS rows (key TEXT, path TEXT, size INTEGER, mtime_ns INTEGER,"
                       " ctime_ns INTEGER, fingerprint TEXT, row INTEGER, crc INTEGER, mac TEXT,"
                       " PRIMARY KEY (key, path))")
            if found == 2:
                # Version 2 rows carry no signature: the column is added empty, and each unsigned row is
                # dropped and recomputed when looked up (a shipped cache is never trusted).
                db.execute("ALTER TABLE rows ADD COLUMN mac TEXT")
            db.execute("CREATE TABLE IF NOT EXISTS dims (key TEXT PRIMARY KEY, dim INTEGER)")
            self._forget_old_stretch(db)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _forget_old_stretch(self, db: sqlite3.Connection) -> None:
        """Drop the rows of linear-data files (FITS, and PNG/TIFF that may hold 16 bits) made under another model stretch.

        Their features depend on :data:`core.images.fits.MODEL_STRETCH`, which the
        cache key (model and crop) does not hold; 8-bit JPEG rows do not, and stay.
        A meta entry, not a schema version, records the stretch, so an older
        release still opens the cache.
        """
        from core.images.fits import MODEL_STRETCH
        from core.images.io import FITS_SUFFIXES

        current = str(MODEL_STRETCH["version"])
        row = db.execute("SELECT value FROM meta WHERE key='model_stretch'").fetchone()
        if row is not None and row[0] == current:
            return
        suffixes = (*FITS_SUFFIXES, ".png", ".tif", ".tiff")
        stale = [(k, p) for k, p in db.execute("SELECT key, path FROM rows") if p.lower().endswith(suffixes)]
        if stale:
            db.executemany("DELETE FROM rows WHERE key=? AND path=?", stale)
            self._problems.append(f"feature cache: {len(stale)} row(s) of FITS, PNG or TIFF files were made with an "
                                  f"older stretch of linear data; they are recomputed")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('model_stretch', ?)", (current,))

    def close(self) -> None:
        """Close the index."""
        self._db.close()

    def take_problems(self) -> list[str]:
        """Return (and forget) what was found wrong in the cache since the last call, one line each."""
        with self._lock:
            out, self._problems = self._problems, []
        return out

    def image_key(self, path: str | os.PathLike[str]) -> str:
        """The key of an image: its path relative to the root (POSIX form), else its absolute path.

        The folder part is resolved (links, ``..``, the working directory) once
        per folder and remembered: resolving every path took most of a lookup.
        """
        folder, name = os.path.split(os.fspath(path))
        real = self._dirs.get(folder)
        if real is None:
            real = self._dirs[folder] = str(Path(folder or ".").resolve())
        full = os.path.join(real, name)
        if self.root is not None:
            prefix = str(self.root).rstrip(os.sep) + os.sep
            if full.startswith(prefix):
                full = full[len(prefix):].replace(os.sep, "/")
        return encode_key(full)  # lossless for a name that is not UTF-8 (issue 19)

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.f32"

    def _dim(self, key: str) -> int | None:
        row = self._db.execute("SELECT dim FROM dims WHERE key=?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def lookup(self, key: str, paths: Sequence[str | os.PathLike[str]]) -> dict:
        """Return the verified cached rows of those ``paths`` whose file is unchanged, keyed by the paths as given.

        A path is missing from the result when it has no row, when its file
        changed (size, modification time or content fingerprint), or when its
        row is damaged (beyond the end of the file, wrong checksum, values not
        finite); damaged rows are dropped from the index and reported by
        :meth:`take_problems`.
        """
        from core.images.io import file_fingerprint

        with self._lock:
            dim = self._dim(key)
            if dim is None or not self._file(key).exists():
                return {}
            index = {r[0]: r[1:] for r in self._db.execute(
                "SELECT path, size, mtime_ns, ctime_ns, fingerprint, row, crc, mac FROM rows WHERE key=?", (key,))}
        nbytes = self._file(key).stat().st_size
        n_rows = nbytes // (4 * dim)
        data = np.memmap(self._file(key), dtype=np.float32, mode="r", shape=(n_rows, dim)) if n_rows else None
        out: dict = {}
        damaged: list[str] = []
        foreign: list[str] = []
        seen_again: list[tuple[int, str, str]] = []
        stat = _Stats()
        for p in paths:
            ikey = self.image_key(p)
            entry = index.get(ikey)
            if entry is None:
                continue
            size, mtime_ns, ctime_ns, fingerprint, row, crc, mac = entry
            try:
                now_size, now_mtime, now_ctime = stat(Path(p))
                if now_size != size or now_mtime != mtime_ns:
                    continue  # the file changed: recomputed, as any edit would be
                # Nothing sets the change time back (``touch -r`` copies only the modification
                # time), so an unchanged one spares reading the file; a new one (a copied or
                # replaced file) means the content fingerprint decides.
                if now_ctime != ctime_ns:
                    if file_fingerprint(p) != fingerprint:
                        continue
                    seen_again.append((now_ctime, key, ikey))
            except OSError:
                continue
            if data is None or row >= n_rows:
                damaged.append(ikey)
                continue
            values = np.array(data[row])
            if _row_crc(values) != crc or not np.isfinite(values).all():
                damaged.append(ikey)
                continue
            if not isinstance(mac, str) or not hmac.compare_digest(
                    mac, _row_mac(self._secret, key, ikey, str(fingerprint), values)):
                foreign.append(ikey)
                continue
            out[p] = values
        del data
        if seen_again and not self.read_only:
            with self._lock, self._db:
                self._db.executemany("UPDATE rows SET ctime_ns=? WHERE key=? AND path=?", seen_again)
        if foreign:
            with self._lock:
                self._problems.append(
                    f"feature cache {self._file(key).name}: {len(foreign)} row(s) not computed by this installation "
                    f"(a cache that came with the folder, or from an older version) are not trusted and are "
                    f"recomputed")
                if not self.read_only:
                    with self._db:
                        self._db.executemany("DELETE FROM rows WHERE key=? AND path=?", [(key, k) for k in foreign])
        if damaged:
            with self._lock:
                self._problems.append(
                    f"feature cache {self._file(key).name}: {len(damaged)} damaged row(s) (torn or corrupted file) "
                    f"were discarded and are recomputed")
                if not self.read_only:
                    with self._db:
                        self._db.executemany("DELETE FROM rows WHERE key=? AND path=?", [(key, k) for k in damaged])
        return out

    def vanished_rows(self, key: str, paths: Sequence[str | os.PathLike[str]]) -> dict:
        """The rows of files that no longer exist, as computed while they did (issue 19, item 8).

        A reopened run keeps the images it clustered, even one deleted since: its
        features are the ones it was clustered with.  Only files that are gone are
        answered (an existing file goes through :meth:`lookup`), and only rows
        that pass every check but the file's: checksum, finite values and this
        installation's signature.  Keyed by the paths as given.
        """
        with self._lock:
            dim = self._dim(key)
            if dim is None or not self._file(key).exists():
                return {}
            index = {r[0]: r[1:] for r in self._db.execute(
                "SELECT path, fingerprint, row, crc, mac FROM rows WHERE key=?", (key,))}
        n_rows = self._file(key).stat().st_size // (4 * dim)
        if not n_rows:
            return {}
        data = np.memmap(self._file(key), dtype=np.float32, mode="r", shape=(n_rows, dim))
        out: dict = {}
        for p in paths:
            ikey = self.image_key(p)
            entry = index.get(ikey)
            if entry is None or os.path.lexists(p) or entry[1] >= n_rows:
                continue
            fingerprint, row, crc, mac = entry
            values = np.array(data[row])
            if (_row_crc(values) == crc and np.isfinite(values).all() and isinstance(mac, str)
                    and hmac.compare_digest(mac, _row_mac(self._secret, key, ikey, str(fingerprint), values))):
                out[p] = values
        del data
        return out

    def store(self, key: str, paths: Sequence[Path], features: np.ndarray) -> None:
        """Append ``features`` (one row per path) and index them with their fingerprints and checksums."""
        from core.images.io import file_fingerprint

        features = np.ascontiguousarray(features, dtype=np.float32)
        if len(paths) != len(features):
            raise ValueError("one feature row per path is needed")
        if self.read_only:
            return
        stats = []
        stat = _Stats()
        for p in paths:
            stats.append((self.image_key(p), *stat(Path(p)), file_fingerprint(p)))
        with self._lock:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO dims VALUES (?, ?)", (key, features.shape[1]))
            dim = self._dim(key)
            if dim != features.shape[1]:
                raise ValueError(f"cache {key} holds {dim}-d rows, not {features.shape[1]}-d")
            row_bytes = 4 * dim
            # Never through a link or into a hard-linked file (a planted <key>.f32, issue 19).
            from core.store.layout import open_in_store

            with open(open_in_store(self._file(key), os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as fh:
                # An exclusive lock on the row file: two writers never interleave their appends.
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    size = os.fstat(fh.fileno()).st_size
                    if size % row_bytes:
                        # A partial row at the end: a write cut short.  Rows indexed so far all lie
                        # before it (a row is indexed only after it is on disk), so cut it off.
                        os.ftruncate(fh.fileno(), size - size % row_bytes)
                        self._problems.append(f"feature cache {self._file(key).name}: a partial row left by an "
                                              f"interrupted write was cut off")
                        size -= size % row_bytes
                    start = size // row_bytes
                    fh.write(features.tobytes())
                    fh.flush()
                    os.fsync(fh.fileno())
                except BaseException:
                    # Leave no partial row behind (a full disk, say): cut back to where we started.
                    try:
                        os.ftruncate(fh.fileno(), size)
                    except (OSError, UnboundLocalError):
                        pass
                    raise
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            with self._db:
                # Entries pointing at or past ``start`` point at rows a shortened file lost; they go.
                self._db.execute("DELETE FROM rows WHERE key=? AND row>=?", (key, start))
                self._db.executemany(
                    "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(key, k, s, m, c, fp, start + i, _row_crc(features[i]),
                      _row_mac(self._secret, key, k, fp, features[i]))
                     for i, (k, s, m, c, fp) in enumerate(stats)])

    def fingerprints(self, key: str, image_keys: Sequence[str]) -> dict[str, str]:
        """The content fingerprint indexed under ``key`` for each of ``image_keys`` that has a row (no file is read)."""
        out: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(image_keys), 500):
                chunk = list(image_keys[start:start + 500])
                out.update((k, fp) for k, fp in self._db.execute(
                    f"SELECT path, fingerprint FROM rows WHERE key=? AND path IN ({','.join('?' * len(chunk))})",
                    [key, *chunk]) if isinstance(fp, str))
        return out

    def known_contents(self, image_keys: Sequence[str], path_of: Callable[[str], str]) -> dict[str, str]:
        """The content fingerprint the cache vouches for, per image key, with no image file read.

        A row's fingerprint counts when this installation signed the row (its HMAC
        covers the fingerprint: a shipped index cannot name content) and the file
        has the size, modification and change times indexed with it (what
        :meth:`lookup` trusts); a file gone since gives it as last indexed.  The
        project store takes these as its labelled images' content (:mod:`core.store.content`).
        """
        with self._lock:
            found = []
            for start in range(0, len(image_keys), 500):
                chunk = list(image_keys[start:start + 500])
                found += self._db.execute(
                    "SELECT r.key, r.path, r.size, r.mtime_ns, r.ctime_ns, r.fingerprint, r.row, r.crc, r.mac, d.dim "
                    f"FROM rows r JOIN dims d ON d.key = r.key WHERE r.path IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        out: dict[str, str] = {}
        stat, data = _Stats(), {}
        for key, ikey, size, mtime, ctime, fp, row, crc, mac, dim in found:
            try:
                if ikey in out or stat(Path(path_of(ikey))) != (size, mtime, ctime):
                    continue
            except OSError:
                if os.path.lexists(path_of(ikey)):
                    continue  # there but unreadable: nothing vouched for
            if key not in data:
                n_rows = self._file(key).stat().st_size // (4 * dim) if self._file(key).exists() else 0
                data[key] = np.memmap(self._file(key), dtype=np.float32, mode="r", shape=(n_rows, dim)) if n_rows else None
            if data[key] is None or not isinstance(fp, str) or not isinstance(mac, str) or row >= len(data[key]):
                continue
            values = np.array(data[key][row])
            if _row_crc(values) == crc and hmac.compare_digest(mac, _row_mac(self._secret, key, ikey, fp, values)):
                out[ikey] = fp
        return out

    def count(self, key: str) -> int:
        """Number of indexed rows for ``key``."""
        return int(self._db.execute("SELECT COUNT(*) FROM rows WHERE key=?", (key,)).fetchone()[0])
