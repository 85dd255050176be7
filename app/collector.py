"""Python's garbage collector on the GUI thread only, while a window is open.

Left to itself, CPython collects garbage cycles in whichever thread allocates
past its threshold; in the app that is mostly a thread of :mod:`app.workers`'
pools, and there it destroyed Qt objects (menus, timers, signal relays) whose
last reference was a reference cycle, on a thread that does not own them.
"""

from __future__ import annotations

import gc
import weakref

from PySide6.QtCore import QObject, QTimer

from core.store.rows import collection_paused

#: Objects a closed project that went by reference counting may still leave frozen: the cycles psygnal's weak
#: callbacks make, one per view's method connected to its events (184 measured with the window's views).
LEFT_BY_A_PROJECT = 200
#: How many such objects may wait frozen before a project's close thaws them: a quarter of what the app holds
#: (175,000 objects with a project of 200,000 galaxies shown, no torch), as CPython lets a quarter more objects
#: wait in its oldest generation; 200 projects opened one after another.  Counted, not listed: gc.get_freeze_count
#: walks every frozen object (23 ms at 500,000).
LEFT_AT_MOST = 40_000


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
    200,000 galaxies).  What the app made before its window (the modules) is
    frozen when the window takes the collector (:meth:`hold`), so even the
    session's first full collection visits only what came after (0.14 s ->
    0.06 s at File > Open folder of 200,000 galaxies).

    :meth:`thaw` gives every frozen object back to the collector, and the next
    full collection visits them all again (0.14-0.27 s at 200,000 galaxies);
    :meth:`let_go` does it only when a closed project outlived reference
    counting (something still holds it, maybe a cycle only a full collection
    frees), or once the small cycles that projects which went may have left
    frozen (:data:`LEFT_BY_A_PROJECT` each) pass a quarter of the
    objects the app holds (:data:`LEFT_AT_MOST`), as CPython lets a quarter
    more objects wait in its oldest generation before collecting it.

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
        self._left = 0  # objects that closed projects may have left frozen since the last thaw (an estimate)
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
            gc.freeze()  # the modules and whatever else came before the window: no full collection of it visits them
            self._left = 0
            self._long_lived, self._pending = 0, 0
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
        self._left = 0

    def let_go(self, gone: weakref.ref) -> bool:
        """A closed project was let go (``gone``: a weak reference to it); thaw if it may have left garbage frozen.

        Thawed (True) when it is still alive, so held by something, maybe a cycle
        of its own that only a full collection frees, or when what the projects
        that went may have left frozen passed :data:`LEFT_AT_MOST`.
        A project that went by reference counting took every object only it held
        with it, and the next full collection visits what came after, not the app.
        """
        if gone() is None:
            self._left += LEFT_BY_A_PROJECT
            if self._left <= LEFT_AT_MOST:
                return False
        self.thaw()
        return True

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
