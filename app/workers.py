"""The one module that owns threads: long core calls on a QThreadPool.

A :class:`Job` runs a core function that takes ``progress`` and
``should_stop`` keyword arguments on a pool thread and reports back through
Qt signals, which Qt delivers on the GUI thread (queued connections), so the
window never freezes and widgets are only touched from the GUI thread.
Progress is throttled to ~20 updates a second, except that a new stage (a message
that differs in more than its numbers) is always shown.  Each job carries a generation
number; :class:`JobRunner` drops results of jobs that a newer one replaced
(the ndv pattern), so a cancelled-then-restarted run can never paint stale
clusters.  No job cancels another unasked: :meth:`JobRunner.start` refuses a
second job while one runs (:attr:`JobRunner.refused` says which, for the
window to tell the user) unless the caller passes ``replace=True`` because the
user asked for it; :meth:`JobRunner.abandon` cancels and forgets the running
job when its results no longer apply (another folder opened).  Each job
carries its own result handler (``on_result``, and
``on_cancelled`` when a cancelled job leaves something to tidy), called on the
GUI thread before :attr:`JobRunner.finished` is emitted, so the window needs
no switch over job names.  ``JobRunner(synchronous=True)`` runs jobs inline
for tests that need no thread.

:class:`RenderPool` is a second, light pool for drawing images (thumbnails, the
preview under a new stretch): many small tasks, each dropped when a newer
request made it stale, never touching the :class:`JobRunner`'s job, so a
stretch change can never cancel a clustering or a retraining.

:mod:`app.collector` keeps Python's garbage collector off these threads.
"""

from __future__ import annotations

import functools
import math
import re
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from core.progress import Cancelled

#: The interpreter's switch interval while a window is open (``sys.setswitchinterval``): the longest a thread that
#: asks for the GIL waits before the holder must let it go.  The GUI thread asks again after every Qt or numpy call
#: that let it go, and a job's Python thread beside it (a truth file read, an export's writer) kept it each time for
#: the whole interval: at 1 ms, a 30 ms repaint of the big map took 220-280 ms of wall while a truth file of 200,000
#: rows was read (gui_stalls, Catalogue > Load a truth file); at 0.2 ms, 35 ms.  Issue 18 had taken it from 5 ms to 1.
SWITCH_S = 0.0002

_held = 0  # starts_held blocks under way (the GUI thread's)
_waiting: list[Callable[[], None]] = []  # pool starts asked meanwhile, in order


@contextmanager
def starts_held() -> Iterator[None]:
    """Start the pools' tasks asked in this block (jobs, renders, serial calls) when it ends, in order; GUI thread only.

    A slot that starts work on other threads as it goes (a project shown:
    the Cluster x label count, the look for FITS images, the truth file read,
    then the feature load) shared the interpreter lock with that work for the
    rest of its own: at File > Open recent of 200,000 galaxies its 110-220 ms
    of the GUI thread's work took 300-860 ms of wall time, the window frozen
    throughout, each busy thread taking the lock in turn with it.
    """
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held:
            waiting = list(_waiting)
            _waiting.clear()
            for start in waiting:
                start()


def _start(pool: QThreadPool, task: Callable[[], None]) -> None:
    """``pool.start(task)``, or after the :func:`starts_held` block under way."""
    if _held:
        _waiting.append(functools.partial(pool.start, task))
    else:
        pool.start(task)


class JobSignals(QObject):
    """The signals of a :class:`JobRunner`'s jobs, each carrying the job's generation (one object per runner)."""

    progress = Signal(int, float, str, float)  # generation, fraction, message, eta seconds (nan if unknown)
    partial = Signal(int, object)  # generation, partial result
    finished = Signal(int, object)  # generation, result
    failed = Signal(int, str, str, str)  # generation, message, hint, traceback
    cancelled = Signal(int)


