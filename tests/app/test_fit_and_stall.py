"""Issue 18 items 4 and 6: stretch, limit and size changes never hold the GUI thread over 100 ms,
and the window fits a 1366 x 768 laptop screen."""

from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

STALL_LIMIT_S = 0.100  # the goal, in wall time
# The GUI thread's own work between two beats: half the goal, the rest for waiting on a shared machine.
# Drawing the strip's 10 thumbnails on the GUI thread, as before issue 18, took 91 ms of it here.
WORK_LIMIT_S = 0.050


class Heartbeat:
    """A 5 ms timer on the GUI thread; the longest gap between its ticks is the longest stall.

    Each gap is measured twice: in wall time, and in the GUI thread's own CPU time
    (``time.thread_time`` read on the GUI thread), which is the work done there and
    not the time the OS gave other processes: on this shared 2-core machine, at a
    load of 16, a thread can wait 100 ms for a core with nothing of ours to blame.
    """

    def __init__(self) -> None:
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.gaps: list[float] = []
        self.cpu_gaps: list[float] = []
        self.doing = ""  # what the user was doing, to say where the longest stall was
        self.worst_during = ""
        self.collected: list[tuple[int, float]] = []  # garbage collections since the last beat: generation, seconds
        self.collections_per_gap: list[list[tuple[int, float]]] = []
        self._gc_started = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if now - self.last > self.worst:
            self.worst_during = self.doing
        self.gaps.append(now - self.last)
        self.last = now
        cpu = time.thread_time()
        self.cpu_gaps.append(cpu - self.last_cpu)
        self.last_cpu = cpu
        self.collections_per_gap.append(self.collected)
        self.collected = []

    def _gc(self, phase: str, info: dict) -> None:
        """Collections between beats, so a long gap says whether the garbage collector was in it."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.collected.append((info["generation"], time.perf_counter() - self._gc_started))

    def __enter__(self) -> Heartbeat:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        gc.callbacks.append(self._gc)
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()
        gc.callbacks.remove(self._gc)

    def collections_in_worst_cpu_gap(self) -> str:
        """The garbage collections in the gap with the most GUI-thread work, e.g. "gen1 12 ms"."""
        if not self.cpu_gaps:
            return "none"
        worst = self.collections_per_gap[int(np.argmax(self.cpu_gaps))]
        return ", ".join(f"gen{g} {1000 * t:.0f} ms" for g, t in worst) or "none"

    @property
    def worst(self) -> float:
        return max(self.gaps, default=0.0)

    @property
    def worst_cpu(self) -> float:
        return max(self.cpu_gaps, default=0.0)


def _settled(window) -> bool:
    from app.workers import render_pool

    timers = (window.preview._stretch_timer, window.grid._size_timer, window.grid._drawn_timer)
    return render_pool().pending() == 0 and not any(t.isActive() for t in timers)


def _drive(qtbot, window) -> Heartbeat:
    """Stretch curves, a dragged limit and a dragged size slider, as the user makes them, each drawn to the end."""
    control, slider = window.preview.stretch_control, window.grid.size_slider
    with Heartbeat() as beat:
        for kind in ("asinh", "log", "linear", "sqrt"):
            beat.doing = f"stretch {kind}"
            control.kind.setCurrentText(kind)
            qtbot.waitUntil(lambda: _settled(window), timeout=20_000)
        for value in np.linspace(99.5, 97.0, 12):  # a limit dragged by its arrows
            beat.doing = f"upper limit {value:.2f}"
            control.upper.setValue(float(value))
            qtbot.wait(10)
        qtbot.waitUntil(lambda: _settled(window), timeout=20_000)
        beat.doing = "per band"
        control.per_band.setChecked(True)
        qtbot.waitUntil(lambda: _settled(window), timeout=20_000)
        for size in range(64, 257, 16):  # a size drag
            beat.doing = f"size {size}"
            slider.setValue(size)
            qtbot.wait(10)
        qtbot.waitUntil(lambda: _settled(window), timeout=20_000)
        qtbot.wait(50)
    return beat


@pytest.fixture(scope="module")
def big_sample(tmp_path_factory):
    """30 synthetic galaxies at 424 px, the Galaxy Zoo cutouts' size: a stretch costs what it costs on real data."""
    from core.images.sample import make_sample

    return make_sample(tmp_path_factory.mktemp("big"), per_class=10, size=424, seed=2)


