"""The machinery of ``benchmarks/gui_stalls.py``: a GUI-thread heartbeat, dialogs answered, actions by name, the timing.

Kept apart from the list of actions so that the benchmark reads as the user's
walk through the window.  Nothing here is imported by the app or the tests.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import pstats
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QColorDialog, QFileDialog, QInputDialog, QMessageBox

BUDGET_MS = 100.0  # the house rule: no GUI-thread stall over 100 ms


class Heartbeat:
    """A 5 ms timer on the GUI thread; the longest gap between its beats is the longest stall.

    Each gap is measured in wall time and in the GUI thread's own CPU time
    (``time.thread_time`` read on the GUI thread).  The CPU gap is the work the
    window did and could not answer meanwhile; the wall gap adds the time the
    operating system gave other processes, which on a shared 2-core machine can
    be 100 ms with nothing of ours to blame.  The garbage collections in each gap
    are kept, so a long one says whether the collector was in it.
    """

    def __init__(self) -> None:
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self._beat)
        self.gaps: list[float] = []
        self.cpu_gaps: list[float] = []
        self.ends: list[float] = []  # each gap's end (perf_counter)
        self.others_cpu: list[float] = []  # per gap: the CPU time the process's other threads used in it
        self.collections: list[list[tuple[int, float, str]]] = []  # per gap: (generation, seconds, which thread)
        self._collected: list[tuple[int, float, str]] = []
        self._gc_started = 0.0
        self.last, self.last_cpu, self.last_proc = time.perf_counter(), time.thread_time(), time.process_time()

    def _beat(self) -> None:
        now, cpu, proc = time.perf_counter(), time.thread_time(), time.process_time()
        self.gaps.append(now - self.last)
        self.cpu_gaps.append(cpu - self.last_cpu)
        self.ends.append(now)
        self.others_cpu.append(max((proc - self.last_proc) - (cpu - self.last_cpu), 0.0))
        self.collections.append(self._collected)
        self.last, self.last_cpu, self.last_proc, self._collected = now, cpu, proc, []

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            # a collection on another thread than the GUI's (a job's) keeps the lock from the window: marked "job"
            where = "" if threading.current_thread() is threading.main_thread() else " on a job's thread"
            self._collected.append((info["generation"], time.perf_counter() - self._gc_started, where))

    def start(self) -> None:
        """Beat from now on."""
        self.last, self.last_cpu, self.last_proc = time.perf_counter(), time.thread_time(), time.process_time()
        gc.callbacks.append(self._gc)
        self.timer.start()

    def stop(self) -> None:
        """Stop beating and stop watching the collector."""
        self.timer.stop()
        gc.callbacks.remove(self._gc)


def spin(ms: int) -> None:
    """Run the event loop for ``ms`` milliseconds: timers, queued signals and job results are delivered."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def answer_dialogs(answers: dict, note: Callable[[str], None]) -> None:
    """Answer every dialog the actions open from ``answers`` (changed between actions), so no one waits for a click.

    Keys: ``dir`` (a folder chooser), ``file`` (a file to open), ``save`` (a
    path to save to), ``item`` (a choice from a list; None takes the first),
    ``text`` (a typed name), ``button`` (the button of a question box).  A
    warning box's text goes to ``note``.
    """
    from app import dialogs
    from app.widgets import qt_labels, qt_tables

    def item(items):
        return answers["item"] or items[0], True

    QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: answers["dir"])
    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (answers["file"], ""))
    dialogs.save_path = lambda *a, **k: answers["save"]
    QMessageBox.information = staticmethod(lambda *a, **k: None)
    QMessageBox.warning = staticmethod(lambda _p, _t, text, *a, **k: note(f"warning box: {text}"))
    QInputDialog.getItem = staticmethod(lambda _w, _t, _l, items, *a, **k: item(items))
    QInputDialog.getText = staticmethod(lambda *a, **k: (answers["text"], True))
    qt_labels.ask_item = lambda _w, _t, _l, items, editable=False: item(items)
    QColorDialog.getColor = staticmethod(lambda *a, **k: QColor("#12ab34"))
    QMessageBox.exec = lambda box: next(b for b in box.buttons() if b.text() == answers["button"]).click()
    qt_tables._JoinDialog.exec = lambda self: qt_tables.QDialog.DialogCode.Accepted