class TimeLeft:
    """Seconds left at the recent pace of a job, not at its pace since the start.

    A job's stages run at different paces (cached features arrive in a second, then DEC
    trains for a minute), so ``elapsed * (1 - f) / f`` grew during DEC training (11 s ->
    17 s left over 32 s, issue 18).  The pace here is measured over the last ``window``
    seconds, so within a stage the estimate falls as time passes.

    Parameters
    ----------
    window : float
        Seconds of progress the pace is measured over.
    min_span : float
        No estimate (nan) until progress spans this many seconds.
    """

    def __init__(self, window: float = 8.0, min_span: float = 1.0) -> None:
        self.window, self.min_span = window, min_span
        self.samples: deque[tuple[float, float]] = deque()

    def update(self, t: float, fraction: float) -> float:
        """Record ``fraction`` done at time ``t`` (seconds); return the seconds left, or nan."""
        self.samples.append((t, fraction))
        while len(self.samples) > 2 and t - self.samples[1][0] >= self.window:
            self.samples.popleft()
        t0, f0 = self.samples[0]
        if t - t0 < self.min_span or fraction <= f0 or not 0.0 < fraction < 1.0:
            return math.nan
        return (1.0 - fraction) * (t - t0) / (fraction - f0)


class Job:
    """Run ``fn(*args, progress=, should_stop=, **kwargs)`` off the GUI thread, reporting through ``signals``.

    A plain callable for the pool (``pool.start(job.run)``), not a ``QRunnable``:
    PySide6 6.11.3's ``QThreadPool`` keeps every Python ``QRunnable`` it ran with
    auto-delete off alive, with its arguments, for as long as the pool lives, so
    every job of a session stayed in memory, and with it the project of every
    feature load (``project.reload_features``): a reopened folder's old project,
    its arrays and every object of it, never went.  ``fn``, its arguments and
    the handlers are let go when the job ends (:meth:`run`, :meth:`JobRunner._done`).
    """

    def __init__(self, generation: int, fn: Callable[..., Any], *args: Any, signals: JobSignals | None = None,
                 with_partial: bool = False, **kwargs: Any) -> None:
        if with_partial:
            kwargs["partial"] = self.emit_partial
        self.on_result: Callable[[Any], None] | None = None
        self.on_cancelled: Callable[[], None] | None = None
        self.generation = generation
        self.fn: Callable[..., Any] | None = fn
        self.args, self.kwargs = args, kwargs
        self.signals = signals if signals is not None else JobSignals()
        self._stop = False
        self._last_emit = 0.0
        self._last_stage: str | None = None
        self._t0 = 0.0
        self._time_left = TimeLeft()

    def cancel(self) -> None:
        """Ask the job to stop at its next check (between batches or epochs)."""
        self._stop = True

    def _progress(self, fraction: float, message: str) -> None:
        now = time.perf_counter()
        stage = _stage(message)
        if now - self._last_emit < 0.05 and fraction < 1.0 and stage == self._last_stage:
            return  # a count within the same stage: throttled; a new stage always gets through
        self._last_emit, self._last_stage = now, stage
        elapsed = now - self._t0
        eta = self._time_left.update(elapsed, fraction)
        self.signals.progress.emit(self.generation, float(fraction), message, eta)

    def emit_partial(self, value: object) -> None:
        """Hand a partial result to the GUI thread (maps that fill in as features arrive)."""
        self.signals.partial.emit(self.generation, value)

    def run(self) -> None:
        """Call ``fn`` (on a pool thread) and emit its result, failure or cancellation; then let ``fn`` go."""
        self._t0 = time.perf_counter()
        fn, args, kwargs = self.fn, self.args, self.kwargs
        self.fn, self.args, self.kwargs = None, (), {}  # the job keeps no project nor array once it ran
        try:
            result = fn(*args, progress=self._progress, should_stop=lambda: self._stop, **kwargs)
        except Cancelled:
            self.signals.cancelled.emit(self.generation)
        except Exception as exc:  # shown to the user as a message, never a silent traceback
            # The hint comes with the exception's type (core errors carry ``hint``), never from its wording.
            self.signals.failed.emit(self.generation, _readable(exc), str(getattr(exc, "hint", "") or ""),
                                     traceback.format_exc())
        else:
            if self._stop:
                self.signals.cancelled.emit(self.generation)
            else:
                self.signals.finished.emit(self.generation, result)


_NUMBERS = re.compile(r"[-+]?\d[\d.,:]*")


def _stage(message: str) -> str:
    """The stage a progress message names: its text with the numbers taken out.

    "Extracting features 120/6000" and "... 130/6000" are one stage (throttled);
    "Training DEC" after "Extracting features" is a new one, shown even within the
    throttle window, so a short stage between two long ones is never lost.
    """
    return _NUMBERS.sub("#", message)


def _readable(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, (OSError, ValueError, RuntimeError)) else f"{type(exc).__name__}: {text}"


