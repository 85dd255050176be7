"""A project the window lets go goes by reference counting, and nothing frozen is thawed for it.

At 200,000 galaxies the reopens' longest stall was one full garbage collection
on the GUI thread (0.14-0.27 s): the collector thawed every frozen object of the
app whenever another folder opened, so that the last project's cycles could be
collected.  But the last project was never garbage: the job pool kept every job
it ran (PySide6's ``QThreadPool`` holds each Python ``QRunnable``), and with the
feature load's job its project, features and all.  Now a job lets its work go
when it ran.
"""

from __future__ import annotations

import weakref


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