def synthetic_features() -> None:
    """Make a reopened project's feature job return 64-d features drawn around each cluster's centre at once.

    The synthetic project has no image files; without this the feature job
    would find none and Suggest, Split, the projections and classify mode's
    neighbours would have no features to work on.
    """
    from core.features.result import ExtractionResult
    from core.project import Project

    def reload(self, progress=None, should_stop=None):
        rng = np.random.default_rng(1)
        centres = rng.normal(scale=3, size=(int(self.clusters.max()) + 1, 64))
        features = (centres[self.clusters] + rng.normal(size=(len(self.paths), 64))).astype(np.float32)
        paths = list(self.paths)  # as core.features.result.cached_rows keeps a reopen's paths: str, no Path objects
        return ExtractionResult(paths, features, [], "CPUExecutionProvider", 0, len(paths), 0.1), "CPUExecutionProvider"

    Project.reload_features = reload


def menu_actions(window) -> dict:
    """Every menu entry of the window by its path, "File/Open folder…" ("&" dropped; Undo/Redo without their object)."""
    found = {}

    def walk(menu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None:
                walk(action.menu(), f"{path}/{action.text()}")
            else:
                text = re.sub(r"^(&Undo|&Redo) .*", r"\1", action.text())
                found[f"{path}/{text}".replace("&", "")] = action

    for top in window.menuBar().actions():
        walk(top.menu(), top.text().replace("&", ""))
    return found


def trigger(window, name: str) -> Callable[[], None]:
    """The menu entry ``name`` chosen, as by a click (looked up when run: entries such as Open recent change)."""
    return lambda: menu_actions(window)[name].trigger()


def key(target, k: Qt.Key, mod: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> Callable[[], None]:
    """A key pressed and released on ``target``, through Qt's event delivery (shortcuts included)."""
    return lambda: QTest.keyClick(target, k, mod)


CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def click_cluster(window, cluster: int) -> Callable[[], None]:
    """A mouse click on ``cluster``'s row of the Clusters list."""
    def go() -> None:
        tree = window.clusters.tree
        item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                    if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == cluster)
        QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         tree.visualItemRect(item).center())
    return go


def settled(window) -> bool:
    """No job, no render, no pending redraw timer, no count of the Cluster x label table and no ids for a sort by
    name on their way: what an action started has finished."""
    from app.workers import render_pool

    timers = (window.preview._stretch_timer, window.grid._size_timer, window.grid._drawn_timer,
              window.catalogue.table._timer)
    table = window.catalogue.table
    return (not window.jobs.busy and render_pool().pending() == 0 and not any(t.isActive() for t in timers)
            and not table.reading and not getattr(table, "counting", False)
            and getattr(getattr(window, "opening", None), "reading", None) is None
            and getattr(window.labelling, "names_asked", 0) == getattr(window.labelling, "names_answered", 0))


