"""Views that render the open project themselves: they connect to its events, the window only hands them over.

* :class:`MapView` (``app/map_view.py``) draws :class:`core.project.Project` on a
  :class:`~app.widgets.qt_map.QtClusterMap` with the colouring chosen from
  :data:`core.colouring.COLOURINGS`, outlines the shared selection and shows
  the hovered galaxy;
* :class:`QtSkippedFiles` lists the files a run could not read;
* :class:`JobStatus` shows the running job in the status bar: stage, progress,
  time left, Cancel, and where the features run;
* :class:`ViewState` keeps what the user set up to look at per project (the
  display stretch, the thumbnail size, the truth file; issue 18) in the
  project's store, so a reopened folder shows the same view, and shows a
  reopened project's first cluster rather than empty docks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QStatusBar,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from app.labelling import Labelling
from app.map_view import MapView  # noqa: F401 (the window imports it from here)
from app.widgets.qt_classify import QtClassify
from app.widgets.qt_cluster_table import QtClusterTable
from app.widgets.qt_map import QtClusterMap
from app.widgets.qt_preview import QtPreview
from app.widgets.qt_text import ElidedLabel
from app.widgets.qt_thumbnails import THUMB, QtThumbnailGrid
from app.workers import JobRunner
from core.images.display import Stretch
from core.project import Project
from core.store.layout import kept_path


class CentralArea(QStackedWidget):
    """The middle of the window: a start screen until a folder is open, then the map, or classify mode.

    Classify mode (:class:`~app.widgets.qt_classify.QtClassify`) shows one galaxy
    large on the same shared selection, walking the strip it was made with.
    """

    def __init__(self, map: QtClusterMap, classify: QtClassify) -> None:  # noqa: A002 (the widget's name)
        super().__init__()
        self.map, self.classify = map, classify
        self.welcome = QLabel("<h2>Galaxy Sorter</h2><p>Open a folder of galaxy images (File &gt; Open folder, "
                              "Ctrl+O)<br>or drop a folder here.</p><p>JPEG, PNG, TIFF and FITS; nothing leaves "
                              "this computer.</p>")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for widget in (self.welcome, map, classify):
            self.addWidget(widget)
        self.currentChanged.connect(lambda _i: self.updateGeometry())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """The page shown sets the minimum (a stack takes its largest page's: classify mode's in map mode)."""
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else super().minimumSizeHint()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        page = self.currentWidget()
        return page.sizeHint() if page is not None else super().sizeHint()

    def leave_start_screen(self) -> None:
        """A folder is open: show the map (unless classify mode is on)."""
        if self.currentWidget() is self.welcome:
            self.setCurrentWidget(self.map)

    def show_classify(self, on: bool, project: Project | None) -> None:
        """Classify mode (True) or the map (False); entering it selects the strip's first galaxy if not one is."""
        self.setCurrentWidget(self.classify if on else self.map)
        if not on:
            return
        grid = self.classify.grid
        if project is not None and len(project.selection.indices) != 1 and len(grid.rows()):
            project.selection.set(grid.rows()[:1], grid)
        self.classify.refresh()  # the strip's list may have changed while the same galaxy stayed selected
        self.classify.setFocus()


class QtSkippedFiles(QTreeWidget):
    """The files the last run could not read, with the reason.

    Signals
    -------
    (none): it follows the project's ``data_changed`` itself.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["file", "why it was skipped"])
        self.setRootIsDecorated(False)
        # the file's own name is its end: cut in the middle, every row read "/tmp/folder_..." on a laptop
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.project: Project | None = None

    def set_project(self, project: Project) -> None:
        """List ``project``'s skipped files now and after every run."""
        self.project = project
        project.events.data_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Reread the skipped files from the store."""
        self.clear()
        if self.project is None:
            return
        rows = self.project.store.skipped()
        folder = Path(self.project.folder)
        for path, reason in rows:  # the path inside the folder, whole in the tooltip
            try:
                shown = str(Path(path).relative_to(folder))
            except ValueError:
                shown = path
            item = QTreeWidgetItem([shown, reason or ""])
            item.setToolTip(0, path)
            item.setToolTip(1, reason or "")
            self.addTopLevelItem(item)
        self._fit_names()
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.setWindowTitle(f"Skipped files ({len(rows)})")

    def _fit_names(self) -> None:
        """The names as wide as they need, up to half the list (a list refreshed behind a tab is 100 px wide)."""
        if self.topLevelItemCount():
            self.setColumnWidth(0, max(80, min(self.sizeHintForColumn(0) + 12, self.viewport().width() // 2)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_names()


PRIVACY = "Offline: images and features never leave this computer"


def duration(seconds: float) -> str:
    """``12 s``, ``0.4 s`` or ``3 min 5 s``."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def fit_small_screens(window: QMainWindow) -> None:
    """Make ``window`` usable on a 1366 x 768 laptop screen (issue 18).

    The side docks take the bottom corners (the strip lies under the map only, so the
    left column and the strip need not stack), the run settings scroll, and every combo box is as wide as ten
    characters at least rather than its longest entry (the list shows all of it).
    """
    run = window.docks["Run"]  # the tallest panel scrolls rather than set the window's height
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(run.widget())
    run.setWidget(area)
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    for combo in window.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        combo.setMinimumWidth(min(combo.minimumSizeHint().width(), 110))  # the hint ignores the policy above


