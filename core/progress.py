"""Progress and cancellation: the one definition every long-running core function uses, and the CLI's text bar.

Long work in core takes ``progress`` (called with the fraction done and what runs now)
and ``should_stop`` (polled between batches or epochs); when ``should_stop`` says yes
the work raises :class:`Cancelled`, which :mod:`app.workers` turns into a cancelled job.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressFn = Callable[[float, str], None]
"""Called with the fraction done (0 to 1) and a short message saying what runs."""

StopFn = Callable[[], bool]
"""Polled between batches or epochs; True asks the work to stop."""


class Cancelled(Exception):
    """Raised inside long work when ``should_stop`` asked it to stop; the caller drops the result."""


class ProgressBar:
    """A text progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        # sys.stderr is looked up now, not when the module was imported: a caller (pytest's capture, an
        # embedding app) that replaced it afterwards gets the bar where it expects it.
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_decile = -1
        self.last_draw = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and fraction < 1.0:
                return
            self.last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {fraction:6.1%} {message[:60]:<60}")
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            decile = int(fraction * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(f"{fraction:6.1%} {message}\n")
        self.stream.flush()
