"""Label classes and clusters: name, colour, counts, and the actions on them.

Both panels render the :class:`core.project.Project` and call its methods;
the project saves, records undo, and tells every view what changed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.widgets.qt_text import ask_item, cut_middle
from app.workers import JobRunner
from core.clustering.metrics import cluster_sizes
from core.colouring import cluster_colour_of, delta_e
from core.project import Project
from core.store.layout import ReadOnlyStore
from core.vocabulary import CLUSTER_COLORS, EXCLUDE, PRESETS, UNSURE, cluster_color

__all__ = ["CLUSTER_COLORS", "QtClasses", "QtClusters", "cluster_color", "delta_e", "swatch"]


def swatch(color: str, size: int = 14) -> QIcon:
    """A square icon of ``color``."""
    pix = QPixmap(size, size)
    pix.fill(QColor(color))
    return QIcon(pix)


class QtClasses(QWidget):
    """The label classes with their keys (1-9), colours and counts.

    Signals
    -------
    label_requested(str)
        Apply this label to the selected images.
    """

    label_requested = Signal(str)

    def __init__(self, project: Project | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.list = QListWidget()
        self.list.setToolTip("Number keys 1-9 label the selection; U unsure, X exclude, Enter accepts the model's "
                             "label, Backspace clears. Double-click a class to label the selection.")
        self.list.itemDoubleClicked.connect(lambda it: self.label_requested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        add_preset = QPushButton("Add preset")
        add_preset.clicked.connect(self._on_add_preset)
        add = QPushButton("New…")
        add.clicked.connect(self._on_add)
        rename = QPushButton("Rename…")
        rename.clicked.connect(self._on_rename)
        merge = QPushButton("Merge into…")
        merge.clicked.connect(self._on_merge)
        recolor = QPushButton("Colour…")
        recolor.clicked.connect(self._on_recolor)
        row1 = QHBoxLayout()
        for w in (self.preset, add_preset):
            row1.addWidget(w)
        row2 = QGridLayout()  # two by two: the left column stays narrow on a laptop screen
        for i, w in enumerate((add, rename, merge, recolor)):
            row2.addWidget(w, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addLayout(row2)
        layout.addLayout(row1)
        if project is not None:
            self.set_project(project)

    def set_project(self, project: Project) -> None:
        """Render ``project`` and follow its changes."""
        self.project = project
        events = project.events
        for signal in (events.classes_changed, events.labels_changed, events.data_changed):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Redraw names, keys and counts."""
        if self.project is None:
            self.list.clear()
            return
        counts = self.project.label_counts()
        entries = [(c.name, c.color) for c in self.project.classes] + [(UNSURE, "#BBBBBB"), (EXCLUDE, "#444444")]
        texts = []
        for i, (name, _color) in enumerate(entries):
            key = str(i + 1) if i < 9 and name not in (UNSURE, EXCLUDE) else {UNSURE: "U", EXCLUDE: "X"}.get(name, " ")
            texts.append(f"[{key}]  {name}   ({counts.get(name, 0)} labelled)")
        shown = [(self.list.item(i).data(Qt.ItemDataRole.UserRole), self.list.item(i).data(Qt.ItemDataRole.UserRole + 1))
                 for i in range(self.list.count())]
        if shown == entries:
            # A label changed only the counts: new words in place.  Rebuilding the list on every
            # key cost time and, with PySide6 6.11, kept a reference to None per rebuild
            # (the current item of a cleared list), ~1 per labelled galaxy.
            for i, text in enumerate(texts):
                if self.list.item(i).text() != text:
                    self.list.item(i).setText(text)
            return
        current = self.current_class()
        self.list.clear()
        for (name, color), text in zip(entries, texts):
            item = QListWidgetItem(swatch(color), text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setData(Qt.ItemDataRole.UserRole + 1, color)
            self.list.addItem(item)
            if name == current:
                self.list.setCurrentItem(item)
        # Tall enough for every class, unsure and exclude included (a short dock hid 'exclude').
        rows = self.list.count()
        row_height = max(self.list.sizeHintForRow(0), self.list.fontMetrics().height() + 4, 18)
        self.list.setMinimumHeight(rows * row_height + 2 * self.list.frameWidth() + 6)

    def current_class(self) -> str | None:
        """Name of the highlighted class."""
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _ask(self, title: str, text: str, value: str = "") -> str | None:
        name, ok = QInputDialog.getText(self, title, text, text=value)
        return name.strip() if ok and name.strip() else None

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except (ValueError, RuntimeError) as exc:
            QMessageBox.warning(self, "Galaxy Sorter", str(exc))

    def _on_add(self) -> None:
        name = self._ask("New class", "Name of the new class:")
        if name and self.project is not None:
            self._guard(self.project.new_class, name)

    def _on_add_preset(self) -> None:
        if self.project is not None:
            self.project.apply_preset(self.preset.currentText())

    def _on_rename(self) -> None:
        old = self.current_class()
        if not old or self.project is None or old in (UNSURE, EXCLUDE):
            return
        new = self._ask("Rename class", f"New name for '{cut_middle(old)}':", old)
        if new:
            self._guard(self.project.rename_class, old, new)

    def _on_merge(self) -> None:
        src = self.current_class()
        if not src or self.project is None or src in (UNSURE, EXCLUDE):
            return
        others = [n for n in self.project.class_names() if n != src]
        if not others:
            return
        target, ok = ask_item(self, "Merge class", f"Merge '{cut_middle(src)}' into:", others)
        if ok:
            self._guard(self.project.merge_classes, [src], target)

    def _on_recolor(self) -> None:
        name = self.current_class()
        if not name or self.project is None:  # (an empty project is falsy: len 0)
            return
        if name not in self.project.class_names():  # unsure and exclude keep their colours
            return
        color = QColorDialog.getColor(QColor(self.project.color_of(name)), self, f"Colour of '{name}'")
        if color.isValid():  # through the project's undoable method: Ctrl+Z gives the old colour back
            self._guard(self.project.recolour_class, name, color.name())


class QtClusters(QWidget):
    """The clusters of the current run: name, size, mean confidence; name, merge, split.

    Signals
    -------
    cluster_selected(int)
        The user picked a cluster (show and select its images).
    """

    cluster_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None, jobs: JobRunner | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.jobs = jobs  # Split in 2 runs its k-means there (inline without one)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["cluster", "name", "images", "conf."])
        self.tree.headerItem().setToolTip(3, "mean confidence of the cluster's images")
        self.tree.setRootIsDecorated(False)
        self.tree.itemClicked.connect(lambda it, _c: self.cluster_selected.emit(it.data(0, Qt.ItemDataRole.UserRole)))
        name = QPushButton("Name as class…")
        name.setToolTip("Every image of the cluster without a label of yours takes this name as its label")
        name.clicked.connect(self._on_name)
        merge = QPushButton("Merge into…")
        merge.clicked.connect(self._on_merge)
        split = QPushButton("Split in 2")
        split.clicked.connect(self._on_split)
        row = QHBoxLayout()
        for w in (name, merge, split):
            row.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addLayout(row)

    def set_project(self, project: Project) -> None:
        """Render ``project`` and follow its changes."""
        self.project = project
        events = project.events
        for signal in (events.clusters_changed, events.data_changed, events.classes_changed):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Redraw the cluster list."""
        current = self.current_cluster()
        self.tree.clear()
        p = self.project
        if p is None or len(p) == 0:
            return
        for c, size, mean in zip(*cluster_sizes(p.clusters, p.confidence)):  # counted at once, not a pass per cluster
            name = p.cluster_name(c)
            item = QTreeWidgetItem([str(c), name, str(int(size)), f"{float(mean):.2f}"])
            item.setIcon(1, swatch(cluster_colour_of(p, c)))
            item.setData(0, Qt.ItemDataRole.UserRole, c)
            self.tree.addTopLevelItem(item)
            if c == current:
                self.tree.setCurrentItem(item)
        for i in range(4):
            self.tree.resizeColumnToContents(i)

    def current_cluster(self) -> int | None:
        """The highlighted cluster."""
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _on_name(self) -> None:
        c = self.current_cluster()
        if c is None or self.project is None:
            return
        choices = self.project.class_names()
        name, ok = ask_item(self, "Name cluster", f"Name of cluster {c} (a class, or type a new one):", choices,
                            editable=True)
        if ok and name.strip():
            try:
                self.project.name_cluster(c, name)
            except (ValueError, ReadOnlyStore) as exc:  # a read-only share too: said, not a silent traceback
                QMessageBox.warning(self, "Galaxy Sorter", str(exc))

    def _on_merge(self) -> None:
        c = self.current_cluster()
        if c is None or self.project is None:
            return
        others = [str(o) for o in self.project.cluster_ids() if o != c]
        if not others:
            return
        target, ok = QInputDialog.getItem(self, "Merge cluster", f"Merge cluster {c} into:", others, 0, False)
        if ok:
            self.project.merge_clusters([c], int(target))

    def _on_split(self) -> None:
        """Split in 2: the k-means runs as a job (5 s of a frozen window for a survey's cluster), then is kept."""
        c, p = self.current_cluster(), self.project
        if c is None or p is None:
            return

        def keep(plan: tuple) -> None:
            if self.project is p and not p.closed:
                try:
                    p.apply_split(c, *plan)
                except ValueError as exc:  # the cluster changed meanwhile
                    QMessageBox.warning(self, "Galaxy Sorter", str(exc))

        if self.jobs is not None and p.features is not None:  # a cluster too small is said by the job's failure
            self.jobs.start("split", p.plan_split, c, on_result=keep)
            return
        try:
            keep(p.plan_split(c))
        except (ValueError, RuntimeError) as exc:
            QMessageBox.warning(self, "Galaxy Sorter", str(exc))
