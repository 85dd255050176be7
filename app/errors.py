"""Errors nothing caught, shown in the window: a desktop launch has no console to print them on.

An exception that escapes a slot (a key, a menu action, a button) or a thread of
the app's own was printed on standard error and the window went on as if the
action had done its work: launched from a desktop icon or the packaged app, the
user saw a key that did nothing, or a menu entry that did nothing, and no reason.
:class:`ErrorReporter` takes ``sys.excepthook`` and ``threading.excepthook``
(the previous hooks still run, so the console keeps its traceback) and shows the
error in one non-modal box: its words, what to do, and the traceback under
*Show Details...* to copy into a report.  Errors that come while the box is open
are counted in it, never a second box (a held key can raise hundreds).  Jobs are
not its business: the job runner reports a failed job itself.

Installed by :func:`app.main.open_window` for a real session only: pytest-qt
takes the same hooks to fail a test on an uncaught exception, and a window made
by a test must not take them from it.
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.store.layout import ReadOnlyStore


def summary(exc: BaseException) -> tuple[str, str]:
    """What went wrong in a line, and what the user can do about it."""
    if isinstance(exc, ReadOnlyStore):
        return f"Not saved: {exc}", "Copy the folder somewhere you can write to, or ask for write access, and open it again."
    if isinstance(exc, MemoryError):
        return "Out of memory.", "Close other programs, or open a smaller folder; your labels so far are saved."
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}", "Check the disk and the file named; your labels so far are saved."
    return (f"Something went wrong: {type(exc).__name__}: {exc}",
            "Your labels so far are saved. Please report this with its details (Show Details...).")


class ErrorReporter(QObject):
    """Shows uncaught exceptions of the GUI thread and of the app's threads in the window (see the module).

    Attributes
    ----------
    shown : int
        Errors shown (the first in a box, the rest counted in it).
    box : QMessageBox or None
        The box on screen, None once the user has closed it.
    """

    _reported = Signal(object, str)  # the exception, its traceback; queued to the GUI thread from any thread

    def __init__(self, window: QWidget, say=None) -> None:  # noqa: ANN001 (a callable of one str, or None)
        super().__init__(window)
        self._window, self._say = window, say
        self._previous: tuple | None = None
        self.shown = 0
        self.box: QMessageBox | None = None
        self._in_box = 0
        self._reported.connect(self._show)

    def install(self) -> None:
        """Take ``sys.excepthook`` and ``threading.excepthook``, keeping the previous ones to call and to restore."""
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook, threading.excepthook = self._hook, self._thread_hook

    def uninstall(self) -> None:
        """Give the hooks back (when they are still ours)."""
        if self._previous is not None:
            if sys.excepthook == self._hook:
                sys.excepthook = self._previous[0]
            if threading.excepthook == self._thread_hook:
                threading.excepthook = self._previous[1]
            self._previous = None

    def _hook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if self._previous is not None:
            try:
                self._previous[0](kind, exc, tb)  # the console keeps its traceback
            except Exception:  # noqa: BLE001 (a windowed build has no stderr: the box below is then all there is)
                pass
        if isinstance(exc, KeyboardInterrupt):
            return
        self._reported.emit(exc, "".join(traceback.format_exception(kind, exc, tb)))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if self._previous is not None:
            try:
                self._previous[1](args)
            except Exception:  # noqa: BLE001 (as in _hook)
                pass
        if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
            name = args.thread.name if args.thread is not None else "a thread"
            self._reported.emit(args.exc_value, f"in {name}:\n" + "".join(
                traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    def _show(self, exc: BaseException, details: str) -> None:
        self.shown += 1
        line, advice = summary(exc)
        if self._say is not None:
            self._say(line)
        if self.box is not None:  # one box: the next errors are counted in it
            self._in_box += 1
            self.box.setInformativeText(f"{advice}\n\n{self._in_box} more error(s) since; the last: {line}")
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Galaxy Sorter", line, QMessageBox.StandardButton.Close, self._window)
        box.setInformativeText(advice)
        box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.NonModal)  # the window goes on taking keys; later errors are counted
        box.finished.connect(self._closed)
        self.box, self._in_box = box, 0
        box.show()

    def _closed(self, _result: int) -> None:
        if self.box is not None:
            self.box.deleteLater()
        self.box = None
