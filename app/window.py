"""The main window: map in the middle, settings and labels on the left, preview on the right,
thumbnails below.  It builds the widgets, menus and keys and starts jobs; state lives in
:class:`core.project.Project`, which the views in :mod:`app.views` and :mod:`app.widgets` follow
themselves, and long work runs on :mod:`app.workers`, each job with its own result handler."""

from __future__ import annotations

import functools
import sys
import weakref
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QDockWidget, QFileDialog, QMainWindow, QMessageBox

from app import dialogs
from app.actions import ActionStates
from app.collector import gui_thread_collector
from app.exporting import CatalogueExport
from app.feature_load import FeatureLoad
from app.labelling import Labelling
from app.opening import FolderOpener
from app.views import CentralArea, JobStatus, MapView, QtSkippedFiles, RecentFolders, ViewState, duration, fit_small_screens
from app.widgets.qt_classify import QtClassify
from app.widgets.qt_controls import QtRunSettings
from app.widgets.qt_labels import QtClasses, QtClusters
from app.widgets.qt_map import QtClusterMap
from app.widgets.qt_preview import QtPreview
from app.widgets.qt_samp import SampTools
from app.widgets.qt_tables import CatalogueTools
from app.widgets.qt_thumbnails import QtThumbnailGrid
from app.workers import SWITCH_S, Job, JobRunner
from core.catalog.export import EXPORT_FORMATS
from core.clustering.methods import CLUSTER_METHODS, describe_k_scores, suggest_n_clusters
from core.colouring import COLOURINGS
from core.pipeline import PipelineResult, run_in_own_store
from core.project import Project
from core.vocabulary import EXCLUDE, UNSURE


