"""One writer per project: an exclusive ``flock`` on ``<store>/lock``, shared within a process.

A writable store holds the lock for as long as it is open (shared by every
store object of the same process, released by the kernel if the process dies);
a second process that opens the project gets :class:`ProjectLocked` with the
other process's id, at once, or, inside :func:`lock_wait` (the CLI's
``--wait [SECONDS]``), after waiting for the holder to close the project.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.store.layout import ProjectLocked, open_in_store

# One exclusive lock per store folder and process, shared by every ProjectStore of the process
# (the app opens a second connection for its worker threads): folder -> (file descriptor, users).
_LOCKS: dict[Path, tuple[int, int]] = {}
_LOCKS_GUARD = threading.Lock()
# How long this thread waits for a held lock (seconds, inf: until it is free) and whom it tells.
_WAIT = threading.local()
#: Seconds between two tries while waiting for the lock.
POLL_S = 0.2


@contextmanager
def lock_wait(seconds: float, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Within this block, a store opened on this thread waits up to ``seconds`` for a held project lock.

    Parameters
    ----------
    seconds : float
        Longest wait (``math.inf``: until the other program closes the
        project; 0: refuse at once, the default outside the block).
    notify : callable, optional
        Told once, in a line naming the holder and the wait, when the lock is
        held (a batch user sees why nothing happens).
    """
    before = getattr(_WAIT, "value", (0.0, None))
    _WAIT.value = (max(0.0, float(seconds)), notify)
    try:
        yield
    finally:
        _WAIT.value = before


def _wait_for(fd: int, key: Path) -> bool:
    """Wait for the lock on ``fd`` as :func:`lock_wait` allows; True once it is taken."""
    seconds, notify = getattr(_WAIT, "value", (0.0, None))
    if seconds <= 0:
        return False
    if notify is not None:
        limit = "until it is closed" if seconds == float("inf") else f"up to {seconds:g} s"
        notify(f"the project {key.parent} is open in another Galaxy Sorter ({_lock_holder(fd)}); "
               f"waiting {limit} (Ctrl+C to stop)")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


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
            try:
                waited = _wait_for(fd, key)
            except BaseException:  # Ctrl+C while waiting
                os.close(fd)
                raise
            if not waited:
                holder = _lock_holder(fd)
                os.close(fd)
                seconds = getattr(_WAIT, "value", (0.0, None))[0]
                after = f" after waiting {seconds:g} s" if seconds > 0 else ""
                raise ProjectLocked(f"the project {key.parent} is open in another Galaxy Sorter ({holder}){after}; "
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
