"""A project the window lets go goes by reference counting, and nothing frozen is thawed for it.

At 200,000 galaxies the reopens' longest stall was one full garbage collection
on the GUI thread (0.14-0.27 s): the collector thawed every frozen object of the
app whenever another folder opened, so that the last project's cycles could be
collected.  But the last project was never garbage: the job pool kept every job
it ran (PySide6's ``QThreadPool`` holds each Python ``QRunnable``), and with the
feature load's job its project, features and all; and the project held itself
through its listeners' closures and its undo steps.  Now a job lets its work go
when it ran, a closed project lets its listeners and undo steps go, and the
collector thaws only for a project that outlived reference counting.
"""

from __future__ import annotations

import gc
import weakref

from tests.helpers import open_and_cluster, open_recent


def _reopened(qtbot, window, folder) -> None:
    """Open recent of ``folder`` (read off the GUI thread) and wait for the new project and its features."""
    shown = weakref.ref(window.project)
    open_recent(window, folder)
    qtbot.waitUntil(lambda: window.project is not shown() and window.project.features is not None
                    and not window.jobs.busy, timeout=60_000)


def test_a_reopened_folders_last_project_goes_by_reference_counting_and_nothing_is_thawed(qtbot, window, folder,
                                                                                         monkeypatch):
    open_and_cluster(qtbot, window, folder)
    _reopened(qtbot, window, folder)  # a project shown by a reopen: its features came by the feature-load job
    thawed: list[int] = []
    real_thaw = window.collector.thaw
    monkeypatch.setattr(window.collector, "thaw", lambda: thawed.append(1) or real_thaw())
    window.collector.timer.stop()  # no collection from here: whatever goes, goes by reference counting
    try:
        last = weakref.ref(window.project)
        store = weakref.ref(window.project.store)
        _reopened(qtbot, window, folder)
        assert last() is None, "the last project outlived its window's letting it go"
        assert store() is None  # its store too (its content recorder held the store's methods: a cycle)
        assert thawed == []  # the app's frozen objects stay frozen: the next full collection does not visit them
        _reopened(qtbot, window, folder)
        assert thawed == []
    finally:
        window.collector.timer.start()


def test_a_job_lets_its_function_and_arguments_go_once_it_ran(qtbot, window):
    class Work:
        def __call__(self, data, progress=None, should_stop=None) -> int:
            return len(data.items)

    class Data:
        items = [1, 2, 3]

    work, data = Work(), Data()
    gone = weakref.ref(work), weakref.ref(data)
    window.collector.timer.stop()
    try:
        with qtbot.waitSignal(window.jobs.finished, timeout=10_000) as done:
            window.jobs.start("test", work, data, on_result=lambda n: None)
        assert done.args == ["test", 3]
        del work, data
        qtbot.waitUntil(lambda: gone[0]() is None and gone[1]() is None, timeout=5_000)  # the pool's thread lets go
    finally:
        window.collector.timer.start()


def test_a_window_freezes_what_came_before_it_so_its_first_full_collection_visits_only_what_came_after(qtbot, window):
    """The session's first full collection visited every module (0.14 s at File > Open folder of 200,000 galaxies)."""
    assert gc.get_freeze_count() > 50_000  # the modules, frozen when the window took the collector
    assert len(gc.get_objects(generation=2)) < gc.get_freeze_count() / 10