class JobStatus:
    """The status bar's job feedback, following a :class:`JobRunner` by its signals.

    Attributes
    ----------
    stage_label, progress, cancel_button, provider_label, privacy_label
        The widgets, added to ``bar`` (``extra`` widgets go between Cancel and the provider).
    """

    def __init__(self, bar: QStatusBar, jobs: JobRunner, extra: tuple[QWidget, ...] = ()) -> None:
        self.provider_label = QLabel("Features: not run yet")
        self.provider_label.setToolTip("The onnxruntime execution provider the feature model really uses")
        self.privacy_label = ElidedLabel(PRIVACY, minimum=60)
        self.privacy_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.privacy_label.setToolTip("Galaxy Sorter runs its models locally; it has no upload, no telemetry and "
                                      "needs no network.")
        self.bar = bar
        self.stage_label = ElidedLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc); work done so far is kept in the cache")
        self.cancel_button.clicked.connect(jobs.cancel)
        self.cancel_button.hide()
        bar.addWidget(self.stage_label, 1)
        for widget in (self.progress, self.cancel_button, *extra, self.provider_label, self.privacy_label):
            bar.addPermanentWidget(widget)
        self._job_text = ""  # what this status said of the running job (a stage, "Starting…")
        jobs.progress.connect(self._on_progress)
        jobs.busy_changed.connect(self._on_busy)
        jobs.finished.connect(self._on_finished)
        jobs.failed.connect(lambda name, message, _hint, _tb: self.stage_label.setText(f"{name} failed: {message}"))
        jobs.cancelled.connect(
            lambda name: self.stage_label.setText(f"{name} cancelled; features computed so far are cached"))

    def say(self, text: str) -> None:
        """Show ``text`` as the current stage (over any passing message: the newest words show)."""
        self.bar.clearMessage()
        self.stage_label.setText(text)

    def set_provider(self, provider: str) -> None:
        """Say whether the features run on the GPU (CUDA) or the CPU."""
        self.provider_label.setText(f"Features on {'GPU (CUDA)' if 'CUDA' in provider else 'CPU'}")
        self.provider_label.setToolTip(f"onnxruntime provider in use: {provider}")

    def _on_busy(self, busy: bool) -> None:
        if busy:  # before it shows: QProgressBar.setValue repaints a shown bar at once, and the window's status bar
            self.progress.setValue(0)  # with it (22-39 ms of the GUI thread when a reopen's feature load started)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self._show_stage("Starting…")

    def _on_progress(self, fraction: float, message: str, eta: float) -> None:
        self.progress.setValue(int(1000 * fraction))
        left = "" if math.isnan(eta) else f", about {duration(eta)} left"
        self._show_stage(f"{message}{left}")

    def _show_stage(self, text: str) -> None:
        self._job_text = text
        self.stage_label.setText(text)

    def _on_finished(self, name: str, _result: object) -> None:
        """A job whose result said nothing in the status bar (Suggest k answers in a notice) leaves it saying it
        is done, not "Starting…" or its last stage."""
        if self.stage_label.text() == self._job_text:
            self.stage_label.setText(f"{name.replace('-', ' ').capitalize()}: done")


