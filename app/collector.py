"""Python's garbage collector on the GUI thread only, while a window is open.

Left to itself, CPython collects garbage cycles in whichever thread allocates
past its threshold; in the app that is mostly a thread of :mod:`app.workers`'
pools, and there it destroyed Qt objects (menus, timers, signal relays) whose
last reference was a reference cycle, on a thread that does not own them.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from core.store.rows import collection_paused


class GuiThreadCollector(QObject):
    """Python's cyclic garbage collector, run on the GUI thread only, while a window holds it.

    CPython collects garbage cycles in whichever thread allocates past its
    threshold; in the app that is mostly a pool thread (a render, a job).  A
    cycle that holds the last reference to a Qt object owned by Python (a
    pyqtgraph view's menu, a ``QSettings``, a signal relay) then destroys that
    object on the pool thread, which Qt forbids; a fresh-clone CI run hung once
    inside a signal disconnect on the GUI thread while the pools were busy
    (issue 21's seventh pass).  While any window holds this object the automatic
    collector is off and a timer on the GUI thread collects instead, by
    CPython's own rule (:meth:`collect_due`), so garbage is collected as often
    as before and only its thread changes.  The GIL already let no thread run
    Python during a collection, so moving it to the GUI thread adds no stall.

    pyqtgraph ships the same idea (``pyqtgraph.util.garbage_collector``), but it
    cannot be stopped (the tests open hundreds of windows in one process, and
    the collector must come back when each closes) and it collects the oldest
    generation after every ten middle ones, without CPython's check that a
    quarter more long-lived objects exist; here a full collection of the app
    with torch imported took 160 ms, so that check is kept.  And what survives a
    full collection is frozen (``gc.freeze``): the modules, the window, the
    project, 324,000 objects once torch is imported, are no longer visited by
    every later full collection, which visits only what became long-lived since
    (a full collection during an export took 160-270 ms of the GUI thread at
    200,000 galaxies).  :meth:`thaw` gives them back to the collector when a
    project is closed, whose cycles may be garbage now.

    Parameters
    ----------
    parent : QObject, optional
        Its owner (the application, see :func:`gui_thread_collector`).
    interval_ms : int
        How often the GUI thread checks whether a collection is due.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 25) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect_due)
        self._holders: set[int] = set()
        self._next_key = 0
        self._was_enabled = True
        self._long_lived = 0  # objects in the oldest generation after the last full collection
        self._pending = 0  # objects moved into the oldest generation since (CPython's long_lived_pending)
        self.collections = [0, 0, 0]  # collections run, per generation

    @property
    def active(self) -> bool:
        """Whether a window holds the collector (automatic collection is off)."""
        return bool(self._holders)

    def hold(self) -> int:
        """Collect on the GUI thread from now on, until this hold and every other is released; returns its key."""
        if not self._holders:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._long_lived, self._pending = len(gc.get_objects(generation=2)), 0
            self.timer.start()
        self._next_key += 1
        self._holders.add(self._next_key)
        return self._next_key

    def release(self, key: int) -> None:
        """The hold ``key`` is over (releasing it again is harmless); the last release turns automatic collection back on."""
        if key not in self._holders:
            return
        self._holders.discard(key)
        if not self._holders:
            self.timer.stop()
            gc.unfreeze()
            if self._was_enabled:
                gc.enable()

    def thaw(self) -> None:
        """Let the next full collection visit every object again (a project was closed: its cycles may be garbage)."""
        gc.unfreeze()
        self._long_lived, self._pending = len(gc.get_objects(generation=2)), 0

    def collect_due(self) -> int:
        """Collect the generation CPython would collect now, if any; returns it, or -1.

        CPython's rule (``collect_generations``), in the sizes it keeps: nothing
        until the youngest generation's count passes its threshold (700
        allocations); the middle generation once it was collected into ten times
        *or* the two younger generations hold more objects than ten of CPython's
        own batches (7,000), because one timer tick can gather several of them and
        a collection's cost grows with what it visits; the oldest only after ten
        middle collections and once a quarter more objects have become long-lived
        since its last collection.  Those are counted as CPython counts them, the
        survivors of each middle collection, not by listing the oldest generation
        (22 ms with torch imported, too much for a check every 25 ms).
        """
        if not self._holders or collection_paused():  # another thread builds a store's rows: collect after
            return -1
        if gc.isenabled():
            gc.disable()  # a block that paused and restored the collector around this hold turned it back on
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if thresholds[0] == 0 or counts[0] <= thresholds[0]:
            return -1
        gen = 0
        young = counts[0] + len(gc.get_objects(generation=1))
        if counts[1] > thresholds[1] or young > thresholds[0] * max(thresholds[1], 1):
            gen = 1
        if counts[2] > thresholds[2] and self._pending >= self._long_lived / 4:
            gen = 2
        found = gc.collect(gen)
        self.collections[gen] += 1
        if gen == 1:
            self._pending += max(young - found, 0)  # the middle generation's survivors moved into the oldest
        elif gen == 2:
            gc.freeze()  # its survivors: the next full collections visit only what became long-lived since
            self._long_lived, self._pending = 0, 0
        return gen


_COLLECTOR: GuiThreadCollector | None = None


def gui_thread_collector() -> GuiThreadCollector:
    """The application's one :class:`GuiThreadCollector` (made on first use, on the GUI thread)."""
    global _COLLECTOR
    if _COLLECTOR is None:
        from PySide6.QtCore import QCoreApplication

        _COLLECTOR = GuiThreadCollector(QCoreApplication.instance())
    return _COLLECTOR
