"""The window's message boxes: errors with a hint, notices that do not block, the round report, help.

Offscreen (the tests) a box that would block is shown instead of executed, so a test
reads it without a click.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from app.views import PRIVACY

HELP = (
    "Labelling keys: 1-9 label the selection with that class, U unsure, X exclude, Enter accepts the model's "
    "label, Backspace clears; arrows move through the thumbnails. Ctrl+Z undoes, Ctrl+Shift+Z redoes.\n"
    "Map: P pan, R rectangle, L lasso (Shift adds to the selection).\n\n"
    f"{PRIVACY}. Labels are saved as you make them in the project folder (.galaxy-sorter).")


def _offscreen() -> bool:
    return QApplication.platformName() == "offscreen"


def error(parent: QWidget, message: str, hint: str = "", details: str = "") -> QMessageBox:
    """A readable error with what to do; the traceback only under 'Show Details'."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Galaxy Sorter", message, parent=parent)
    if hint:
        box.setInformativeText(hint)
    if details:
        box.setDetailedText(details)
    box.setObjectName("error_box")
    if _offscreen():
        box.show()
    else:
        box.exec()
    return box


def store_hint(exc: Exception) -> str:
    """What to do about a project store that cannot be opened (:class:`core.store.layout.StoreError`), in words.

    These are conditions, not faults: a traceback under *Show Details* told the
    user nothing the message had not, and looked like a crash.
    """
    from core.store.layout import ProjectLocked, UnsafeStore

    if isinstance(exc, ProjectLocked):
        return ("Close the folder in the other Galaxy Sorter (or let its job finish), then open it again here. "
                "Your labels are safe: one program writes a project at a time.")
    if isinstance(exc, UnsafeStore):
        return ("The folder's .galaxy-sorter/ is not one this program made (it may have come with the folder). "
                "Rename or move it away to start a project of your own here; it was left as it is.")
    return "Open it with the Galaxy Sorter that wrote it, or back it up and start a new project."


def show_beside(parent: QWidget, box: QWidget) -> None:
    """Show ``box`` (not modal) without taking the keyboard from the window that has it.

    A job's result shown while the user labels on (a round's report, every 20
    labels under Run > Retrain automatically; Suggest k's scores) became the
    active window and took the next keys: the number keys labelled nothing,
    Enter closed the box instead of accepting the model's guess.  So it is shown
    without activation, and where the platform activates it anyway (the
    offscreen one, some window managers) the window that had the keyboard gets
    it back.
    """
    from shiboken6 import isValid

    window = parent.window()
    had_keys, focus = QApplication.activeWindow() is window, QApplication.focusWidget()
    box.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    box.show()
    if had_keys:  # asked at once: the platform's activation of the box may still be on its way
        window.activateWindow()
        if focus is not None and isValid(focus):
            focus.setFocus(Qt.FocusReason.ActiveWindowFocusReason)