class RecentFolders:
    """The "Open recent" menu, kept in QSettings (newest first, at most ``limit``)."""

    def __init__(self, settings: QSettings, menu: QMenu, open_folder: Callable[[str], object], limit: int = 8) -> None:
        self.settings, self.menu, self.open_folder, self.limit = settings, menu, open_folder, limit
        self.refresh()

    def folders(self) -> list[str]:
        """Recently opened folders, newest first."""
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def add(self, folder: str | Path) -> None:
        """Put ``folder`` first."""
        recent = [str(folder)] + [f for f in self.folders() if f != str(folder)]
        self.settings.setValue("recent", recent[: self.limit])
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the menu."""
        self.menu.clear()
        for f in self.folders():
            action = self.menu.addAction(f)
            action.triggered.connect(lambda _=False, f=f: self._open(f))
        self.menu.setEnabled(bool(self.folders()))

    def _open(self, folder: str) -> None:
        """Open a recent folder; one deleted or moved since leaves the menu (the open says it is gone)."""
        if not Path(folder).is_dir():
            self.settings.setValue("recent", [f for f in self.folders() if f != folder])
            self.refresh()
        self.open_folder(folder)


class ViewState:
    """Restore a project's stretch, thumbnail size and truth file when it opens, and keep them as they change.

    Parameters
    ----------
    grid, preview, table
        The strip (its size slider), the preview (its stretch control) and the cluster x label table.
    say : callable(str)
        Where to say that a kept truth file is gone.
    labelling : Labelling
        Shows the first cluster in the strip and the preview when a clustered project reopens.
    notify : callable(title, text), optional
        A notice that stays until closed (the window's): a truth file the project names but this installation did
        not choose is not read, and the status bar's next message would cover the words.
    """

    def __init__(self, grid: QtThumbnailGrid, preview: QtPreview, table: QtClusterTable,
                 say: Callable[[str], None], labelling: Labelling,
                 notify: Callable[[str, str], object] | None = None) -> None:
        self.grid, self.preview, self.table, self.say, self.labelling = grid, preview, table, say, labelling
        self.notify = notify or (lambda _title, text: say(text))
        self.project: Project | None = None
        preview.stretch_changed.connect(self._keep_stretch)
        grid.size_slider.valueChanged.connect(self._keep_size)

    def set_project(self, project: Project) -> None:
        """Show ``project`` as it was last seen (defaults for what it never kept)."""
        self.project = None  # restoring is not a change to keep
        stretch = project.view_setting("stretch")
        try:
            shown = Stretch(**stretch) if isinstance(stretch, dict) else Stretch()
        except (TypeError, ValueError):  # kept by another version: the default
            shown = Stretch()
        self.preview.stretch_control.set_stretch(shown)
        size = project.view_setting("thumb_size")
        self.grid.set_thumb_size(int(size) if isinstance(size, (int, float)) else THUMB)
        self.project = project
        self._restore_truth(project)

    def show_first_cluster(self) -> None:
        """A reopened project shows its first cluster in the strip and the preview, not empty docks (unless the user
        selected something first); the window calls it in the turn after the project is shown (:meth:`MainWindow.
        _show_project`), so the two halves of the show are two short pieces of the GUI thread, not one long one."""
        project = self.project
        if project is not None and not project.closed and project.run_id is not None and len(project) \
                and not len(project.selection.indices):
            self.labelling.show_cluster(project.cluster_ids()[0])

    def _restore_truth(self, project: Project) -> None:
        path, why = kept_path("truth_file", project.view_setting("truth_file"))
        self.table.clear_truth()  # the last project's truth is not this one's
        if why is not None:  # a path a store from elsewhere (or an older version) kept: any file, never read
            self.notify("Truth file not read", f"The truth file was not read again: {why}. Load it from Catalogue > "
                        "Load a truth file.")
        if path is None:
            return

        def lost(message: str) -> None:
            self.say(f"The truth file {Path(path).name} could not be read again ({message}); load it again from "
                     "Catalogue > Load a truth file")

        # read off the GUI thread: a survey's truth file froze the opening for seconds
        self.table.read_truth(path, lambda truth, *_: self.table.set_truth(truth, Path(path).name), lost)

    def _keep_stretch(self, stretch: Stretch) -> None:
        if self.project is not None:
            self.project.set_view_setting("stretch", dataclasses.asdict(stretch))

    def _keep_size(self, size: int) -> None:
        if self.project is not None:
            self.project.set_view_setting("thumb_size", int(size))
