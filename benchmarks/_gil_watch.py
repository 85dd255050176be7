"""What the other threads were doing while the GUI thread could not beat: ``gui_stalls.py --watch``.

A wall gap of the GUI thread's heartbeat far longer than its CPU gap means the
GUI thread waited: for the interpreter lock (a job's thread in one long C call
that keeps it), for a lock of its own (SQLite, a mutex), or for a CPU (other
processes).  A watchdog thread tells these apart.  It wakes every 2 ms; each
time it had to wait more than :data:`LONG_S` for the lock itself (its sleep
plus the wait), it keeps the stack of every other thread as it finds them: the
thread that held the lock has just let it go, so its stack still names the call
that kept it (the line after a C call, or the C call's caller).  And while the
GUI thread has not beaten for :data:`LONG_S` though the watchdog runs, the GUI
thread is blocked outside the lock, or working: its stack is kept every
:data:`LONG_S`.  Only for benchmarks: sampling stacks costs the process a
little CPU, so the figures of a run with ``--watch`` are not the verdict's.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

#: A wait of the watchdog (or a silence of the GUI thread) longer than this is kept with the stacks.
LONG_S = 0.02
#: Frames kept of each stack, innermost last.
DEPTH = 6


def _stack(frame, depth: int = DEPTH) -> list[str]:
    """The innermost ``depth`` frames of a stack as ``file:line function`` (site-packages' prefix dropped), innermost
    last: read from the frames alone (no source lines looked up), the least done while the other threads wait."""
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{code.co_filename.split('site-packages/')[-1].split('/work/')[-1]}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return out[::-1]


class Watchdog:
    """A thread that keeps other threads' stacks whenever it waited long for the lock or the GUI thread went quiet.

    Parameters
    ----------
    last_beat : callable
        The ``time.perf_counter()`` of the GUI thread's last heartbeat.
    """

    def __init__(self, last_beat) -> None:
        self.last_beat = last_beat
        self.gui = threading.get_ident()
        self.samples: deque[tuple[float, float, str, dict[str, list[str]]]] = deque(maxlen=20_000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gil-watchdog", daemon=True)

    def start(self) -> None:
        """Watch from now on."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = time.perf_counter()
        quiet_kept = 0.0
        me = threading.get_ident()
        while not self._stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            waited = now - last - 0.002
            silent = now - self.last_beat()
            what = ""
            if waited > LONG_S:
                what = "lock"  # we waited: someone held the lock (or the machine gave us no CPU)
            elif silent > LONG_S and now - quiet_kept > LONG_S:
                what = "gui quiet"  # we run, the GUI thread does not beat: it works or waits outside the lock
                quiet_kept = now
            if what:
                names = {t.ident: t.name for t in threading.enumerate()}
                stacks = {("GUI" if tid == self.gui else names.get(tid, str(tid))): _stack(frame)
                          for tid, frame in sys._current_frames().items() if tid != me}
                self.samples.append((now - max(waited, 0.0) if what == "lock" else now, now, what, stacks))
            last = time.perf_counter()

    def between(self, start: float, end: float) -> list[dict]:
        """The samples kept between ``start`` and ``end`` (perf_counter), idle threads left out, as JSON-ready dicts."""
        out = []
        for a, b, what, stacks in list(self.samples):
            if b < start or a > end:
                continue
            busy = {name: st for name, st in stacks.items() if st and not _idle(st)}
            out.append({"at_ms": round(1000 * (b - start)), "waited_ms": round(1000 * (b - a)), "what": what,
                        "stacks": busy})
        return out


def _idle(stack: list[str]) -> bool:
    """A thread waiting for work: a condition's wait, a queue's get, the watchdog's or a timer's sleep."""
    top = stack[-1]
    return any(s in top for s in (" wait", " _wait_for_tstate_lock", " get", "select", " sleep"))


def summary(samples: list[dict], lines: int = 3) -> str:
    """The longest wait kept and the innermost frames of each busy thread then, in one line each."""
    if not samples:
        return ""
    worst = max(samples, key=lambda s: s["waited_ms"])
    text = [f"{worst['what']} {worst['waited_ms']} ms at +{worst['at_ms']} ms"]
    for name, stack in worst["stacks"].items():
        text.append(f"{name}: " + " < ".join(reversed(stack[-lines:])))
    return "; ".join(text)