class JobRunner(QObject):
    """Start jobs, keep the current one, and drop results of superseded ones.

    Signals carry only the current job's events.
    """

    progress = Signal(float, str, float)
    partial = Signal(object)
    finished = Signal(str, object)  # job name, result
    failed = Signal(str, str, str, str)  # job name, message, hint, traceback
    cancelled = Signal(str)
    busy_changed = Signal(bool)
    refused = Signal(str, str)  # job asked for, job running

    def __init__(self, parent: QObject | None = None, synchronous: bool = False) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._generation = 0
        self.current: Job | None = None
        self.current_name = ""
        self.signals = JobSignals(self)  # every job's, told apart by generation: none is made and dropped a job
        self.signals.progress.connect(self._on_progress)
        self.signals.partial.connect(self._on_partial)
        self.signals.finished.connect(self._on_finished)
        self.signals.failed.connect(self._on_failed)
        self.signals.cancelled.connect(self._on_cancelled)

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self.current is not None

    def start(self, name: str, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
              on_cancelled: Callable[[], None] | None = None, replace: bool = False, **kwargs: Any) -> Job | None:
        """Start ``fn`` as job ``name``; while another job runs, refuse (None) unless ``replace``.

        A refusal emits :attr:`refused` (name asked, name running) and changes nothing: a
        shortcut pressed during a run must never cancel the run silently (issue 18).
        ``replace=True`` cancels the running job first, for a start the user asked to
        replace it with.  ``on_result(result)`` runs on the GUI thread when this job (and no
        newer one) finishes; ``on_cancelled()`` when it is cancelled.  ``with_partial=True``
        passes ``partial=callable`` to ``fn`` for partial results.
        """
        if self.current is not None:
            if not replace:
                self.refused.emit(name, self.current_name)
                return None
            self.current.cancel()
        self._generation += 1
        job = Job(self._generation, fn, *args, signals=self.signals, **kwargs)
        job.on_result, job.on_cancelled = on_result, on_cancelled
        self.current, self.current_name = job, name
        self.busy_changed.emit(True)
        if self.synchronous:
            job.run()
        else:
            _start(self.pool, job.run)  # a plain callable: the pool lets it go when it ran (see Job)
        return job

    def cancel(self) -> None:
        """Ask the running job to stop."""
        if self.current is not None:
            self.current.cancel()

    def abandon(self) -> None:
        """Cancel the running job and drop whatever it still reports (its project was closed)."""
        if self.current is not None:
            self.current.cancel()
            self._done()

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the pool to finish (used when the window closes)."""
        return self.pool.waitForDone(msecs)

    def _is_current(self, generation: int) -> bool:
        return self.current is not None and generation == self.current.generation

    def _done(self) -> tuple[str, Job | None, Callable[[Any], None] | None, Callable[[], None] | None]:
        """Forget the current job: its name, itself and its handlers, which it no longer holds.

        The handlers (closures over widgets) are let go here, on the GUI thread, not
        wherever the job's last reference goes (an abandoned job's is its pool thread's).
        """
        name, job = self.current_name, self.current
        self.current, self.current_name = None, ""
        on_result = on_cancelled = None
        if job is not None:
            on_result, on_cancelled, job.on_result, job.on_cancelled = job.on_result, job.on_cancelled, None, None
        self.busy_changed.emit(False)
        return name, job, on_result, on_cancelled

    def _on_progress(self, generation: int, fraction: float, message: str, eta: float) -> None:
        if self._is_current(generation):
            self.progress.emit(fraction, message, eta)

    def _on_partial(self, generation: int, value: object) -> None:
        if self._is_current(generation):
            self.partial.emit(value)

    def _on_finished(self, generation: int, result: object) -> None:
        if self._is_current(generation):
            name, _, on_result, _ = self._done()
            if on_result is not None:
                on_result(result)
            self.finished.emit(name, result)

    def _on_failed(self, generation: int, message: str, hint: str, tb: str) -> None:
        if self._is_current(generation):
            name, *_ = self._done()
            self.failed.emit(name, message, hint, tb)

    def _on_cancelled(self, generation: int) -> None:
        if self._is_current(generation):
            name, _, _, on_cancelled = self._done()
            if on_cancelled is not None:
                on_cancelled()
            self.cancelled.emit(name)


def _render_task(pool: RenderPool, task: int, fn: Callable[..., Any], args: tuple,
                 stale: Callable[[], bool] | None) -> None:
    """One render, on a pool thread: skipped when stale, its result or exception sent to the GUI thread."""
    if stale is not None and stale():
        pool.done.emit(task, None, False)  # a newer request replaced it before it began
        return
    try:
        result = fn(*args)
    except Exception as exc:  # handed to the requester, who shows a grey tile or a message
        pool.done.emit(task, exc, False)
    else:
        pool.done.emit(task, result, True)


class RenderPool(QObject):
    """Draw images off the GUI thread: ``submit(fn, *args, on_result=)`` calls ``on_result(fn(*args))`` on the GUI thread.

    Up to two threads (the machine may have two cores, and a running job keeps one
    busy), separate from :class:`JobRunner`'s pool: a render never waits for, nor
    cancels, the user's job.  ``stale()`` is asked on the pool thread just before a
    task starts; a task that became stale is skipped, and ``on_result`` is not called
    for it.  An exception from ``fn`` goes to ``on_error`` (if given).
    """

    done = Signal(int, object, bool)  # task, result or exception, ok

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, min(threads, QThread.idealThreadCount())))
        self._next = 0
        self._handlers: dict[int, tuple[Callable[[Any], None], Callable[[BaseException], None] | None]] = {}
        self.done.connect(self._on_done)

    def submit(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None,
               stale: Callable[[], bool] | None = None) -> int:
        """Run ``fn(*args)`` on the pool; returns the task's number."""
        self._next += 1
        self._handlers[self._next] = (on_result, on_error)
        # A plain callable, not a QRunnable subclass: PySide6 6.11.3 kept every Python QRunnable
        # this pool ran alive (referenced from the QThreadPool), each holding its arguments and
        # several references to None, ~6 a labelling key (issue 18).
        _start(self.pool, functools.partial(_render_task, self, self._next, fn, args, stale))
        return self._next

    def pending(self) -> int:
        """Tasks submitted whose result has not come back yet."""
        return len(self._handlers)

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the running tasks (tests, and the window closing)."""
        return self.pool.waitForDone(msecs)

    def _on_done(self, task: int, value: object, ok: bool) -> None:
        on_result, on_error = self._handlers.pop(task, (None, None))
        try:
            if ok and on_result is not None:
                on_result(value)
            elif isinstance(value, BaseException) and on_error is not None:
                on_error(value)
        except RuntimeError as exc:  # the widget that asked was closed while its image was drawn
            if "already deleted" not in str(exc):
                raise


_RENDER_POOL: RenderPool | None = None


def render_pool() -> RenderPool:
    """The application's one :class:`RenderPool` (made on first use, on the GUI thread)."""
    global _RENDER_POOL
    if _RENDER_POOL is None:
        from PySide6.QtCore import QCoreApplication

        _RENDER_POOL = RenderPool(QCoreApplication.instance())
    return _RENDER_POOL


