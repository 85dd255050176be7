"""Garbage cycles that hold Qt objects are collected on the GUI thread, never on a pool's.

Measured with a probe over ``tests/app`` (issue 21's eighth pass, ``docs/benchmarks.md``):
CPython's collector ran mostly on the pools' threads (16,874 of 37,632 collected objects
there) and destroyed Python-owned Qt objects on them (pyqtgraph's view menus, ``QSettings``,
signal relays), which Qt forbids; a fresh-clone CI run had hung once, on the GUI thread,
inside a signal disconnect while the pools worked.
"""

from __future__ import annotations

import gc
import threading
import weakref


def _allocate(n: int) -> list[list[int]]:
    """What a render or a job does: many small Python objects, alive when it returns."""
    return [[i] for i in range(n)]


def test_qt_objects_in_garbage_cycles_die_on_the_gui_thread_while_a_pool_allocates(qtbot, window):
    from PySide6.QtCore import QObject, QTimer

    from app.workers import render_pool

    gui = threading.get_ident()
    died: list[int] = []
    kept: list[object] = []
    for trial in range(5):
        for obj in (QObject(), QTimer()):  # owned by Python, reachable only from its own cycle once dropped
            obj.cycle = obj
            weakref.finalize(obj, lambda: died.append(threading.get_ident()))
        del obj
        render_pool().submit(_allocate, 50_000, on_result=kept.append)  # the pool thread passes the threshold
        qtbot.waitUntil(lambda t=trial: len(kept) > t and len(died) == 2 * (t + 1), timeout=20_000)
    assert len(died) == 10
    assert set(died) == {gui}, f"{sum(t != gui for t in died)} of 10 Qt objects destroyed on a pool thread"
    assert window.collector.collections[0] > 0


def test_closing_the_window_gives_automatic_collection_back(qtbot, window):
    assert window.collector.active and not gc.isenabled()
    window.close()
    assert gc.isenabled()  # a script that closes its window, and every test after this one, collects as before


def test_the_collector_follows_cpythons_rule_without_listing_the_oldest_generation(qtbot, window, monkeypatch):
    """Young garbage goes in small batches, the oldest generation only after a quarter more long-lived objects."""
    c = window.collector
    gc.collect()
    kept = [[i] for i in range(10_000)]  # more than 7,000 young objects: the middle generation is due
    assert c.collect_due() == 1
    assert c._pending >= 10_000  # they survived, so they are long-lived now
    listed: list[int] = []
    real = gc.get_objects
    monkeypatch.setattr(gc, "get_objects", lambda generation=None: listed.append(generation) or real(generation))
    c._pending, c._long_lived = 0, 10**9  # far from a quarter more: the oldest generation waits
    for _ in range(12):
        kept.append([[i] for i in range(800)])  # past the youngest threshold each time
        assert c.collect_due() in (0, 1)
    assert 2 not in listed  # a check every 25 ms never lists the oldest generation (22 ms with torch)
    c._pending = c._long_lived = 0  # a quarter more (of nothing): the next due collection may be the full one
    gc.collect(1)
    for _ in range(11):
        gc.collect(1)  # ten middle collections since the last full one
    kept.append([[i] for i in range(800)])
    assert c.collect_due() == 2


def test_a_full_collection_freezes_its_survivors_and_opening_another_folder_thaws_them(qtbot, window, folder, tmp_path):
    """A GUI audit at 200,000 galaxies: each full collection visited every object of the app (324,000 once torch is
    imported; 140 ms with the window alone here, 160-270 ms during an export).  Its survivors are frozen now, so the
    next full collections visit only what came after; opening another folder thaws them, and a cycle of the last
    project that became garbage is collected."""
    import shutil

    c = window.collector
    window.open_folder(folder)
    old = window.project

    class Cycle:
        pass

    held = Cycle()
    held.me = held  # a cycle the project holds, long-lived: frozen with it
    old.held_cycle = held
    gone: list[int] = []
    weakref.finalize(held, lambda: gone.append(1))
    del held
    gc.collect(1)
    c._pending = c._long_lived = 0
    for _ in range(11):
        gc.collect(1)  # ten middle collections since the last full one: the next due collection is the full one
    kept = [[i] for i in range(800)]
    assert c.collect_due() == 2 and gc.get_freeze_count() > 100_000
    assert kept and len(gc.get_objects(generation=2)) < 1_000  # the next full collection has next to nothing to visit
    window.open_folder(shutil.copytree(folder, tmp_path / "other"))  # the last project is closed and dropped
    assert gc.get_freeze_count() == 0
    del old
    gc.collect()
    assert gone == [1]  # its cycle, frozen while it was open, is garbage the collector sees again
    window.close()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