class Stalls:
    """Runs actions one at a time and keeps, for each, the longest GUI-thread gap while it and what it started ran.

    ``only``: substrings; an action whose name holds none is skipped.
    ``profile``: substrings; the GUI thread of an action named so is profiled
    with cProfile (a profiler sees its own thread only) into ``out``.
    """

    def __init__(self, window, out: Path, only: list[str], profile: list[str], watch: bool = False) -> None:
        self.window, self.out, self.only, self.profile = window, out, only, profile
        self.rows: list[dict] = []
        self.notes: list[str] = []  # error and warning boxes, failed jobs, exceptions, timeouts of the current action
        self.beat = Heartbeat()
        self.watchdog = None
        if watch:
            from benchmarks._gil_watch import Watchdog

            self.watchdog = Watchdog(lambda: self.beat.last)

    def note(self, text: str) -> None:
        """Something the window said (an error box, a failed job) during the current action."""
        self.notes.append(" ".join(str(text).split())[:200])

    def wanted(self, name: str) -> bool:
        """Whether ``--only`` keeps the action ``name``."""
        return not self.only or any(s in name for s in self.only)

    def wait(self, until: Callable[[], bool], since: float, min_ms: int, timeout_s: float) -> bool:
        """Spin the event loop until ``until()`` and everything settled (at least ``min_ms``); False on timeout."""
        deadline = time.perf_counter() + timeout_s
        while True:
            spin(20)
            if (time.perf_counter() - since) * 1000 >= min_ms and until() and settled(self.window):
                return True
            if time.perf_counter() > deadline:
                return False

    def measure(self, name: str, fn: Callable[[], None], until: Callable[[], bool] = lambda: True,
                setup: Callable[[], None] | None = None, min_ms: int = 250, timeout_s: float = 300.0,
                always: bool = False) -> None:
        """Run ``fn``, wait until it settled, and keep its longest gaps.

        ``until`` says when what ``fn`` started is over (a job's result applied),
        beyond the jobs, renders and timers :func:`settled` checks.  ``setup``
        (unmeasured) makes the state the actions before leave, and runs only
        under ``--only``, where they may have been skipped: the full walk is the
        same with or without it.  ``always`` runs the action whatever ``--only``
        says (the opening of the project).
        """
        if not (always or self.wanted(name)):
            return
        if setup is not None and self.only:
            setup()
            self.wait(lambda: True, time.perf_counter(), 100, timeout_s)
        self.notes = []
        spin(60)  # a beat just before: the first gap measured starts here
        first = len(self.beat.gaps)
        prof = cProfile.Profile() if any(s in name for s in self.profile) else None
        t0, c0 = time.perf_counter(), time.thread_time()
        if prof:
            prof.enable()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the walk goes on; the table says it
            self.note(f"exception: {exc!r}")
            traceback.print_exc()
        call_wall, call_cpu = time.perf_counter() - t0, time.thread_time() - c0
        if not self.wait(until, t0, min_ms, timeout_s):
            self.note(f"not settled after {timeout_s:.0f} s")
        spin(30)
        if prof:
            prof.disable()
            self._write_profile(name, prof)
        gaps, cpu = self.beat.gaps[first:], self.beat.cpu_gaps[first:]
        worst = int(np.argmax(cpu)) if cpu else 0
        worst_wall = first + int(np.argmax(gaps)) if gaps else 0
        window = self.window
        row = {"action": name, "cpu_ms": 1000 * max(cpu, default=0.0), "wall_ms": 1000 * max(gaps, default=0.0),
               # in the longest wall gap: the GUI thread's CPU, and the CPU of the process's other threads (a job
               # thread that kept the interpreter lock shows here; neither: other processes had the CPUs, or I/O)
               "wall_gap_cpu_ms": 1000 * self.beat.cpu_gaps[worst_wall] if gaps else 0.0,
               "wall_gap_others_cpu_ms": 1000 * self.beat.others_cpu[worst_wall] if gaps else 0.0,
               "gc_in_worst_wall": ", ".join(f"gen{g} {1000 * t:.0f} ms{w}" for g, t, w in self.beat.collections[worst_wall])
               if gaps else "",
               "call_cpu_ms": 1000 * call_cpu, "call_wall_ms": 1000 * call_wall,
               "total_s": time.perf_counter() - t0, "beats": len(gaps),
               "gc_in_worst": ", ".join(f"gen{g} {1000 * t:.0f} ms{w}" for g, t, w in self.beat.collections[first + worst])
               if cpu else "",
               "said": (window.statusBar().currentMessage() or window.stage_label.text())[:160], "notes": self.notes}
        if self.watchdog is not None and gaps:
            from benchmarks._gil_watch import summary

            end = self.beat.ends[worst_wall]
            row["watch"] = self.watchdog.between(end - self.beat.gaps[worst_wall], end)
            row["watch_summary"] = summary(row["watch"])
        self.rows.append(row)
        verdict = "OVER" if row["cpu_ms"] > BUDGET_MS else "ok"
        print(f"  {name[:60]:60s} {row['cpu_ms']:8.0f} {row['wall_ms']:8.0f}  {verdict}  (wall gap: "
              f"{row['wall_gap_cpu_ms']:.0f} ms GUI CPU, {row['wall_gap_others_cpu_ms']:.0f} ms other threads' CPU"
              + (f"; collected: {row['gc_in_worst_wall']}" if row["gc_in_worst_wall"] else "") + ")"
              + (f"\n      {row['watch_summary']}" if row.get("watch_summary") else ""), file=sys.stderr, flush=True)
        (self.out / "results.json").write_text(json.dumps(self.rows, indent=1))

    def _write_profile(self, name: str, prof: cProfile.Profile) -> None:
        safe = "".join(ch if ch.isalnum() else "_" for ch in name)[:60]
        for order, lines in (("cumulative", 70), ("tottime", 25)):
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats(order).print_stats(lines)
            (self.out / f"profile_{safe}_{order}.txt").write_text(text.getvalue())
