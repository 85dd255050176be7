"""One writer per project: an exclusive ``flock`` on ``<store>/lock``, shared within a process.

A writable store holds the lock for as long as it is open (shared by every
store object of the same process, released by the kernel if the process dies);
a second process that opens the project gets :class:`ProjectLocked` with the
other process's id.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from pathlib import Path

from core.store.layout import ProjectLocked, open_in_store

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