def notice(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A message that does not block the window (the map stays usable while it is open), nor takes its keys."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=parent)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    show_beside(parent, box)
    return box


class RoundReport(QDialog):
    """What a retraining round changed, how far its probabilities can be trusted, and the learning curve.

    Not modal: the map stays usable while it is open.  It shows the summary,
    the reliability diagram of the round's cross-fitted probabilities on the
    user's own labels (:func:`app.widgets.qt_charts.reliability_image`, the
    picture the benchmark saves) and the estimated accuracy after each round
    so far with its interval (:class:`app.widgets.qt_charts.LearningCurve`).
    """

    def __init__(self, parent: QWidget, result, curve, on_review) -> None:
        from PySide6.QtGui import QPixmap
        from PySide6.QtWidgets import QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout

        from app.widgets.qt_charts import LearningCurve, reliability_image

        super().__init__(parent)
        self.setWindowTitle("What retraining changed")
        self.setObjectName("round_box")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.summary = QLabel(result.summary())
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        self.diagram = QLabel()
        self.diagram.setObjectName("reliability_diagram")
        cal = getattr(result, "calibration", None)
        if cal is not None and cal.table:
            pixmap = QPixmap.fromImage(reliability_image(
                cal.table, cal.ece, f"Your {result.n_labelled} labels, each predicted without itself"))
            self.diagram.setPixmap(pixmap)
            self.diagram.setMinimumSize(pixmap.size())  # never cropped (it was, to 208 of 320 px, on a laptop)
        else:
            self.diagram.setText("Reliability diagram: label at least 2 galaxies of each class.")
        # the diagram and the learning curve side by side: stacked, with the summary above them, the report
        # was 738 px tall and opened cropped on a 1366 x 768 screen
        charts = QHBoxLayout()
        charts.addWidget(self.diagram)
        self.curve = LearningCurve(self)
        self.curve.set_points(curve)
        self.curve.setMinimumWidth(360)  # as wide as the diagram, or the summary's wrapping would squeeze it
        charts.addWidget(self.curve, 1)
        layout.addLayout(charts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.review = buttons.addButton(f"Review the {int(result.moved.sum())} moved",
                                        QDialogButtonBox.ButtonRole.ActionRole)
        self.review.clicked.connect(lambda: (on_review(), self.close()))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        screen = parent.screen().availableGeometry() if parent is not None else None
        hint = self.sizeHint()
        self.resize(hint.boundedTo(screen.size()) if screen is not None else hint)

    def text(self) -> str:
        """The summary shown (as QMessageBox.text, which this report replaced)."""
        return self.summary.text()


def round_report(parent: QWidget, result, curve, on_review, previous: RoundReport | None = None) -> RoundReport:
    """Show the round report (not modal) without taking the keyboard (:func:`show_beside`), and return it.

    ``previous``, the last round's report, is closed: one report a round piled
    up, 50 of them in a session of 1,000 labels.  ``on_review`` is called by the
    review button.
    """
    from shiboken6 import isValid

    if previous is not None and isValid(previous):
        previous.close()
    box = RoundReport(parent, result, curve, on_review)
    show_beside(parent, box)
    return box


def show_help(parent: QWidget) -> None:
    """Keys and the privacy statement."""
    QMessageBox.information(parent, "Galaxy Sorter", HELP)


def dropped_folder(mime) -> Path | None:
    """The folder a drag and drop names: a dropped folder, or the folder of a dropped file; None for anything else.

    A web link (an image dragged from a browser) has no local file: its empty
    path read as ``.``, and the app opened its working folder as a project.
    """
    for url in mime.urls():
        if not url.isLocalFile() or not url.toLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            return path
        if path.is_file():
            return path.parent
    return None


def copy_paths(project) -> bool:
    """Put the selected images' paths on the clipboard, one per line; False when nothing is selected."""
    from PySide6.QtWidgets import QApplication

    rows = project.selection.indices
    if not len(rows):
        return False
    QApplication.clipboard().setText("\n".join(project.paths[i] for i in rows))
    return True


def save_path(parent: QWidget, title: str, default: str | Path, filters: str) -> str:
    """Ask where to save a file; the empty string when the user cancels."""
    from PySide6.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(parent, title, str(default), filters)
    return path


def action(parent: QWidget, menu, text: str, slot, shortcut=None, tip: str = ""):  # -> QAction
    """A menu item: ``text`` calling ``slot()``, with an optional shortcut and status-bar tip.

    ``slot`` is called with no argument: ``QAction.triggered`` passes its ``checked``
    flag (False), which a slot with a default argument, such as ``suggest_next(n=10)``,
    would otherwise take as its first parameter (Ctrl+G once suggested 0 galaxies).
    """
    from PySide6.QtGui import QAction, QKeySequence

    item = QAction(text, parent)
    if isinstance(shortcut, QKeySequence.StandardKey):  # every binding of the platform: Redo is Ctrl+Shift+Z and
        item.setShortcuts(shortcut)                       # Ctrl+Y on Linux, and QKeySequence(key) kept only the first
    elif shortcut is not None:
        item.setShortcut(QKeySequence(shortcut))
    if tip:
        item.setStatusTip(tip)
    item.triggered.connect(lambda _checked=False: slot())
    menu.addAction(item)
    return item


def back_up_project(window) -> None:  # window: app.window.MainWindow
    """File > Back up project…: ask where, write a one-file copy of ``project.sqlite`` (core's backup API).

    Written off the GUI thread, from a connection of its own (the opener's serial thread, which the window
    waits for when it closes): SQLite's backup of a survey's database is one call, 150-200 ms of the GUI
    thread at 200,000 galaxies (``benchmarks/gui_stalls.py``).  The status bar says when it is written.
    """
    from datetime import datetime

    project = window.project
    if project is None:
        return
    default = project.folder.parent / f"{project.folder.name}-project-{datetime.now():%Y%m%d-%H%M}.sqlite"
    path = save_path(window, "Back up project", default, "Galaxy Sorter project (*.sqlite)")
    if not path:
        return
    window.status.say(f"Backing up the project to {path}…")
    window.opening.calls.call(
        _back_up, project.store.folder, path,
        on_done=lambda out: window.status.say(f"Backed up the project (labels, runs, classes) to {out}"),
        on_error=lambda message: window.show_error(f"Cannot back up the project to {path}: {message}",
                                                   "Choose a folder you can write to."))


def _back_up(folder: Path, path: str) -> Path:
    """:meth:`ProjectStore.backup` from a store connection of this thread's own (on the opener's serial thread)."""
    from core.store.database import ProjectStore

    store = ProjectStore(folder)
    try:
        return store.backup(path)
    finally:
        store.close()


def offer_recovery(window, folder: Path, exc) -> bool:  # exc: core.store.recovery.DamagedStore
    """The project's database is damaged: offer to rescue every readable label (never to delete it).

    Returns True when the recovery ran (the caller opens the folder again).
    """
    from core.store.recovery import recover_project

    box = QMessageBox(QMessageBox.Icon.Warning, "Galaxy Sorter",
                      f"The project of {folder.name} is damaged and cannot be opened as it is.", parent=window)
    box.setInformativeText("Recover copies every label, class and run that can still be read into a fresh "
                           "project database and keeps the damaged file beside it. Nothing is deleted.")
    box.setDetailedText(str(exc))
    box.setObjectName("recover_box")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is not recover:
        window.show_error(str(exc))
        return False
    try:
        report = recover_project(exc.folder, root=folder)
    except Exception as err:  # noqa: BLE001 - a failed rescue is told, and the damaged file stays as it was
        window.show_error(f"The recovery failed: {err}", "The damaged database was left as it was.")
        return False
    notice(window, "Project recovered", report.summary()[0].upper() + report.summary()[1:] + ".")
    return True
