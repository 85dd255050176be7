"""Progress and cancellation: the one definition every long-running core function uses.

Long work in core takes ``progress`` (called with the fraction done and what runs now)
and ``should_stop`` (polled between batches or epochs); when ``should_stop`` says yes
the work raises :class:`Cancelled`, which :mod:`app.workers` turns into a cancelled job.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
"""Called with the fraction done (0 to 1) and a short message saying what runs."""

StopFn = Callable[[], bool]
"""Polled between batches or epochs; True asks the work to stop."""


class Cancelled(Exception):
    """Raised inside long work when ``should_stop`` asked it to stop; the caller drops the result."""