class MainWindow(QMainWindow):
    """Galaxy Sorter's window.

    Parameters
    ----------
    synchronous : bool
        Run jobs on the GUI thread (tests that need no threads).
    settings : QSettings, optional
        Where recent folders and the layout are kept (tests pass a scratch file).
    """

    def __init__(self, synchronous: bool = False, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Galaxy Sorter")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("GalaxySorter", "GalaxySorter")
        self.project: Project | None = None
        self.jobs = JobRunner(self, synchronous=synchronous)
        self.opening = FolderOpener(self, self._show_project)
        # The GUI thread waits up to this for the GIL at each hand-over, and takes it back after each Qt or numpy call
        # that let it go: 1 ms each, a busy job beside it, stretched a 30 ms repaint to 250 ms (app.workers.SWITCH_S).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_S))
        # Garbage cycles are collected on this thread while the window is open, never on a pool's (app.collector).
        self.collector = gui_thread_collector()
        self._collector_hold = self.collector.hold()
        self.destroyed.connect(functools.partial(self.collector.release, self._collector_hold))
        self._labels_since_round = 0

        self.map = QtClusterMap()
        self.run_settings = QtRunSettings()
        self.classes = QtClasses()
        self.clusters = QtClusters(jobs=self.jobs)
        self.grid = QtThumbnailGrid()
        self.preview = QtPreview()
        self.classify = QtClassify(self.grid)
        self.central = CentralArea(self.map, self.classify)  # start screen, map or classify mode
        self.welcome = self.central.welcome
        self.setCentralWidget(self.central)
        self.skipped = QtSkippedFiles()
        self.docks: dict[str, QDockWidget] = {}
        for name, widget, area in (("Run", self.run_settings, Qt.DockWidgetArea.LeftDockWidgetArea),
                                   ("Classes", self.classes, Qt.DockWidgetArea.LeftDockWidgetArea),
                                   ("Clusters", self.clusters, Qt.DockWidgetArea.LeftDockWidgetArea),
                                   ("Preview", self.preview, Qt.DockWidgetArea.RightDockWidgetArea),
                                   ("Galaxies", self.grid, Qt.DockWidgetArea.BottomDockWidgetArea),
                                   ("Skipped files", self.skipped, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(name, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["Galaxies"], self.docks["Skipped files"])
        self.docks["Galaxies"].raise_()

        self.color_combo = QComboBox()
        for entry in COLOURINGS:
            self.color_combo.addItem(entry.label, entry.name)
        self.color_combo.currentIndexChanged.connect(lambda i: i >= 0 and self.set_color_mode(self.color_combo.itemData(i)))
        self.status = JobStatus(self.statusBar(), self.jobs, (self.color_combo,))
        self.stage_label, self.progress, self.cancel_button = (self.status.stage_label, self.status.progress,
                                                               self.status.cancel_button)
        self.provider_label, self.privacy_label = self.status.provider_label, self.status.privacy_label
        self.feature_load = FeatureLoad(self)  # after the status line: its "cancelled" text follows the status's
        self.map_view = MapView(self.map, self.stage_label)
        self.labelling = Labelling(self.grid, self.preview, self.status.say)
        self.exporter = CatalogueExport(self, self.jobs, self.status.say, self.progress)
        self._build_menus()
        self._build_shortcuts()
        self.action_states = ActionStates(self)
        self.catalogue = CatalogueTools(self, self.docks, self.jobs, self.color_combo, say=self.status.say,
                                        show_error=self.show_error, current_cluster=self.clusters.current_cluster,
                                        view=lambda: (self.grid.cache.prep, self.preview.stretch),
                                        samp=lambda menu: SampTools(self, menu))
        fit_small_screens(self)
        self.view_state = ViewState(self.grid, self.preview, self.catalogue.table, self.status.say, self.labelling,
                                    self.notify)

        self.run_settings.cluster_requested.connect(self.start_clustering)
        self.run_settings.suggest_requested.connect(self.suggest_next)
        self.run_settings.retrain_requested.connect(self.retrain)
        self.run_settings.suggest_k_requested.connect(self.suggest_k)
        self.run_settings.projection_changed.connect(self.reproject)
        self.map.selection_requested.connect(self._on_map_selection)
        self.clusters.cluster_selected.connect(self.show_cluster)
        self.classes.label_requested.connect(self.label_selection)
        self.classify.label_requested.connect(self.label_selection)
        self.classify.accept_requested.connect(self.accept_model_label)
        for follower in (self.grid, self.classify, self.map_view):  # the strip, classify mode, the hover
            self.preview.stretch_changed.connect(follower.set_stretch)
        self.jobs.partial.connect(lambda value: self.map_view.show_partial(*value[1:]))
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.busy_changed.connect(self.run_settings.set_busy)
        self.jobs.busy_changed.connect(lambda _busy: self._update_actions())  # the panel's buttons follow the menu
        self._update_actions()

    @property
    def color_mode(self) -> str:
        """The colouring of the map (a name in :data:`core.colouring.COLOURINGS`)."""
        return self.map_view.mode

    # ------------------------------------------------------------------ building
    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        dialogs.action(self, m, "&Open folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self.recent = RecentFolders(self.settings, m.addMenu("Open &recent"), lambda f: self.opening.soon(f))
        m.addSeparator()
        self.export_actions = [dialogs.action(self, m, f"&Export {e.label}…",
                                              lambda _=False, f=e.name: self.export_catalogue(fmt=f),
                                              "Ctrl+E" if e.name == EXPORT_FORMATS.default else None)
                               for e in EXPORT_FORMATS]
        self.export_map_action = dialogs.action(self, m, "Export &map (PNG/SVG/JPEG)…", self.export_map)
        self.copy_action = dialogs.action(self, m, "&Copy selected file paths", self.copy_paths, "Ctrl+Shift+C")
        self.backup_action = dialogs.action(self, m, "&Back up project…", lambda: dialogs.back_up_project(self))
        m.addSeparator()
        dialogs.action(self, m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = dialogs.action(self, e, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = dialogs.action(self, e, "&Redo", self.redo, QKeySequence.StandardKey.Redo)
        e.addSeparator()
        dialogs.action(self, e, "Select &all", lambda: self.project and self.project.selection.set(np.arange(len(self.project))),
                     QKeySequence.StandardKey.SelectAll)
        dialogs.action(self, e, "Select &none", lambda: self.project and self.project.selection.clear(), "Ctrl+Shift+A")
        r = self.menuBar().addMenu("&Run")
        self.cluster_action = dialogs.action(self, r, "&Cluster", self.start_clustering, "Ctrl+R")
        self.suggest_action = dialogs.action(self, r, "&Suggest galaxies to label", self.suggest_next, "Ctrl+G",
                                           "Select the galaxies whose labels would teach the model most")
        self.retrain_action = dialogs.action(self, r, "&Retrain from my labels", self.retrain, "Ctrl+T",
                                           "Fine-tune DEC on your labels (semi-supervised) and update the clusters")
        self.auto_retrain_action = QAction("Retrain &automatically every 20 new labels", self, checkable=True)
        r.addAction(self.auto_retrain_action)
        self.morphology_action = dialogs.action(self, r, "Compute &morphology parameters", self.compute_morphology, tip=(
            "Concentration, asymmetry, Gini, M20, ellipticity and colour per galaxy: catalogue columns and map colourings"))
        self.load_features_action = dialogs.action(self, r, "&Load features", self.feature_load.start, tip=(
            "Load the reopened run's features again (after Esc stopped their loading)"))
        self.cancel_action = dialogs.action(self, r, "Ca&ncel", self.jobs.cancel, "Esc")
        v = self.menuBar().addMenu("&View")
        self.classify_action = QAction("&Classify mode (one galaxy large)", self, checkable=True)
        self.classify_action.setShortcut(QKeySequence("Ctrl+K"))
        self.classify_action.toggled.connect(self.set_classify_mode)
        v.addAction(self.classify_action)
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        h = self.menuBar().addMenu("&Help")
        dialogs.action(self, h, "&Keyboard and privacy", lambda: dialogs.show_help(self))

    def _build_shortcuts(self) -> None:
        # Number keys label the selection with the class of that position; widgets that take
        # text (spin boxes, line edits) claim digits through ShortcutOverride, so typing still works.
        for i in range(9):
            QShortcut(QKeySequence(str(i + 1)), self, activated=lambda i=i: self.labelling.label_by_key(i))
        QShortcut(QKeySequence("U"), self, activated=lambda: self.label_selection(UNSURE))
        QShortcut(QKeySequence("X"), self, activated=lambda: self.label_selection(EXCLUDE))
        QShortcut(QKeySequence(Qt.Key.Key_Backspace), self, activated=lambda: self.label_selection(None))
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self, activated=lambda: self.label_selection(None))
        QShortcut(QKeySequence(Qt.Key.Key_Return), self, activated=self.accept_model_label)
        QShortcut(QKeySequence(Qt.Key.Key_Enter), self, activated=self.accept_model_label)
        QShortcut(QKeySequence("L"), self, activated=lambda: self.map.set_mode("lasso"))
        QShortcut(QKeySequence("R"), self, activated=lambda: self.map.set_mode("rect"))
        QShortcut(QKeySequence("P"), self, activated=lambda: self.map.set_mode("pan"))

    # ------------------------------------------------------------------ project
    def choose_folder(self) -> None:
        """Ask for an image folder and open it."""
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of galaxy images")
        if folder:
            self.opening.soon(folder)  # read off the GUI thread (app.opening), shown when read

    def open_folder(self, folder: str | Path) -> bool:
        """Open the project of ``folder`` now (restore its last run and labels, or get ready to cluster); True if shown.

        Read on this thread (scripts, tests); the menus and a drop read it off the GUI thread (``opening.soon``).
        """
        return self.opening.now(folder)

    def _show_project(self, folder: Path, project: Project) -> None:
        """Show a project :class:`app.opening.FolderOpener` read, in place of the one shown."""
        self.jobs.abandon()  # the user opened another folder: what the old project's job returns no longer applies
        self.feature_load.reset()
        gone = None
        if self.project is not None:
            self.project.close()
            gone = weakref.ref(self.project)
        self.project = project
        # The views follow the project themselves; the map first, so a selection is outlined before the strip follows.
        for view in (self.map_view, self.labelling, self.skipped, self.classes, self.clusters, self.classify,
                     self.catalogue, self.view_state):
            view.set_project(project)
        self.central.leave_start_screen()
        events = project.events
        for signal in (events.data_changed, events.history_changed, events.round_changed):
            signal.connect(self._update_actions)
        project.events.labels_changed.connect(self._count_new_labels)
        project.selection.changed.connect(lambda *_: self._update_actions())
        self.setWindowTitle(f"Galaxy Sorter: {folder.name}"
                            + (" (read-only: the folder cannot be written, labels are not saved)"
                               if project.store.read_only else ""))
        self.recent.add(folder)
        if project.run_id is not None:
            self.map_view.hold()  # drawn in the next turn, with the strip's first cluster (opening.finish)
        else:
            self.map_view.render()
        self._update_actions()
        if project.run_id is not None:
            self.run_settings.set_config(project.config(), project.projection())
            self.status.say(f"Reopened {folder.name}: {len(project)} images, "
                            f"{np.count_nonzero(np.not_equal(project.user_labels, None))} labelled by you")  # not a loop a galaxy
            self.opening.finish_later(project)  # the map, the strip's first cluster, the features' load: the next turn
        else:
            self.status.say(f"Opened {folder.name}: press Cluster (Ctrl+R)")
        if gone is not None:  # the views follow the new project: the last one goes now, unless a cycle holds it
            self.collector.let_go(gone)  # thawed (its objects visited by the next full collection) only if not

    def recent_folders(self) -> list[str]:
        """Recently opened folders, newest first."""
        return self.recent.folders()

    # ------------------------------------------------------------------ jobs
    def start_clustering(self) -> None:
        """Run the pipeline on the open folder with the settings shown."""
        if self.project is None:
            self.show_error("Open a folder of galaxy images first (File > Open folder).")
            return
        self.jobs.start("cluster", run_in_own_store, self.project.folder, self.run_settings.config(),
                        self.project.store.folder, with_partial=True, on_result=self._on_clustered,
                        on_cancelled=self.map_view.render)

    def _on_clustered(self, result: PipelineResult) -> None:
        if self.project is None:
            return
        self.project.apply_result(result)
        self.status.set_provider(result.provider)
        t = result.timings
        msg = (f"Clustered {len(result.paths)} images in {duration(t['total'])} "
               f"(features {duration(t['extract'])}, clustering {duration(t['cluster'])})")
        if result.model_note:  # "Automatic" saw a single-band folder: say which features it used
            msg += f"; single-band folder: {self.run_settings.shown_name('model', result.model)} features"
        if result.start_note:  # small galaxies: DEC started from the consensus mixture
            msg += "; small galaxies: DEC's start chosen for them"
        if result.skipped:
            msg += f"; {len(result.skipped)} file(s) skipped, see 'Skipped files'"
        asked, made = self.run_settings.n_clusters.value(), len(self.project.cluster_ids())
        if CLUSTER_METHODS.get(self.run_settings.config().method).options.uses_k and made < asked:
            # k is capped at the number of images: say so, and show the k that ran.
            self.run_settings.n_clusters.setValue(made)
            msg += f"; {asked} clusters asked, {made} made ({len(self.project)} images)"
        self.status.say(msg)
        if result.clusters.warnings:
            self.notify("About these clusters", "\n\n".join(result.clusters.warnings))

    def suggest_k(self) -> None:
        """Silhouette of k-means for k = 2..8 on the features (extracted first if needed)."""
        p = self.project
        if p is None or (p.features is None and p.run_id is None):
            self.show_error("Cluster once first: the suggestion needs the features.")
            return
        self.feature_load.then("Suggest k", lambda: self.jobs.start(
            "suggest-k", lambda X, progress, should_stop: suggest_n_clusters(X), p.features, on_result=self._on_k_scores))

    def _on_k_scores(self, scores: dict[int, float]) -> None:
        best = max(scores, key=scores.get)
        self.run_settings.n_clusters.setValue(best)
        self.notify("Suggested number of clusters", f"{describe_k_scores(scores)}\n\nHigher separates better. Set "
                    f"to k = {best}; galaxies rarely fall into neat groups, so treat this as a starting point.")

    def reproject(self, method: str) -> None:
        """Draw the map again with another projection."""
        from core.clustering.projection import PROJECTION_METHODS
        from core.project_map import NewMap

        p = self.project
        if p is None or p.run_id is None:
            return
        if p.features is None:  # a reopened run whose feature load was cancelled: load them, then draw
            self.feature_load.then("The new map", lambda: self.reproject(method))
            return
        labels = None
        if PROJECTION_METHODS.get(method).options.needs_labels:
            labels = p.known_labels()
            if len({x for x in labels if x is not None}) < 2:  # refused: the Map box goes back to the map drawn
                self.run_settings.show_projection(p.projection())
                self.show_error("LDA needs at least two classes among your labels (or named clusters).")
                return

        def done(new: NewMap) -> None:  # projected and stored by the job: shown if its run still is
            if p is self.project and p.show_map(new):
                self.status.say(f"Map: {self.run_settings.shown_name('projection', method)}")

        if self.jobs.start("project", p.map_job(method, labels), on_result=done) is None:
            self.run_settings.show_projection(p.projection())  # refused while another job runs: the map drawn

    def suggest_next(self, n: int = 10) -> None:
        """Find the next galaxies worth labelling in the background (the encoder runs over every image)."""
        p = self.project
        if p is None or p.run_id is None:
            self.show_error("Cluster the images first.")
            return
        self.feature_load.then("Suggest", lambda: self.jobs.start(
            "suggest", lambda progress, should_stop: p.suggest(n), on_result=self._show_suggestions))

    def _show_suggestions(self, rows: np.ndarray) -> None:
        if not len(rows):  # Suggest returns none only when every galaxy holds a label of the user's
            self.status.say("Nothing to suggest: every galaxy has your label")
            return
        self.grid.sort.setCurrentText("least sure first")
        self.labelling.show_list(rows, "Suggested: label these next (number keys)")
        self.status.say(f"{len(rows)} galaxies suggested: unsure, near a boundary, spread over the map")

    def retrain(self) -> None:
        """Fine-tune DEC on the user's labels in the background."""
        p = self.project
        if p is None:
            return
        def start() -> None:
            if self.jobs.start("retrain", p.finetune, on_result=self._on_round) is not None:
                self._labels_since_round = 0

        self.feature_load.then("Retrain", start)

    def _on_round(self, result) -> None:
        if self.project is None:
            return
        self.project.apply_round(result)
        self.status.say(result.headline())
        self.show_round(result)

    def _count_new_labels(self, rows: np.ndarray) -> None:
        self._labels_since_round += len(rows)
        if (self.auto_retrain_action.isChecked() and self._labels_since_round >= 20 and not self.jobs.busy
                and self.project is not None and self.project.encoder_path() is not None):
            self.retrain()

    def show_round(self, result) -> None:
        """What the round changed, with a button to review the moved galaxies."""
        self.last_round_box = dialogs.round_report(self, result, self.project.learning_curve(), self.review_moved,
                                                   previous=getattr(self, "last_round_box", None))

    def review_moved(self) -> None:
        """Select the galaxies the last round moved."""
        p = self.project
        result = p.last_round
        if p is None or result is None:
            return
        self.labelling.show_list(np.flatnonzero(result.moved), "Moved by the last retraining")

    def compute_morphology(self) -> None:
        """Compute the morphology parameters of the images not done yet, in the background (core/features/morphology.py)."""
        from core.features.morphology import compute_morphology

        if self.project is None or not self.project.paths:
            self.show_error("Cluster the images first.")
            return
        self.jobs.start("morphology", compute_morphology, self.project.store.folder, list(self.project.paths),
                        prep=self.project.preprocessing(), on_result=self.map_view.morphology_done)  # the run's crop

    def _on_job_failed(self, name: str, message: str, hint: str, tb: str) -> None:
        self.show_error(message, hint, tb)  # the hint came with the error's type (app/workers.py)

    def set_color_mode(self, mode: str) -> None:
        """Colour the map by an entry of :data:`core.colouring.COLOURINGS` (``cluster``, ``label``, ``confidence``)."""
        self.map_view.set_mode(mode)
        self.color_combo.setCurrentIndex(self.color_combo.findData(self.map_view.mode))
        self.labelling.refresh()

    def set_classify_mode(self, on: bool) -> None:
        """Show one galaxy large with its neighbours (True) or the map (False) in the middle."""
        self.classify_action.setChecked(on)
        self.central.show_classify(on, self.project)

    # ------------------------------------------------------------------ selection
    def _on_map_selection(self, indices: np.ndarray, additive: bool) -> None:
        if self.project is None:
            return
        if additive:
            indices = np.union1d(self.project.selection.indices, indices)
        self.project.selection.set(indices, self.map)

    def show_cluster(self, cluster: int) -> None:
        """Show a cluster's galaxies in the strip and select the first for labelling."""
        self.labelling.show_cluster(cluster)

    def label_selection(self, label: str | None) -> None:
        """Label the selected images (None clears their labels); a single image advances to the next."""
        self.labelling.label_selection(label)

    def accept_model_label(self) -> None:
        """Enter: the model's label becomes yours for the selected images."""
        self.labelling.accept_model_label()

    def undo(self) -> None:
        """Undo the last labelling action."""
        self.labelling.step_history("undo", "Undone")

    def redo(self) -> None:
        """Redo the last undone action."""
        self.labelling.step_history("redo", "Redone")

    def _update_actions(self) -> None:
        self.action_states.update()

    # ------------------------------------------------------------------ export
    def export_catalogue(self, path: str | None = None, fmt: str = EXPORT_FORMATS.default) -> Job | None:
        """Write the catalogue (CSV by default) and its sidecar JSON, as the CLI does, as a job
        (:mod:`app.exporting`); the path comes with ``jobs.finished`` and ``exporter.exported``."""
        return self.exporter.start(path, fmt)

    def export_map(self, path: str | None = None) -> None:
        """Save the map as PNG, SVG or JPEG; the status line names the file written (or says why none was)."""
        formats = "PNG image (*.png);;SVG image (*.svg);;JPEG image (*.jpg *.jpeg)"
        self.map_view.export(path or dialogs.save_path(self, "Export map", "map.png", formats), self.show_error)

    def copy_paths(self) -> None:
        """Copy the selected images' paths to the clipboard, one per line."""
        if self.project is not None and dialogs.copy_paths(self.project):
            self.status.say(f"Copied {len(self.project.selection.indices)} path(s)")

    # ------------------------------------------------------------------ misc
    def show_error(self, message: str, hint: str = "", details: str = "") -> None:
        """A readable error with what to do; the traceback only under 'Show Details'."""
        self.last_error = message
        dialogs.error(self, message, hint, details)

    def notify(self, title: str, text: str) -> QMessageBox:
        """A message that does not block the window (the map stays usable while it is open)."""
        self.last_notice = text
        return dialogs.notice(self, title, text)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if any(url.isLocalFile() for url in event.mimeData().urls()):  # folders and files here, not web links
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt override)
        folder = dialogs.dropped_folder(event.mimeData())
        if folder is not None:
            self.opening.soon(folder)
        else:
            self.status.say("Only a folder or a file on this computer can be opened by dropping it here")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.opening.close()
        self.jobs.cancel()
        self.jobs.wait(10000)
        if self.project is not None:
            self.project.close()
        self.map.release()
        self.collector.release(self._collector_hold)
        super().closeEvent(event)
