"""The *Catalogue* menu: catalogue joins, truth files, montages and cluster folders.

:class:`CatalogueTools` adds the *Catalogue* menu to the main window and the
*Cluster x label* dock (:class:`app.widgets.qt_cluster_table.QtClusterTable`):
join a CSV catalogue by id or by sky position (its columns become
``Project.catalog_columns``, kept in the project: :mod:`core.colouring` colours the map
by the numeric ones, :func:`core.catalog.export.export_catalogue` writes them all beside
the labels, the cluster table counts the clusters against any), load a truth file, export a
montage PNG per cluster, copy or link a cluster's files into a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QWidget,
)

from app.widgets.qt_cluster_table import QtClusterTable
from app.widgets.qt_samp import SampTools
from app.workers import Job, JobRunner, SerialCalls
from core.images.display import Stretch
from core.images.ids import any_fits
from core.images.preprocess import Preprocessing
from core.project import Project
from core.store.layout import signed_path

#: What the catalogue and truth file dialogs offer: comma, semicolon or tab separated (core.catalog.bounded.separator).
TABLE_FILTER = "Tables: CSV, TSV (*.csv *.tsv *.txt);;All files (*)"


def _prepare_join(project: Project, path: str, how: str, **kwargs: object) -> tuple | str:
    """The join job (:meth:`core.project.Project.prepare_join`): its result, or the reason it is refused, in words.

    The job also writes the store's record of the join (``record=True``): on the
    GUI thread that took 133 ms at 200,000 galaxies.  A refusal (an unreadable
    table, a join of nothing) is a message for the user beside the join already
    kept, not a failure with a traceback.
    """
    try:
        return project.prepare_join(path, how, record=True, **kwargs)
    except (OSError, ValueError) as exc:  # NoMatchError too: a join of nothing never replaces one that matched
        return str(exc)


class _JoinDialog(QDialog):
    """How to join a catalogue: by id column or by sky position within a radius."""

    def __init__(self, columns: list[str], has_sky: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a catalogue")
        self.how = QComboBox()
        self.how.addItem("by id (file name without extension; band files: the base name)", "id")
        if has_sky:
            self.how.addItem("by sky position (FITS WCS centre)", "sky")
        self.id_column = QComboBox()
        self.id_column.addItems(columns)
        self.ra = QComboBox()
        self.ra.addItems(columns)
        self.dec = QComboBox()
        self.dec.addItems(columns)
        self.radius = QDoubleSpinBox(minimum=0.01, maximum=3600.0, value=2.0, suffix=" arcsec")
        form = QFormLayout(self)
        form.addRow("Match", self.how)
        form.addRow("id column", self.id_column)
        form.addRow("RA column (deg or h:m:s)", self.ra)
        form.addRow("Dec column (deg or d:m:s)", self.dec)
        form.addRow("radius", self.radius)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class CatalogueTools:
    """The *Catalogue* menu of the main window and the cluster x label dock.

    It knows the window only as a ``QMainWindow`` to put its menu and dock in,
    and is handed what it uses (no import of the window, no reach into it):
    the project comes with :meth:`set_project`, a join goes into the project
    (:meth:`Project.set_join`, whose ``columns_changed`` event the map and this
    menu follow).

    Parameters
    ----------
    window : QMainWindow
        Where the *Catalogue* menu and the cluster x label dock go (tabbed with ``docks["Galaxies"]``).
    docks : dict
        The window's docks by title; the cluster x label dock is added to it.
    jobs : JobRunner
        Runs the montage job.
    colour_box : QComboBox
        The "colour by" box, which lists the joined columns.
    say, show_error : callables
        The status line and the error box.
    view : callable
        The crop and display stretch the montages use (what the strip shows).
    current_cluster : callable
        The cluster highlighted in the Clusters list (the copy dialog's first choice).
    samp : callable, optional
        Makes the SAMP tools given this menu (:class:`app.widgets.qt_samp.SampTools`).
    """

    def __init__(self, window: QMainWindow, docks: dict[str, QDockWidget], jobs: JobRunner, colour_box: QComboBox, *,
                 say: Callable[[str], None], show_error: Callable[..., None],
                 view: Callable[[], tuple[Preprocessing | None, Stretch]],
                 current_cluster: Callable[[], int | None],
                 samp: Callable[[QMenu], SampTools] | None = None) -> None:
        self.window = window
        self.docks, self.jobs, self.colour_box = docks, jobs, colour_box
        self.say, self.show_error, self.view, self.current_cluster = say, show_error, view, current_cluster
        self.project: Project | None = None
        #: Whether the project's images include FITS files (a sky join is offered), with the paths it is for.
        self.fits: tuple[list[str], bool] | None = None
        self._looks = SerialCalls(window)
        self.table = QtClusterTable()
        dock = QDockWidget("Cluster x label", window)
        dock.setObjectName("dock_Cluster x label")
        dock.setWidget(self.table)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        window.tabifyDockWidget(docks["Galaxies"], dock)
        docks["Cluster x label"] = dock
        dock.visibilityChanged.connect(self.table.on_dock_visibility)
        docks["Galaxies"].raise_()
        menu = window.menuBar().addMenu("&Catalogue")
        self.menu = menu
        self.join_action = menu.addAction("&Join a catalogue (CSV)…", self.join_catalogue)
        self.truth_action = menu.addAction("Load a &truth file (CSV)…", self.load_truth)
        menu.addSeparator()
        self.montage_action = menu.addAction("Export &montages per cluster (PNG)…", self.export_montages)
        self.copy_action = menu.addAction("Copy or &link a cluster's files into a folder…", self.copy_cluster)
        self.samp = samp(menu) if samp is not None else None
        menu.addSeparator()
        menu.addAction(dock.toggleViewAction())
        menu.aboutToShow.connect(self._update)

    def _on_montages(self, result: object) -> None:
        files = list(result or [])
        if files:
            self.say(f"{len(files)} montage(s) written to {Path(files[0]).parent}")

    def set_project(self, project: Project) -> None:
        """A new project: offer its catalogue colourings (none of the last one's), follow it."""
        self.project = project
        project.events.columns_changed.connect(self._offer_colours)
        project.events.data_changed.connect(self._look_for_fits)
        self._look_for_fits()
        self._offer_colours()
        self.table.set_project(project)
        if self.samp is not None:
            self.samp.set_project(project)

    def _look_for_fits(self) -> None:
        """Find out off the GUI thread whether the images include FITS files, for the join dialog
        (:func:`core.images.ids.any_fits`): looking at each of a million paths took 0.48 s when the dialog opened."""
        p = self.project
        if p is None or (self.fits is not None and self.fits[0] is p.paths):
            return
        paths = p.paths
        self._looks.call(any_fits, paths, on_done=lambda found: setattr(self, "fits", (paths, bool(found))))

    def _has_fits(self, p: Project) -> bool:
        """Whether ``p``'s images include FITS files: known from :meth:`_look_for_fits`, else looked at now."""
        return self.fits[1] if self.fits is not None and self.fits[0] is p.paths else any_fits(p.paths)

    def _update(self) -> None:
        has_run = self.project is not None and self.project.run_id is not None
        for a in (self.join_action, self.truth_action, self.montage_action, self.copy_action):
            a.setEnabled(has_run)
        if self.samp is not None:
            self.samp.update(has_run)

    # ------------------------------------------------------------------ catalogue
    def join_catalogue(self, path: str | None = None, how: str | None = None, *, id_column: str | None = None,
                       ra: str | None = None, dec: str | None = None, radius: float = 2.0) -> Job | None:
        """Join a CSV catalogue as a job; its numeric columns colour the map and are exported.

        Only the table's header is read here, for the dialog (without ``how`` a
        dialog asks; tests and scripts pass everything).  Reading every FITS
        header of a sky join, the table itself, the match and the store's record (made and written)
        run off the GUI thread (:meth:`core.project.Project.prepare_join`), with
        progress and cancel; a folder of 60,000 FITS files stalled the window for
        a minute.  Returns the job (None when nothing was started); the status
        bar says how many images matched.
        """
        from core.catalog.join import DEC_NAMES, ID_NAMES, RA_NAMES, catalogue_header

        p = self.project
        if p is None or p.run_id is None:
            return None
        path, cat = self._read_csv(path, "Join a catalogue", catalogue_header, "A CSV file with a header row is needed.")
        if cat is None:
            return None
        if how is None:
            dialog = _JoinDialog(list(cat.columns), self._has_fits(p), self.window)
            for combo, names in ((dialog.id_column, ID_NAMES), (dialog.ra, RA_NAMES), (dialog.dec, DEC_NAMES)):
                found = cat.find(names)
                if found:
                    combo.setCurrentText(found)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            how, id_column = dialog.how.currentData(), dialog.id_column.currentText()
            ra, dec, radius = dialog.ra.currentText(), dialog.dec.currentText(), dialog.radius.value()

        def joined(result: tuple | str) -> None:
            if isinstance(result, str) or self.project is not p:
                if isinstance(result, str):
                    kept = f" The join of {Path(p.join.catalogue).name} is kept." if p.join is not None else ""
                    self.show_error(f"Cannot join {path}: {result}.{kept}")
                return
            join, columns, _ = result
            p.set_join(join, columns, recorded=True)  # the map and the colour box follow its columns_changed event
            numeric = sum(np.asarray(v).dtype.kind == "f" for v in columns.values())
            note = join.note()  # rows skipped, rows shared
            skipped = f" ({note})" if note else ""
            self.say(f"Joined {Path(path).name}: {join.matched} of {len(p)} images matched{skipped}; "
                     f"{numeric} numeric column(s) can colour the map; all {len(columns)} are "
                     f"exported and can be compared with the clusters")

        return self.jobs.start("join", _prepare_join, p, path, how, on_result=joined, id_column=id_column,
                               ra_column=ra, dec_column=dec, radius_arcsec=radius)

    def _read_csv(self, path: str | None, title: str, read, hint: str) -> tuple[str, object]:
        """A CSV the user picks (or ``path``) read by ``read``; (path, None) after a cancel or a shown error."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, title, str(self.project.folder), TABLE_FILTER)
        if not path:
            return "", None
        try:
            return path, read(path)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot read {path}: {exc}", hint)
            return path, None

    def _offer_colours(self) -> None:
        """The "colour by" box lists :data:`core.colouring.COLOURINGS` and the project's joined columns."""
        combo = self.colour_box
        for i in reversed(range(combo.count())):
            if str(combo.itemData(i)).startswith("cat_"):
                combo.removeItem(i)
        columns = self.project.catalog_columns if self.project is not None else {}
        for name, values in columns.items():
            if np.asarray(values).dtype.kind == "f":  # text columns (ids, classes) do not make a colour scale
                combo.addItem(f"colour by {name}", name)
        self.table.offer_columns(columns)

    def load_truth(self, path: str | None = None) -> None:
        """Load known classes (id, class CSV, or Galaxy Zoo's solutions file), read off the GUI thread.

        The *Cluster x label* table then counts the clusters against them and the
        status bar says how many images have a class; a file that cannot be read,
        or names none of the images, is refused in words and the truth already
        loaded is kept.  The file is read again when the folder reopens.
        """
        p = self.project
        if p is None:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, "Load a truth file", str(p.folder), TABLE_FILTER)
        if not path:
            return

        def read(truth: dict[str, str], rows: int, theirs: list[str], ours: list[str]) -> None:
            if not truth:  # a file of other images never replaces a truth that matched
                kept = f" The truth from {self.table.truth_name} is kept." if self.table.truth is not None else ""
                self.show_error(f"Cannot use {path}: none of its {rows} ids "
                                f"({', '.join(map(repr, theirs)) or 'none'}...) is an image of this "
                                f"project (such as {', '.join(map(repr, ours))}).{kept}",
                                "The first column must hold the image ids: the file names, with or without extension.")
                return
            self.table.set_truth(truth, Path(path).name)
            # read again when the folder reopens, signed: a truth file a store from elsewhere names is never read
            p.set_view_setting("truth_file", signed_path("truth_file", str(Path(path).resolve())))
            self.docks["Cluster x label"].show()
            self.docks["Cluster x label"].raise_()
            self.say(f"Truth from {Path(path).name}: {len(truth)} of {len(p)} images have a class")

        self.table.read_truth(path, read, lambda message: self.show_error(
            f"Cannot read {path}: {message}", "A CSV of image id and class is needed."))

    # ------------------------------------------------------------------ exports
    def export_montages(self, folder: str | None = None, per_cluster: int = 36) -> None:
        """One montage PNG per cluster, its most confident galaxies cropped as the model sees them (in the background)."""
        from core.catalog.montage import cluster_montages

        p = self.project
        if p is None or p.run_id is None:
            return
        if not folder:
            folder = QFileDialog.getExistingDirectory(self.window, "Folder for the montages", str(p.folder))
        if not folder:
            return
        names = {c: p.cluster_name(c) for c in p.cluster_ids()}
        prep, stretch = self.view()
        self.jobs.start("montages", cluster_montages, list(p.paths), p.clusters.copy(), p.confidence.copy(),
                        names, folder, per_cluster=per_cluster, prep=prep, stretch=stretch, on_result=self._on_montages)

    def copy_cluster(self, cluster: int | None = None, folder: str | None = None, link: bool | None = None
                     ) -> Job | None:
        """Copy (or link) one cluster's files into a folder, as a job with progress and Cancel; returns the job.

        A survey's cluster is thousands of files (gigabytes to copy): the copy
        ran on the GUI thread, the window frozen until the last one.  The job's
        result is the list of new files; the status bar says how many.
        """
        from core.catalog.montage import copy_files

        p = self.project
        if p is None or p.run_id is None:
            return []
        if cluster is None:
            items = [f"{c}: {p.cluster_name(c)}" for c in p.cluster_ids()]
            current = self.current_cluster()
            start = p.cluster_ids().index(current) if current in p.cluster_ids() else 0
            item, ok = QInputDialog.getItem(self.window, "Cluster's files", "Cluster:", items, start, False)
            if not ok:
                return None
            cluster = int(item.split(":")[0])
        if link is None:
            box = QMessageBox(QMessageBox.Icon.Question, "Cluster's files",
                              "Copy the files, or make symbolic links to them (no extra space)?", parent=self.window)
            copy_b = box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Link", QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() not in box.buttons()[:2]:
                return None
            link = box.clickedButton() is not copy_b
        if not folder:
            folder = QFileDialog.getExistingDirectory(self.window, "Folder for the files", str(p.folder))
        if not folder:
            return None
        name = p.cluster_name(cluster)

        gone: list[str] = []  # sources moved or deleted since the clustering: listed, the others still copied

        def copied(made: list | str) -> None:
            if isinstance(made, str):
                self.show_error(f"Cannot write into {folder}: {made}")
                return
            missing = (f"; {len(gone)} file(s) are gone or cannot be read, e.g. {gone[0]}" if gone else "")
            self.say(f"{'Linked' if link else 'Copied'} {len(made)} file(s) of {name} into {folder}{missing}")

        def copy(paths: list[str], **kwargs: object) -> list | str:
            try:
                return copy_files(paths, folder, link=bool(link), gone=gone, **kwargs)
            except OSError as exc:  # a folder that cannot be written: said, not a traceback
                return str(exc.strerror or exc)

        return self.jobs.start("copy files", copy, [p.paths[i] for i in np.flatnonzero(p.clusters == cluster)],
                               on_result=copied)
