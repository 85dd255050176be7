"""The main window: map in the middle, settings and labels on the left, preview on the right,
thumbnails below; long work on :mod:`app.workers`, state in :class:`core.project.Project`."""

from __future__ import annotations

import math
import traceback
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
)

from app.widgets.qt_classify import QtClassify
from app.widgets.qt_controls import QtRunSettings
from app.widgets.qt_labels import QtClasses, QtClusters, cluster_color
from app.widgets.qt_map import QtClusterMap
from app.widgets.qt_tables import CatalogueTools
from app.widgets.qt_thumbnails import QtPreview, QtThumbnailGrid, ThumbnailCache
from app.workers import JobRunner
from core.images import image_id
from core.pipeline import PipelineConfig, run_pipeline
from core.preprocess import Preprocessing
from core.project import EXCLUDE, UNSURE, Project

PRIVACY = "Offline: images and features never leave this computer"
COLOR_MODES = ("cluster", "label", "confidence")
MAX_RECENT = 8


def _pipeline_job(folder: Path, config: PipelineConfig, store_dir: Path, *, progress, should_stop, partial):
    """Run the pipeline with its own store connection, streaming a rough PCA map as features arrive."""
    import time

    from core.projection import project

    seen: list[np.ndarray] = []
    names: list[str] = []
    last = [0.0]

    def on_batch(paths, feats) -> None:
        seen.append(feats)
        names.extend(str(p) for p in paths)
        now = time.perf_counter()
        if now - last[0] > 1.5 and len(names) >= 3:
            last[0] = now
            partial((list(names), project(np.concatenate(seen), "pca")))

    return run_pipeline(folder, config, store_dir=store_dir, progress=progress, should_stop=should_stop,
                        on_batch=on_batch)


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
        self.color_mode = "cluster"
        self.hover_cache = ThumbnailCache(size=128, capacity=500)
        self._partial_paths: list[str] = []

        self.map = QtClusterMap()
        self.run_settings = QtRunSettings()
        self.classes = QtClasses()
        self.clusters = QtClusters()
        self.grid = QtThumbnailGrid()
        self.preview = QtPreview()
        # Classify mode takes the map's place (View > Classify mode): one galaxy large, same selection.
        self.classify = QtClassify(self.grid)
        self.central = QStackedWidget()
        self.welcome = QLabel("<h2>Galaxy Sorter</h2><p>Open a folder of galaxy images (File &gt; Open folder, "
                              "Ctrl+O)<br>or drop a folder here.</p><p>JPEG, PNG, TIFF and FITS; nothing leaves "
                              "this computer.</p>")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.map)
        self.central.addWidget(self.classify)
        self.setCentralWidget(self.central)
        self.skipped = QTreeWidget()
        self.skipped.setHeaderLabels(["file", "why it was skipped"])
        self.skipped.setRootIsDecorated(False)
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
        self.hover_label = QLabel(self.map)
        self.hover_label.setStyleSheet("background:#202020;color:#eeeeee;border:1px solid #888;padding:3px")
        self.hover_label.hide()

        self._build_status_bar()
        self._build_menus()
        self._build_shortcuts()
        self.catalogue = CatalogueTools(self)

        self.run_settings.cluster_requested.connect(self.start_clustering)
        self.run_settings.suggest_requested.connect(self.suggest_next)
        self.run_settings.retrain_requested.connect(self.retrain)
        self.run_settings.suggest_k_requested.connect(self.suggest_k)
        self.run_settings.projection_changed.connect(self.reproject)
        self.map.selection_requested.connect(self._on_map_selection)
        self.map.hovered.connect(self._on_hover)
        self.grid.current_changed.connect(self._on_grid_current)
        self.grid.selection_requested.connect(
            lambda rows: self.project and len(self.project) and self.project.selection.set(rows, self.grid))
        self.clusters.cluster_selected.connect(self.show_cluster)
        self.classes.label_requested.connect(self.label_selection)
        self.classify.label_requested.connect(self.label_selection)
        self.classify.accept_requested.connect(self.accept_model_label)
        self.preview.stretch_changed.connect(self.grid.set_stretch)
        self.preview.stretch_changed.connect(self.classify.set_stretch)
        self.jobs.progress.connect(self._on_progress)
        self.jobs.partial.connect(self._on_partial)
        self.jobs.finished.connect(self._on_job_finished)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.cancelled.connect(self._on_job_cancelled)
        self.jobs.busy_changed.connect(self._on_busy)
        self._update_actions()

    # ------------------------------------------------------------------ building
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.provider_label = QLabel("Features: not run yet")
        self.provider_label.setToolTip("The onnxruntime execution provider the feature model really uses")
        self.privacy_label = QLabel(PRIVACY)
        self.privacy_label.setToolTip("Galaxy Sorter runs its models locally; it has no upload, no telemetry and "
                                      "needs no network.")
        self.stage_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc); work done so far is kept in the cache")
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.cancel_button.hide()
        self.color_combo = QComboBox()
        self.color_combo.addItems([f"colour by {m}" for m in COLOR_MODES])
        self.color_combo.currentIndexChanged.connect(
            lambda i: i >= 0 and self.set_color_mode(self.color_combo.itemText(i).removeprefix("colour by ")))
        bar.addWidget(self.stage_label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.color_combo)
        bar.addPermanentWidget(self.provider_label)
        bar.addPermanentWidget(self.privacy_label)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self._refresh_recent()
        m.addSeparator()
        self.export_action = self._action(m, "&Export catalogue (CSV)…", self.export_catalogue, "Ctrl+E")
        self.export_map_action = self._action(m, "Export &map (PNG/SVG)…", self.export_map)
        self.copy_action = self._action(m, "&Copy selected file paths", self.copy_paths, "Ctrl+Shift+C")
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(e, "&Redo", self.redo, QKeySequence.StandardKey.Redo)
        e.addSeparator()
        self._action(e, "Select &all", lambda: self.project and self.project.selection.set(np.arange(len(self.project))),
                     QKeySequence.StandardKey.SelectAll)
        self._action(e, "Select &none", lambda: self.project and self.project.selection.clear(), "Ctrl+Shift+A")
        r = self.menuBar().addMenu("&Run")
        self.cluster_action = self._action(r, "&Cluster", self.start_clustering, "Ctrl+R")
        self.suggest_action = self._action(r, "&Suggest galaxies to label", self.suggest_next, "Ctrl+G",
                                           "Select the galaxies whose labels would teach the model most")
        self.retrain_action = self._action(r, "&Retrain from my labels", self.retrain, "Ctrl+T",
                                           "Fine-tune DEC on your labels (semi-supervised) and update the clusters")
        self.auto_retrain_action = QAction("Retrain &automatically every 20 new labels", self, checkable=True)
        r.addAction(self.auto_retrain_action)
        self._action(r, "Ca&ncel", self.jobs.cancel, "Esc")
        v = self.menuBar().addMenu("&View")
        self.classify_action = QAction("&Classify mode (one galaxy large)", self, checkable=True)
        self.classify_action.setShortcut(QKeySequence("Ctrl+K"))
        self.classify_action.toggled.connect(self.set_classify_mode)
        v.addAction(self.classify_action)
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        h = self.menuBar().addMenu("&Help")
        self._action(h, "&Keyboard and privacy", self.show_help)

    def _build_shortcuts(self) -> None:
        # Number keys label the selection with the class of that position; widgets that take
        # text (spin boxes, line edits) claim digits through ShortcutOverride, so typing still works.
        for i in range(9):
            QShortcut(QKeySequence(str(i + 1)), self, activated=lambda i=i: self._label_by_key(i))
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
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> bool:
        """Open the project of ``folder``: restore its last run and labels, or get ready to cluster."""
        folder = Path(folder)
        if not folder.is_dir():
            self.show_error(f"{folder} is not a folder (or cannot be read).", "Choose a folder of JPEG, PNG, TIFF "
                            "or FITS images.")
            return False
        try:
            project = Project.open(folder)
        except Exception as exc:  # unreadable store, newer schema: tell the user, keep the window
            self.show_error(f"Cannot open the project of {folder}: {exc}", "", traceback.format_exc())
            return False
        self.jobs.cancel()
        if self.project is not None:
            self.project.close()
        self.project = project
        if self.central.currentWidget() is self.welcome:
            self.central.setCurrentWidget(self.map)
        self._subscribe(project)
        self.classes.set_project(project)
        self.clusters.set_project(project)
        self.classify.set_project(project)
        self.catalogue.set_project(project)
        self.setWindowTitle(f"Galaxy Sorter: {folder.name}")
        self._remember(folder)
        if project.run_id is not None:
            info = project.run_info
            params = info.get("params", {})
            self.run_settings.set_config(str(info["model"]), str(info["method"]), int(info["n_clusters"]),
                                         dict(params.get("prep", {})), project.projection(), int(params.get("seed", 0)))
            self._render_all()
            self.stage_label.setText(f"Reopened {folder.name}: {len(project)} images, "
                                     f"{sum(u is not None for u in project.user_labels)} labelled by you")
            self.jobs.start("load-features", project.reload_features)
        else:
            self._render_all()
            self._show_unclustered(folder)
            self.stage_label.setText(f"Opened {folder.name}: press Cluster (Ctrl+R)")
        self._update_actions()
        return True

    def _show_unclustered(self, folder: Path) -> None:
        """Before the first run, the strip shows the folder's images (nothing to label yet)."""
        from core.images import scan_folder

        paths = [str(x) for x in scan_folder(folder)]
        self.grid.paths = paths
        self.grid.color_of = lambda row: "#777777"
        self.grid.is_user = lambda row: False
        self.grid.describe = lambda row: image_id(paths[row])
        self.grid.sort_keys = None
        self.grid.show_rows(np.arange(len(paths)), f"{folder.name}, not clustered yet (press Cluster)")

    def _subscribe(self, project: Project) -> None:
        project.subscribe("data_changed", self._render_all)
        project.subscribe("coords_changed", self._render_map)
        project.subscribe("labels_changed", lambda rows: self._recolor())
        project.subscribe("classes_changed", self._recolor)
        project.subscribe("clusters_changed", self._recolor)
        project.subscribe("history_changed", self._update_actions)
        project.subscribe("labels_changed", self._count_new_labels)
        project.subscribe("round_changed", self._on_round_changed)
        project.selection.subscribe(self._on_selection_changed)

    def _remember(self, folder: Path) -> None:
        recent = [str(folder)] + [f for f in self.recent_folders() if f != str(folder)]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def recent_folders(self) -> list[str]:
        """Recently opened folders, newest first."""
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for f in self.recent_folders():
            action = self.recent_menu.addAction(f)
            action.triggered.connect(lambda _=False, f=f: self.open_folder(f))
        self.recent_menu.setEnabled(bool(self.recent_folders()))

    # ------------------------------------------------------------------ jobs
    def start_clustering(self) -> None:
        """Run the pipeline on the open folder with the settings shown."""
        if self.project is None:
            self.show_error("Open a folder of galaxy images first (File > Open folder).")
            return
        config = self.run_settings.config()
        self._partial_paths = []
        self.jobs.start("cluster", _pipeline_job, self.project.folder, config, self.project.store.folder,
                        with_partial=True)

    def suggest_k(self) -> None:
        """Silhouette of k-means for k = 2..8 on the features (extracted first if needed)."""
        if self.project is None or self.project.features is None:
            self.show_error("Cluster once first: the suggestion needs the features.")
            return
        from core.cluster import suggest_n_clusters

        self.jobs.start("suggest-k", lambda X, progress, should_stop: suggest_n_clusters(X), self.project.features)

    def reproject(self, method: str) -> None:
        """Draw the map again with another projection."""
        p = self.project
        if p is None or p.features is None:
            return
        from core.projection import project as project_fn

        labels = None
        if method == "lda":
            labels, _ = p.final_labels()
            labels = [lab if u is not None or c in p.cluster_names else None
                      for lab, u, c in zip(labels, p.user_labels, p.clusters)]
            if len({x for x in labels if x is not None}) < 2:
                self.show_error("LDA needs at least two classes among your labels (or named clusters).")
                return
        self.jobs.start("project", lambda X, progress, should_stop: (method, project_fn(X, method, labels=labels)),
                        p.features)

    def suggest_next(self, n: int = 10) -> None:
        """Find the next galaxies worth labelling in the background (the encoder runs over every image)."""
        p = self.project
        if p is None or p.run_id is None:
            self.show_error("Cluster the images first.")
            return
        self.jobs.start("suggest", lambda progress, should_stop: p.suggest(n))

    def _show_suggestions(self, rows: np.ndarray) -> None:
        self.grid.sort.setCurrentText("least sure first")
        self._show_list(rows, "Suggested: label these next (number keys)")
        self.stage_label.setText(f"{len(rows)} galaxies suggested: unsure, near a boundary, spread over the map")

    def retrain(self) -> None:
        """Fine-tune DEC on the user's labels in the background."""
        p = self.project
        if p is None:
            return
        self._labels_since_round = 0
        self.jobs.start("retrain", p.finetune)

    def _count_new_labels(self, rows: np.ndarray) -> None:
        self._labels_since_round = getattr(self, "_labels_since_round", 0) + len(rows)
        if (self.auto_retrain_action.isChecked() and self._labels_since_round >= 20 and not self.jobs.busy
                and self.project is not None and self.project.encoder_path() is not None):
            self.retrain()

    def _on_round_changed(self) -> None:
        self._recolor()
        self.clusters.refresh()
        self._update_actions()

    def show_round(self, result) -> None:
        """What the round changed, with a button to review the moved galaxies."""
        p = self.project
        moved = np.flatnonzero(result.moved)
        box = QMessageBox(QMessageBox.Icon.Information, "What retraining changed", result.summary(), parent=self)
        review = box.addButton(f"Review the {len(moved)} moved", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.setObjectName("round_box")
        self.last_round_box = box
        if QApplication.platformName() == "offscreen":
            box.show()
            return
        box.exec()
        if box.clickedButton() is review and p is not None:
            self.review_moved()

    def review_moved(self) -> None:
        """Select the galaxies the last round moved."""
        p = self.project
        result = getattr(p, "last_round", None)
        if p is None or result is None:
            return
        self._show_list(np.flatnonzero(result.moved), "Moved by the last retraining")

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.run_settings.set_busy(busy)
        self._update_actions()
        if busy:
            self.progress.setValue(0)
            self.stage_label.setText("Starting…")

    def _on_progress(self, fraction: float, message: str, eta: float) -> None:
        self.progress.setValue(int(1000 * fraction))
        left = "" if math.isnan(eta) else f", about {_duration(eta)} left"
        self.stage_label.setText(f"{message}{left}")

    def _on_partial(self, value: object) -> None:
        paths, coords = value
        self._partial_paths = paths
        self.map.set_points(coords, np.zeros(len(coords), np.int64), {0: "#888888"}, {0: "features so far"})

    def _on_job_finished(self, name: str, result: object) -> None:
        p = self.project
        if p is None:
            return
        if name == "cluster":
            p.apply_result(result)
            p.store.set_setting(f"projection/{result.run_id}", self.run_settings.config().projection)
            result.store.close()
            self.provider_label.setText(f"Features on {'GPU (CUDA)' if 'CUDA' in result.provider else 'CPU'}")
            self.provider_label.setToolTip(f"onnxruntime provider in use: {result.provider}")
            t = result.timings
            msg = (f"Clustered {len(result.paths)} images in {_duration(t['total'])} "
                   f"(features {_duration(t['extract'])}, clustering {_duration(t['cluster'])})")
            if result.skipped:
                msg += f"; {len(result.skipped)} file(s) skipped, see 'Skipped files'"
            asked, made = self.run_settings.n_clusters.value(), len(p.cluster_ids())
            if self.run_settings.config().method != "dbscan" and made < asked:
                # k is capped at the number of images: say so, and show the k that ran.
                self.run_settings.n_clusters.setValue(made)
                msg += f"; {asked} clusters asked, {made} made ({len(p)} images)"
            self.stage_label.setText(msg)
            if result.clusters.warnings:
                self.notify("About these clusters", "\n\n".join(result.clusters.warnings))
        elif name == "load-features":
            res, provider = result
            if [str(x) for x in res.paths] == p.paths:
                p.features = res.features
            n_user = sum(u is not None for u in p.user_labels)
            self.stage_label.setText(f"Restored {p.folder.name}: {len(p)} images, {n_user} labels by you, "
                                     f"{len(p.cluster_ids())} clusters ({p.run_info.get('method')}), "
                                     f"{p.projection()} map; features ready")
            self.provider_label.setText(f"Features on {'GPU (CUDA)' if 'CUDA' in provider else 'CPU'}")
        elif name == "suggest-k":
            scores: dict[int, float] = result
            best = max(scores, key=scores.get)
            text = "\n".join(f"k = {k}: silhouette {s:.3f}{'  <- best' if k == best else ''}" for k, s in scores.items())
            self.run_settings.n_clusters.setValue(best)
            self.notify("Suggested number of clusters",
                        f"{text}\n\nHigher separates better. Set to k = {best}; galaxies rarely fall into "
                        "neat groups, so treat this as a starting point.")
        elif name == "suggest":
            self._show_suggestions(result)
        elif name == "retrain":
            p.apply_round(result)
            self.stage_label.setText(f"Retrained on {result.n_labelled} labels in {_duration(result.seconds)}: "
                                     f"{int(result.moved.sum())} moved, agreement {result.agreement:.0%}")
            self.show_round(result)
        elif name == "project":
            method, coords = result
            p.set_coords(coords, method)
            self.stage_label.setText(f"Map: {method}")

    def _on_job_failed(self, name: str, message: str, tb: str) -> None:
        hint = ""
        if "model file" in message:
            hint = "Build the model files, then try again."
        elif "no JPEG" in message:
            hint = "Choose a folder that holds galaxy images (JPEG, PNG, TIFF or FITS)."
        self.stage_label.setText(f"{name} failed: {message}")
        self.show_error(message, hint, tb)

    def _on_job_cancelled(self, name: str) -> None:
        self.stage_label.setText(f"{name} cancelled; features computed so far are cached")
        if self.project is not None and name == "cluster":
            self._render_map()

    # ------------------------------------------------------------------ rendering
    def _render_all(self) -> None:
        self._render_map()
        self._refresh_skipped()
        self.grid.paths = self.project.paths if self.project else []
        self.grid.color_of = self._row_color
        self.grid.describe = self._describe
        self.grid.sort_keys = self._sort_keys
        self.grid.is_user = lambda row: self.project.user_labels[row] is not None
        prep = Preprocessing(**self.project.run_info.get("params", {}).get("prep", {})) if (
            self.project and self.project.run_info) else Preprocessing()
        for view in (self.grid, self.preview, self.classify):
            view.set_prep(prep)
        self.grid.show_rows(np.zeros(0, np.int64), "Nothing selected")
        self.preview.show_image(None)
        self._update_actions()

    def _render_map(self) -> None:
        p = self.project
        if p is None or len(p) == 0:
            self.map.set_points(np.zeros((0, 2)), np.zeros(0), {})
            return
        groups, colors, names = self._groups()
        self.map.set_points(p.coords, groups, colors, names)
        if self.color_mode == "confidence":
            self.map.set_continuous(p.confidence, "confidence")
        elif self.color_mode.startswith("cat_"):
            self._recolor()
        self.map.set_user_labelled(np.flatnonzero([u is not None for u in p.user_labels]))
        self.map.set_selection(p.selection.indices)

    def _groups(self) -> tuple[np.ndarray, dict, dict]:
        p = self.project
        if self.color_mode == "label":
            labels, source = p.final_labels()
            named = {lab for lab, s, c in zip(labels, source, p.clusters) if s == "user" or int(c) in p.cluster_names}
            keys = np.array([lab if lab in named else "(no label)" for lab in labels], dtype=object)
            colors = {k: (p.color_of(k) if k != "(no label)" else "#555555") for k in set(keys)}
            return keys.astype(str), colors, {k: k for k in colors}
        colors = {c: (p.color_of(p.cluster_names[c]) if c in p.cluster_names else cluster_color(c))
                  for c in p.cluster_ids()}
        return p.clusters, colors, {c: p.cluster_name(c) for c in p.cluster_ids()}

    def _recolor(self) -> None:
        p = self.project
        if p is None or len(p) == 0:
            return
        if self.color_mode == "confidence":
            self.map.set_continuous(p.confidence, "confidence")
        elif self.color_mode.startswith("cat_"):
            self.map.set_colors(*self.catalogue.colour_groups(self.color_mode))
        else:
            self.map.set_colors(*self._groups())
        self.map.set_user_labelled(np.flatnonzero([u is not None for u in p.user_labels]))
        self.grid.refresh()
        self._show_preview(self.grid.current_row())

    def set_color_mode(self, mode: str) -> None:
        """Colour the map by ``cluster``, ``label`` or ``confidence``."""
        self.color_mode = mode
        self.color_combo.setCurrentText(f"colour by {mode}")
        self._recolor()

    def set_classify_mode(self, on: bool) -> None:
        """Show one galaxy large with its neighbours (True) or the map (False) in the middle."""
        self.classify_action.setChecked(on)
        self.central.setCurrentWidget(self.classify if on else self.map)
        p = self.project
        if on and p is not None and len(p.selection.indices) != 1 and len(self.grid.rows()):
            p.selection.set(self.grid.rows()[:1], self.grid)
        if on:
            self.classify.refresh()  # the strip's list may have changed while the same galaxy stayed selected
            self.classify.setFocus()

    def _row_color(self, row: int) -> str:
        p = self.project
        u = p.user_labels[row]
        if u is not None:
            return p.color_of(u)
        c = int(p.clusters[row])
        return p.color_of(p.cluster_names[c]) if c in p.cluster_names else cluster_color(c)

    def _describe(self, row: int) -> str:
        p = self.project
        u = p.user_labels[row]
        label = f"{u} (yours)" if u is not None else f"{p.cluster_name(int(p.clusters[row]))} (model)"
        return (f"<b>{image_id(p.paths[row])}</b><br>cluster {int(p.clusters[row])}: {p.cluster_name(int(p.clusters[row]))}"
                f"<br>label: {label}<br>confidence {float(p.confidence[row]):.2f}<br><small>{p.paths[row]}</small>")

    def _sort_keys(self, how: str, rows: np.ndarray) -> np.ndarray:
        p = self.project
        if how == "least sure first":
            return p.confidence[rows]
        if how == "most sure first":
            return -p.confidence[rows]
        if how == "name":
            return np.array([image_id(p.paths[r]) for r in rows], dtype=object).argsort().argsort()
        space = p.features if p.features is not None else p.coords
        dist = np.zeros(len(rows))
        for c in np.unique(p.clusters[rows]):
            members = p.clusters == c
            centre = space[members].mean(0)
            sel = p.clusters[rows] == c
            dist[sel] = np.linalg.norm(space[rows[sel]] - centre, axis=1)
        return dist

    def _refresh_skipped(self) -> None:
        self.skipped.clear()
        if self.project is None:
            return
        rows = self.project.store.skipped()
        for path, reason in rows:
            self.skipped.addTopLevelItem(QTreeWidgetItem([path, reason or ""]))
        self.docks["Skipped files"].setWindowTitle(f"Skipped files ({len(rows)})")

    # ------------------------------------------------------------------ selection
    def _on_map_selection(self, indices: np.ndarray, additive: bool) -> None:
        if self.project is None:
            return
        if additive:
            indices = np.union1d(self.project.selection.indices, indices)
        self.project.selection.set(indices, self.map)

    def _on_selection_changed(self, indices: np.ndarray, source: object) -> None:
        # One rule for the whole window: the shared selection is what the keys act on, and it is
        # always the highlight in the strip and the outline on the map. A selection made outside the
        # strip (map, menus) becomes the strip's list; one made in it (click, a key moving on) keeps it.
        self.map.set_selection(indices)
        if source is not self.grid:
            self.grid.show_rows(indices, "Selection")
        self.grid.mark(indices)
        self._update_actions()

    def _show_list(self, rows: np.ndarray, title: str) -> None:
        """Show ``rows`` in the strip and select the first one in display order (the one previewed)."""
        p = self.project
        self.grid.show_rows(rows, title)
        shown = self.grid.rows()
        p.selection.set(shown[:1], self.grid)
        self.grid.mark(p.selection.indices)

    def show_cluster(self, cluster: int) -> None:
        """Show a cluster's galaxies in the strip, in the chosen order, and select the first for labelling."""
        p = self.project
        if p is None:
            return
        self._show_list(np.flatnonzero(p.clusters == cluster), f"Cluster {cluster}: {p.cluster_name(cluster)}")

    def _on_grid_current(self, row: int) -> None:
        self._show_preview(row)

    def _show_preview(self, row: int) -> None:
        p = self.project
        if p is None or row < 0 or row >= len(p):
            self.preview.show_image(None)
            return
        self.preview.show_image(p.paths[row], self._describe(row))

    def _on_hover(self, row: int) -> None:
        p = self.project
        if p is None or row < 0 or row >= len(p.paths):
            self.hover_label.hide()
            return
        from PySide6.QtGui import QCursor

        self.hover_label.setPixmap(self.hover_cache.get(p.paths[row]))
        self.hover_label.setToolTip(image_id(p.paths[row]))
        self.hover_label.adjustSize()
        pos = self.map.mapFromGlobal(QCursor.pos())
        x = min(pos.x() + 16, self.map.width() - self.hover_label.width() - 4)
        y = min(pos.y() + 16, self.map.height() - self.hover_label.height() - 4)
        self.hover_label.move(max(0, x), max(0, y))
        self.hover_label.show()
        self.stage_label.setText(f"{image_id(p.paths[row])}: {p.cluster_name(int(p.clusters[row]))}, "
                                 f"confidence {float(p.confidence[row]):.2f}")

    # ------------------------------------------------------------------ labelling
    def _targets(self) -> np.ndarray:
        # Always the shared selection, which the strip highlights and the map outlines.
        p = self.project
        return np.zeros(0, np.int64) if p is None else p.selection.indices.copy()

    def _label_by_key(self, i: int) -> None:
        if self.project is not None and i < len(self.project.classes):
            self.label_selection(self.project.classes[i].name)

    def label_selection(self, label: str | None) -> None:
        """Label the selected images (None clears their labels); a single image advances to the next."""
        p = self.project
        rows = self._targets()
        if p is None or len(rows) == 0:
            self.stage_label.setText("Select images first (click, lasso or a cluster)")
            return
        p.set_labels(rows, label)
        self._advance(rows, "cleared" if label is None else label)

    def accept_model_label(self) -> None:
        """Enter: the model's label becomes yours for the selected images."""
        p = self.project
        rows = self._targets()
        if p is None or len(rows) == 0:
            return
        p.accept_model_labels(rows)
        self._advance(rows, "the model's label" if len(rows) > 1 else str(p.user_labels[rows[0]]))

    def _advance(self, rows: np.ndarray, what: str) -> None:
        """Say what was labelled; after one galaxy, select the next in the strip (marker, preview, map move together)."""
        p = self.project
        if len(rows) > 1:
            self.stage_label.setText(f"{len(rows)} galaxies -> {what} (Ctrl+Z undoes all {len(rows)})")
            return
        row = int(rows[0])
        shown = self.grid.rows()
        left = int(sum(p.user_labels[r] is None for r in shown))
        where = f" in {self.grid.title_text.split(':')[0].lower()}" if self.grid.title_text else ""
        text = f"{image_id(p.paths[row])} -> {what}; {left} unlabelled left{where}"
        following = self.grid.row_after(row)
        if following >= 0:
            p.selection.set([following], self.grid)
        elif row in shown:
            text += " (end of the list)"
        self.stage_label.setText(text)

    def undo(self) -> None:
        """Undo the last labelling action."""
        if self.project is not None:
            text = self.project.undo_text()
            self.project.undo()
            self.stage_label.setText(f"Undone: {text}")

    def redo(self) -> None:
        """Redo the last undone action."""
        if self.project is not None:
            text = self.project.redo_text()
            self.project.redo()
            self.stage_label.setText(f"Redone: {text}")

    def _update_actions(self) -> None:
        p = self.project
        has_run = p is not None and p.run_id is not None
        self.undo_action.setEnabled(bool(p and p.can_undo))
        self.undo_action.setText(f"&Undo {p.undo_text()}" if p and p.can_undo else "&Undo")
        self.redo_action.setEnabled(bool(p and p.can_redo))
        self.redo_action.setText(f"&Redo {p.redo_text()}" if p and p.can_redo else "&Redo")
        self.export_action.setEnabled(has_run)
        self.export_map_action.setEnabled(has_run)
        self.copy_action.setEnabled(bool(p and len(p.selection.indices)))
        self.cluster_action.setEnabled(p is not None)
        self.suggest_action.setEnabled(has_run)
        self.retrain_action.setEnabled(bool(has_run and p.encoder_path() is not None))
        # The panel's buttons do what the menu items do: enabled exactly when those are (and no job runs).
        idle = not self.jobs.busy
        s = self.run_settings
        for button, action in ((s.cluster_button, self.cluster_action), (s.suggest_button, self.suggest_action),
                               (s.retrain_button, self.retrain_action)):
            button.setEnabled(idle and action.isEnabled())
        s.suggest_k_button.setEnabled(idle and has_run)

    # ------------------------------------------------------------------ export
    def export_catalogue(self, path: str | None = None) -> Path | None:
        """Write the catalogue CSV (and its sidecar JSON)."""
        p = self.project
        if p is None or p.run_id is None:
            return None
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export catalogue", str(p.folder / "catalogue.csv"),
                                                  "CSV files (*.csv)")
        if not path:
            return None
        try:
            csv_path, _ = p.export_csv(path)
        except OSError as exc:
            self.show_error(f"Cannot write {path}: {exc.strerror or exc}", "Choose a folder you can write to.")
            return None
        self.stage_label.setText(f"Exported {len(p)} rows to {csv_path}")
        return csv_path

    def export_map(self, path: str | None = None) -> None:
        """Save the map as PNG or SVG."""
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export map", "map.png", "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.map.export_image(path)
            self.stage_label.setText(f"Map saved to {path}")

    def copy_paths(self) -> None:
        """Copy the selected images' paths to the clipboard, one per line."""
        p = self.project
        if p is not None and len(p.selection.indices):
            QApplication.clipboard().setText("\n".join(p.paths[i] for i in p.selection.indices))
            self.stage_label.setText(f"Copied {len(p.selection.indices)} path(s)")

    # ------------------------------------------------------------------ misc
    def show_error(self, message: str, hint: str = "", details: str = "") -> None:
        """A readable error with what to do; the traceback only under 'Show Details'."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Galaxy Sorter", message, parent=self)
        if hint:
            box.setInformativeText(hint)
        if details:
            box.setDetailedText(details)
        box.setObjectName("error_box")
        if QApplication.platformName() == "offscreen":
            box.show()  # tests read it without blocking
            self.last_error = message
        else:
            box.exec()

    def notify(self, title: str, text: str) -> QMessageBox:
        """A message that does not block the window (the map stays usable while it is open)."""
        box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=self)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.last_notice = text
        return box

    def show_help(self) -> None:
        """Keys and the privacy statement."""
        QMessageBox.information(self, "Galaxy Sorter", (
            "Labelling keys: 1-9 label the selection with that class, U unsure, X exclude, Enter accepts the model's "
            "label, Backspace clears; arrows move through the thumbnails. Ctrl+Z undoes, Ctrl+Shift+Z redoes.\n"
            "Map: P pan, R rectangle, L lasso (Shift adds to the selection).\n\n"
            f"{PRIVACY}. Labels are saved as you make them in the project folder (.galaxy-sorter)."))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt override)
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir():
                self.open_folder(path)
                return
            if path.is_file():
                self.open_folder(path.parent)
                return

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.jobs.cancel()
        self.jobs.wait(10000)
        if self.project is not None:
            self.project.close()
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"

