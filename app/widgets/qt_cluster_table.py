"""The *Cluster x label* table: how the clusters split among the user's labels, a truth file's classes or a joined column.

:class:`QtClusterTable` renders the counts and the scores of the clusters
against what it counts them by (accuracy under optimal matching, balanced
accuracy, ARI, NMI), recounting only while it can be seen; the counts are made
(:meth:`QtClusterTable.refresh`) and a truth file is read
(:meth:`QtClusterTable.read_truth`) off the GUI thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.workers import SerialCalls
from core.catalog.classes import class_columns, column_codes
from core.catalog.montage import class_codes, crosstab_coded
from core.images.ids import id_spellings, image_ids
from core.project import Project
from core.store.rows import no_gc

#: A numbering of each image's class (:func:`core.catalog.montage.class_codes`), or a function that makes it.
Coding = tuple[np.ndarray, list[object]] | Callable[[], tuple[np.ndarray, list[object]]]


class QtClusterTable(QWidget):
    """Counts of each cluster (rows) against your labels or a truth file's classes (columns).

    The scores (ACC, balanced ACC, ARI, NMI) took half of each labelling key's time when
    recomputed on every label (issue 18): the table recounts only while it is visible,
    at most once per :attr:`DEBOUNCE_MS` of labelling, and once when it is shown again;
    each count is made off the GUI thread and drawn when it comes (:meth:`refresh`).
    """

    DEBOUNCE_MS = 300

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.stale = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self.truth: dict[str, str] | None = None
        self.truth_name = ""
        #: The truth file being read (:meth:`read_truth`), "" when none is.
        self.reading = ""
        self._reader = SerialCalls(self)
        #: The counts are made here (:meth:`refresh`), apart from a truth file's reading.
        self._counter = SerialCalls(self)
        self._asked = self._answered = 0  # the last count asked for, the last whose answer came
        self._offers_asked = self._offers_answered = 0  # the same for the joined columns offered
        self._changed = False  # the project changed since the last count was asked
        #: What the table counts against -> (its source, the paths, the numbering of each image's class): a
        #: truth file's or a joined column's, kept while neither changes (see :meth:`_coding`).
        self._codes: dict[str, tuple[object, list[str], tuple[np.ndarray, list[object]]]] = {}
        self.counts, self.row_values, self.col_values = np.zeros((0, 0), np.int64), [], []
        self.against = QComboBox()
        self.against.addItem("your labels", "labels")
        self.against.currentIndexChanged.connect(lambda _: self.refresh())
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.scores = QLabel("")
        self.scores.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Clusters against"))
        top.addWidget(self.against, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.scores)

    def set_project(self, project: Project) -> None:
        """Render ``project`` and follow its changes; the last project's truth file is forgotten without a recount
        (this one's is read again, :meth:`read_truth`), so the table is counted once, against your labels."""
        if self.truth is not None or self.against.findData("truth") >= 0:
            self.truth, self.truth_name = None, ""
            self._edit_box(lambda: self.against.removeItem(self.against.findData("truth")), recount=False)
        self.project = project
        self._codes.clear()
        events = project.events
        for signal in (events.labels_changed, events.clusters_changed, events.round_changed, events.data_changed,
                       events.classes_changed):
            signal.connect(lambda *_: self.schedule())
        self.refresh()

    def schedule(self) -> None:
        """The counts changed: recount soon if the table is visible, else when it is shown."""
        self.stale = self._changed = True
        if self.on_screen() and not self._timer.isActive():
            self._timer.start()

    def on_screen(self) -> bool:
        """Whether any of the table can be seen (a dock behind another tab is "visible" to Qt, with nothing on screen)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def on_dock_visibility(self, visible: bool) -> None:
        """The dock came to the front (its tab was clicked, or it was shown): recount if labels changed meanwhile."""
        if visible and self._behind():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._behind():
            self.refresh()

    def _behind(self) -> bool:
        """Whether the counts shown are behind the project with no count on its way that catches up."""
        return self.stale and (self._changed or not self.counting)

    def set_truth(self, truth: dict[str, str], name: str) -> None:
        """Offer (and show) the clusters against ``truth`` (image id -> class)."""
        self.truth, self.truth_name = truth, name
        i = self.against.findData("truth")
        if i < 0:
            self.against.addItem(f"truth: {name}", "truth")
            i = self.against.count() - 1
        else:
            self.against.setItemText(i, f"truth: {name}")
        if self.against.currentIndex() != i:
            self.against.setCurrentIndex(i)  # recounts through currentIndexChanged (twice with a refresh here)
        else:
            self.refresh()

    def read_truth(self, path: str, on_read: Callable[[dict[str, str], int, list[str], list[str]], None],
                   on_error: Callable[[str], None]) -> None:
        """Read a truth file and match it to this project's images off the GUI thread; the answer comes on it.

        A survey's truth file is a table as long as the survey: a million rows
        took 4.0 s to read and 2.8 s to match, a frozen window, when the menu
        loaded it and again each time the folder was reopened.  ``on_read(truth,
        rows read, the file's first ids, the project's first ids)`` runs only if
        the same project is still open; ``on_error(message)`` says why it could not.
        """
        p = self.project
        if p is None:
            return
        self.reading, shown = path, self.scores.text()
        self.scores.setText(f"Reading the truth file {Path(path).name}…")

        def answered(then: Callable[..., None], *args: object) -> None:
            if self.reading == path:
                self.reading = ""
            if self.project is p and not p.closed:
                if self.scores.text().startswith("Reading the truth file"):
                    self.scores.setText(shown)  # the scores the note stood in for, until a truth replaces them
                then(*args)

        def read(result: tuple) -> None:
            truth, rows, theirs, ours, coded = result
            if self.project is p and p.paths is paths:  # numbered for these images: the first count only counts
                self._codes["truth"] = (truth, paths, coded)
            answered(on_read, truth, rows, theirs, ours)

        def failed(message: str) -> None:
            answered(on_error, message)

        paths = p.paths
        self._reader.call(_read_truth, path, list(paths), on_done=read, on_error=failed)

    def clear_truth(self) -> None:
        """Forget the truth file (another project opened without one): the table shows your labels."""
        had = self.truth is not None
        self.truth, self.truth_name = None, ""
        i = self.against.findData("truth")
        if i >= 0:
            self._edit_box(lambda: self.against.removeItem(i), recount=False)
        if had or i >= 0 or self._behind():  # nothing forgotten: the counts shown (or on their way) stand
            self.refresh()

    def offer_columns(self, columns: dict[str, np.ndarray]) -> None:
        """Offer the joined catalogue columns (``cat_*``) that sort galaxies into classes as what the clusters are
        counted against: text or whole numbers of at most :data:`core.catalog.classes.MAX_CLASSES` values
        (:func:`core.catalog.classes.class_like`).

        A magnitude or an object id makes a table of one column per galaxy: 8 x 200,000 cells took 31 s to
        build.  Which columns are class-like is found on the counting thread (``class_like`` looks at every
        cell of a text column: 60 ms of the GUI thread a column of a million when a join's result came), and
        the box changes when the answer comes, if ``columns`` are still the project's.  The box is changed
        with its signals held, and the table recounted once, only if what it counts against is gone (each
        removal and addition recounted it: 7-9 recounts on a reopen, 38 s at a million galaxies).
        """
        self._offers_asked += 1
        ask = self._offers_asked

        def offer(offered: list[str]) -> None:
            if ask != self._offers_asked:
                return  # newer columns were offered meanwhile
            self._offers_answered = ask
            if columns and (self.project is None or self.project.catalog_columns is not columns):
                return  # another join or another project since: their own offer follows

            def change() -> None:
                for i in reversed(range(self.against.count())):
                    if str(self.against.itemData(i)).startswith("cat_"):
                        self.against.removeItem(i)
                for name in offered:
                    self.against.addItem(f"joined: {name}", name)

            self._edit_box(change)

        if not columns:
            offer([])
        else:
            self._counter.call(class_columns, columns, on_done=offer, on_error=lambda _message: offer([]))

    def _edit_box(self, change: Callable[[], None], recount: bool = True) -> None:
        """Change the "against" box's items without a recount per item; keep what it showed if still offered,
        else show your labels, and recount once (``recount``) if that changed what is counted."""
        before = self.against.currentData()
        self.against.blockSignals(True)
        try:
            change()
            i = self.against.findData(before)
            self.against.setCurrentIndex(i if i >= 0 else 0)
        finally:
            self.against.blockSignals(False)
        if recount and self.against.currentData() != before:
            self.refresh()

    def _coding(self, p: Project, what: str) -> tuple[tuple[object, list[str]] | None, Coding]:
        """What :func:`_count` needs to number each image's class in ``what``, made on the GUI thread in a few ms.

        Returns the key a truth file's or a joined column's numbering is kept
        under (its source and the paths; None for your labels, which change with
        every key) and the numbering kept for that key, else a function that
        makes it on the counting thread: looking up 200,000 ids in a truth took
        130 ms of the GUI thread, the same in a joined column 50 ms.
        """
        paths = p.paths
        if what == "truth" and self.truth is not None:
            source: object = self.truth
            make: Coding = partial(_truth_codes, self.truth, paths)
        elif what.startswith("cat_") and what in p.catalog_columns:
            source = p.catalog_columns[what]
            make = partial(column_codes, source)
        else:
            return None, partial(_label_codes, p.user_labels.copy())  # a copy: the next key changes the project's
        kept = self._codes.get(what)
        if kept is not None and kept[0] is source and kept[1] is paths:
            return None, kept[2]
        return (source, paths), make

    @property
    def counting(self) -> bool:
        """Whether the counts last asked for (:meth:`refresh`), or the joined columns last offered
        (:meth:`offer_columns`), are still being looked at off the GUI thread."""
        return self._answered != self._asked or self._offers_answered != self._offers_asked

    def refresh(self) -> None:
        """Recount off the GUI thread and redraw when the counts come, if no newer count was asked meanwhile.

        The counts and scores of a survey are made on a :class:`SerialCalls`
        thread (:func:`_count`): against a truth file the first count took 142 ms
        of the GUI thread at 200,000 galaxies, and every count grows with the
        survey.  The GUI thread copies what is counted (the clusters, your labels)
        and draws the table of clusters x classes; an answer for an older question
        (the box or the labels changed since) is dropped.  :attr:`stale` stays
        True until the answer to this one is drawn.
        """
        p = self.project
        self._timer.stop()
        self._asked += 1
        ask = self._asked
        self._changed = False
        if p is None or len(p) == 0:
            self._answered, self.stale = ask, False
            self.counts, self.row_values, self.col_values = np.zeros((0, 0), np.int64), [], []
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.scores.setText("")
            return
        self.stale = True
        what = str(self.against.currentData())
        key, coding = self._coding(p, what)
        asked_of = weakref.ref(p)  # not the project itself: one closed while counting goes when let go (app.collector)

        def counted(result: tuple | None) -> None:
            if ask == self._asked:
                self._answered = ask
            p = asked_of()
            if result is None or ask != self._asked or p is None or self.project is not p or p.closed:
                return  # a newer count was asked, or another project opened: this answer is for nothing shown
            *drawn, coded = result
            if key is not None:
                self._codes[what] = (*key, coded)
            self.stale = self._changed
            self._draw(p, what, *drawn)

        def failed(message: str) -> None:
            if ask == self._asked:
                self._answered = ask
                self.scores.setText(f"The clusters could not be counted: {message}")

        self._counter.call(_count, lambda: self._asked == ask, np.array(p.clusters, np.int64), coding,
                           on_done=counted, on_error=failed)

    def _draw(self, p: Project, what: str, rows: list[object], cols: list[object], counts: np.ndarray,
              sizes: np.ndarray, m: dict[str, float] | None) -> None:
        """Show the counts :func:`_count` made: a cell per cluster and class, shaded by its share of the row."""
        self.counts, self.row_values, self.col_values = counts, rows, cols
        self.table.clear()
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(cols) + 1)
        self.table.setHorizontalHeaderLabels([str(c) for c in cols] + ["total"])
        self.table.setVerticalHeaderLabels([f"{c}: {p.cluster_name(c)}" for c in rows])
        for i in range(len(rows)):
            row_total = int(counts[i].sum())
            for j in range(len(cols)):
                n = int(counts[i, j])
                item = QTableWidgetItem(str(n) if n else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row_total and n:
                    # Shade by the share of the row: the dominant class of a cluster stands out.
                    share = n / row_total
                    item.setBackground(QColor.fromHsvF(0.58, 0.15 + 0.6 * share, 0.35 + 0.4 * share))
                    item.setForeground(QColor("#ffffff"))
                self.table.setItem(i, j, item)
            self.table.setItem(i, len(cols), QTableWidgetItem(f"{row_total} of {int(sizes[i])}"))
        self.table.resizeColumnsToContents()
        counted = int(counts.sum())
        if m is not None:
            name = f"truth ({self.truth_name})" if what == "truth" else what if what.startswith("cat_") else "your labels"
            self.scores.setText(
                f"Clusters vs {name} on {counted} images: accuracy (optimal matching) {m['acc']:.3f}, "
                f"balanced accuracy {m['balanced_acc']:.3f}, ARI {m['ari']:.3f}, NMI {m['nmi']:.3f}"
                + ("<br><small>Retraining learns from your labels, so on them these scores flatter the model; "
                   "judge it against a truth file or on galaxies labelled after the last round.</small>"
                   if name == "your labels" else ""))
        elif what == "truth" and self.truth is not None:
            self.scores.setText(f"Truth ({self.truth_name}): the {counted} image(s) it gives a class are all "
                                f"{', '.join(map(str, cols)) or 'without one'}; scores need two classes or more.")
        else:
            self.scores.setText("Label galaxies of two classes or more (or load a truth file) to see scores.")


def _count(current: Callable[[], bool], clusters: np.ndarray, coding: Coding) -> tuple | None:
    """:meth:`QtClusterTable.refresh`'s work, on its counting thread: the clusters, the classes, their counts, each
    cluster's size, the scores (None under two classes or two images) and the numbering; None, doing nothing, when
    ``current()`` says a newer count was asked before this one began."""
    if not current():
        return None
    from core.clustering.metrics import crosstab_scores

    coded = coding() if callable(coding) else coding
    rows, cols, counts = crosstab_coded(clusters, *coded)
    sizes = np.bincount(np.searchsorted(np.asarray(rows, np.int64), clusters), minlength=len(rows))
    scores = crosstab_scores(cols, rows, counts) if int(counts.sum()) >= 2 and len(cols) >= 2 else None
    return rows, cols, counts, sizes, scores, coded  # the counts scored, not a million labels again


def _truth_codes(truth: dict[str, str], paths: list[str]) -> tuple[np.ndarray, list[object]]:
    """Each image's class number in a truth file (-1: none) and the classes (:func:`class_codes`)."""
    return class_codes([truth.get(n) for n in image_ids(paths)])


def _label_codes(labels: np.ndarray) -> tuple[np.ndarray, list[object]]:
    """Each image's class number in your labels (-1: unlabelled) and the classes (:func:`class_codes`)."""
    return class_codes(labels.tolist())


def _read_truth(path: str, paths: list[str]) -> tuple[dict[str, str], int, list[str], list[str], tuple]:
    """:meth:`QtClusterTable.read_truth`'s work: the matched truth, the rows read, a few ids of each side, and
    each image's class numbered (:func:`class_codes`) for the table's counts."""
    from core.catalog.truth import load_truth, match_truth

    with no_gc():  # its rows are not walked by the GUI thread's collector meanwhile (core.store.rows.no_gc)
        read = load_truth(path)
    names, aliases = id_spellings(paths)  # the project's ids (a band set's base name), and the band file's spelling
    truth = match_truth(read, names, aliases)
    return truth, len(read), list(read)[:3], names[:3], class_codes([truth.get(n) for n in names])