@pytest.fixture
def clustered_big(qtbot, window, big_sample, tmp_path):
    import shutil

    from tests.helpers import fast as _fast

    assert window.open_folder(shutil.copytree(big_sample, tmp_path / "big"))
    _fast(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.cluster_action.trigger()
    return window


@pytest.mark.parametrize("classify", [False, True], ids=["map", "classify mode"])
def test_stretch_limit_and_size_changes_never_stall_the_window(qtbot, clustered_big, classify):
    w = clustered_big
    w.show_cluster(0)
    if classify:
        w.classify_action.trigger()
    qtbot.waitUntil(lambda: _settled(w) and w.preview.drawn is not None, timeout=20_000)
    row = w.grid.current_row()
    beat = _drive(qtbot, w)
    stretch = w.preview.stretch
    assert stretch.kind == "sqrt" and stretch.per_band and abs(stretch.upper - 97.0) < 1e-6
    # everything follows the last setting once it rests
    assert w.preview.drawn == (w.project.paths[row], stretch)
    assert w.grid.cache.stretch == stretch and w.classify.stretch == stretch and w.grid.cache.size == 256
    assert w.grid.view.iconSize().width() == 256
    if classify:
        assert w.classify._drawn[:2] == (w.project.paths[row], stretch)
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    print(f"longest GUI-thread gap {1000 * beat.worst:.1f} ms wall ({beat.worst_during}), "
          f"{1000 * beat.worst_cpu:.1f} ms of its CPU (garbage collections in it: {beat.collections_in_worst_cpu_gap()}), "
          f"over {len(beat.gaps)} beats, load {load:.1f} per core")
    assert len(beat.gaps) > 50
    assert beat.worst_cpu < WORK_LIMIT_S, (f"the GUI thread worked {1000 * beat.worst_cpu:.0f} ms without a break "
                                           f"(garbage collections in it: {beat.collections_in_worst_cpu_gap()})")
    if load <= 1.0:  # wall time means something only when the machine is not oversubscribed
        assert beat.worst < STALL_LIMIT_S, f"the GUI thread stalled {1000 * beat.worst:.0f} ms ({beat.worst_during})"


def test_a_redraw_never_cancels_the_users_job(qtbot, window, folder):
    """Stretch and size changes while clustering runs: the clustering finishes, nothing is cancelled."""
    from tests.helpers import fast as _fast

    assert window.open_folder(folder)
    _fast(window)
    cancelled = []
    window.jobs.cancelled.connect(cancelled.append)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        window.cluster_action.trigger()
        assert window.jobs.busy
        window.preview.stretch_control.kind.setCurrentText("asinh")
        window.grid.size_slider.setValue(160)
        qtbot.waitUntil(lambda: _settled(window), timeout=20_000)
    assert blocker.args[0] == "cluster" and not cancelled
    assert window.project.run_id is not None and window.grid.cache.stretch.kind == "asinh"


def _visible_rects(w):
    """Window-relative rectangles of the central area and every dock shown (a tab behind another is not)."""
    rects = {"central": w.centralWidget().geometry()}
    for name, dock in w.docks.items():
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            rects[name] = dock.geometry()
    return rects


@pytest.mark.parametrize("classify", [False, True], ids=["map", "classify mode"])
def test_the_window_fits_a_1366_by_768_screen(qtbot, clustered, classify):  # noqa: F811
    w = clustered
    w.show_cluster(0)
    w.status.say("Clustered 6,507 images in 3 min 12 s (features 2 min 40 s, clustering 31 s); 4 file(s) skipped, "
                 "see 'Skipped files'")  # a long status line must not widen the window
    if classify:
        w.classify_action.trigger()
    w.grid.size_slider.setValue(160)
    qtbot.waitUntil(lambda: _settled(w), timeout=20_000)
    hint = w.minimumSizeHint()
    # 768 less a task bar: the window's own minimum (without its title bar) must leave room for one
    assert hint.width() <= 1366 and hint.height() <= 728, hint
    assert w.statusBar().minimumSizeHint().width() <= 500
    assert w.classify.minimumSizeHint().width() <= 700 and w.docks["Preview"].minimumSizeHint().width() <= 360
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.size().width() == 1366 and w.size().height() == 768)
    qtbot.wait(50)
    rects = _visible_rects(w)
    assert {"central", "Run", "Classes", "Clusters", "Preview", "Galaxies"} <= set(rects)
    inside = w.rect()
    for name, rect in rects.items():
        assert inside.contains(rect), f"{name} {rect} overflows the window {inside}"
    names = sorted(rects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not rects[a].intersects(rects[b]), f"{a} {rects[a]} overlaps {b} {rects[b]}"
    # thumbnails of 160 px are whole in the strip: the Galaxies dock grew to a full row
    assert w.grid.view.viewport().height() >= 160 + 4
    assert "3 min 12 s" in w.stage_label.toolTip()  # cut short on screen, whole in its tooltip
