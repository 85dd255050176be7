"""A labelled image's content fingerprint, recorded on a thread of its own after the label is saved.

A label follows its file to a new name or folder by the file's content
(:mod:`core.store.identity`), so each labelled image's fingerprint
(``c2:<size>:<sha1>``, :func:`core.images.io.file_fingerprint`) is kept in
``images.content``.  It was taken inside :meth:`ProjectStore.set_labels`, on
the thread that labels: a whole cluster of 25,000 galaxies labelled at once
read and hashed 25,000 files with the window frozen (0.37-0.44 s of the GUI
thread at 200,000 galaxies with no file there to read; seconds with them).

Now the label alone is written (and durable) there, and :class:`ContentRecorder`
records the content afterwards, on its own thread and database connection, in
short transactions: from the feature cache first (:meth:`FeatureCache.known_contents`:
the fingerprint it verified when it computed the image's features, signed by
this installation, while the file's size and times are unchanged; no file is
read), by hashing the file otherwise.  A batch (a whole cluster labelled) waits for the
labelling to pause for a second (:data:`QUIET_S`), so its work does not share the
CPU with the window's next actions.

A label is never lost by this; what is at stake is that it follows a rename:

* a file renamed or moved before its fingerprint is recorded: the cache's
  fingerprint of the vanished name is recorded (the content it had when its
  features were computed), and the next scan's :func:`reattach_labels` asks
  the cache too for a vanished labelled image with none recorded;
* the app closed before all were recorded: the rest is recorded at the next
  open (:meth:`ContentRecorder.record_pending`, from :meth:`core.project.Project.open`),
  and the next clustering records those of the files still there from the
  fingerprints its feature extraction verified (:func:`changed_since_labelled`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

#: Images looked up and recorded per transaction: a short write lock, and a close that waits for little.
CHUNK = 200
#: Put in the queue by :meth:`ContentRecorder.record_pending`: every labelled image with no content recorded.
_PENDING = None
#: Seconds with no label made before the recorder starts on a batch of :data:`CHUNK` images or more, and the longest
#: it waits for such a pause.  Its work is Python a file (40 us each, 1 s for a cluster of 25,000 labelled at once)
#: and, run beside the GUI thread on a 2-core machine, it made the window's next actions (an undo, the next key)
#: take about twice their time.  A few images (a key on one galaxy) are recorded at once, as before.
QUIET_S, QUIET_MAX_S = 1.0, 10.0
#: Between two chunks the recorder rests three times the CPU time the last one took (:meth:`ContentRecorder._rest`).
REST = 3.0


def _closed(*_args: object) -> None:
    """What a closed recorder holds in place of its store's methods (it records nothing more)."""
    raise RuntimeError("the content recorder is closed")


class ContentRecorder:
    """Records the content fingerprint of labelled images off the labelling thread, one transaction per chunk.

    Parameters
    ----------
    database : path-like
        The project's ``project.sqlite`` (a connection of its own is opened on the recorder's thread).
    path_of : callable
        An image's path on disk from its stored key (:meth:`ProjectStore.path_of`).
    known : callable
        Image keys -> the fingerprints the feature cache vouches for (:meth:`FeatureCache.known_contents`).

    Attributes
    ----------
    hashed, from_cache : int
        Files read and hashed, fingerprints taken from the cache (what the tests count).
    thread_ids : set of int
        The threads the fingerprints were taken on (the tests check it is never the caller's).
    """

    def __init__(self, database: str | Path, path_of: Callable[[str], str],
                 known: Callable[[list[str]], Mapping[str, str]]) -> None:
        self._database, self._path_of, self._known = Path(database), path_of, known
        self._queue: list[list[int] | None] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._stop = False
        self._last_put = 0.0
        self._now = False  # wait() asked for everything now: no pause waited for
        self.hashed = 0
        self.from_cache = 0
        self.thread_ids: set[int] = set()

    def submit(self, image_ids: Iterable[int]) -> None:
        """Record the content of these images (those that have none yet) on the recorder's thread; returns at once."""
        self._put(np.asarray(list(image_ids) if not isinstance(image_ids, np.ndarray) else image_ids, np.int64).tolist())

    def record_pending(self) -> None:
        """Record the content of every labelled image that has none yet (the app closed before it was recorded)."""
        self._put(_PENDING)

    def _put(self, item: list[int] | None) -> None:
        with self._cond:
            if self._stop:
                return
            self._queue.append(item)
            if item is not _PENDING and len(item) >= CHUNK:
                self._last_put = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="content-recorder", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted is recorded (or found unreadable), or the recorder is closed (tests).

        The recorder starts at once, without waiting for a pause in the labelling (:data:`QUIET_S`).
        """
        with self._cond:
            self._now = True
            self._cond.notify_all()
            done = self._cond.wait_for(lambda: self._stop or (not self._queue and not self._busy), timeout)
            self._now = False
            return done

    def close(self) -> None:
        """Stop after the image at hand and wait for the thread; what is left is recorded at the next open."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._path_of = self._known = _closed  # the store's methods: a cycle with the store that owns this recorder

    def _run(self) -> None:
        db = sqlite3.connect(self._database, timeout=30)
        try:
            db.execute("PRAGMA synchronous=FULL")
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stop or bool(self._queue))
                    self._wait_for_a_pause()
                    if self._stop:
                        return
                    item = self._queue.pop(0)
                    self._busy = True
                try:
                    self._record(db, item)
                except (sqlite3.Error, OSError, ValueError):
                    pass  # a busy or closed store: left unrecorded, as after a close (recorded at the next open)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            db.close()
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _wait_for_a_pause(self) -> None:
        """Hold (the condition held) until no batch came for :data:`QUIET_S`, at most :data:`QUIET_MAX_S`.

        Labels are durable without this; what waits is only their fingerprint, which a rename in that
        time still finds in the feature cache (see the module's docstring).
        """
        give_up = time.monotonic() + QUIET_MAX_S
        while not (self._stop or self._now):
            left = min(self._last_put + QUIET_S, give_up) - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _rest(self, worked: float) -> None:
        """Between chunks, rest :data:`REST` times the CPU time the last chunk took (unless a close or ``wait`` asks now).

        The recorder then takes at most a quarter of a CPU, whenever the window acts beside it.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._stop or self._now, timeout=REST * worked)

    def _record(self, db: sqlite3.Connection, ids: list[int] | None) -> None:
        from core.images.io import file_fingerprint

        if ids is None:
            pending = db.execute("SELECT i.id, i.path FROM images i JOIN labels l ON l.image_id = i.id "
                                 "WHERE i.content IS NULL").fetchall()
        else:
            pending = []
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                pending += db.execute(f"SELECT id, path FROM images WHERE content IS NULL AND id IN "
                                      f"({','.join('?' * len(chunk))})", chunk).fetchall()
        self.thread_ids.add(threading.get_ident())
        began = time.thread_time()
        for start in range(0, len(pending), CHUNK):
            if start:
                self._rest(time.thread_time() - began)
                if self._stop:
                    return
                began = time.thread_time()
            part = pending[start:start + CHUNK]
            known = self._known([key for _, key in part])
            found = []
            for image_id, key in part:
                if self._stop:
                    break
                content = known.get(key)
                if content is not None:
                    self.from_cache += 1
                else:
                    try:
                        content = file_fingerprint(self._path_of(key))
                    except OSError:
                        continue  # gone or unreadable, and not in the cache: nothing known to record
                    self.hashed += 1
                found.append((content, image_id))
            if found:
                with db:
                    db.executemany("UPDATE images SET content=? WHERE id=? AND content IS NULL", found)
            if self._stop:
                return