class _CallSignals(QObject):
    done = Signal(object, object)  # handler, result
    failed = Signal(object, str)  # handler, message


class _Call(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[str], None] | None, signals: _CallSignals) -> None:
        super().__init__()
        self.fn, self.args, self.on_done, self.on_error, self.signals = fn, args, on_done, on_error, signals

    def run(self) -> None:  # noqa: D102 (Qt override)
        try:
            result = self.fn(*self.args)
        except Exception as exc:  # reported on the GUI thread, never raised into Qt
            self.signals.failed.emit(self.on_error, _readable(exc))
        else:
            self.signals.done.emit(self.on_done, result)


class SerialCalls(QObject):
    """Short blocking calls (messages to a SAMP hub) run one after another on their own thread.

    Unlike :class:`JobRunner`, a new call never cancels the one before (a
    selection sent after the table must arrive after it) and there is no
    progress; ``on_done(result)`` or ``on_error(message)`` run on the GUI
    thread.  A hub that hangs holds this thread, never the window.
    ``synchronous=True`` runs calls inline for tests.
    """

    def __init__(self, parent: QObject | None = None, synchronous: bool = False) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one at a time, in order
        self.signals = _CallSignals()
        self.signals.done.connect(lambda handler, result: handler and handler(result))
        self.signals.failed.connect(lambda handler, message: handler and handler(message))

    def call(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[str], None] | None = None) -> None:
        """Run ``fn(*args)`` after the calls already queued."""
        task = _Call(fn, args, on_done, on_error, self.signals)
        if self.synchronous:
            task.run()
        else:
            _start(self.pool, task)

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the queued calls (tests, closing the window)."""
        return self.pool.waitForDone(msecs)
