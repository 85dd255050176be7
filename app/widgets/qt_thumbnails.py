"""Thumbnail grid of the current selection or cluster, and the large preview.

The grid is a ``QListView`` in icon mode over a small model that holds only
row indices; thumbnails are decoded on demand for the items Qt actually
paints (a few dozen on screen) and kept in an LRU cache, so a 10,000-image
cluster opens at once.  The frame of each thumbnail shows its label colour
(user label) or its cluster colour (model label, dashed in the tooltip).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QAbstractListModel, QItemSelection, QItemSelectionModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from core.images import ImageReadError, thumbnail

THUMB = 96


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap an RGB uint8 array as a QImage (copied, so the array may go)."""
    h, w = rgb.shape[:2]
    return QImage(np.ascontiguousarray(rgb).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ThumbnailCache:
    """LRU cache of thumbnails as QPixmap, keyed by path; unreadable files get a grey tile."""

    def __init__(self, size: int = THUMB, capacity: int = 2000) -> None:
        self.size = size
        self.capacity = capacity
        self._items: OrderedDict[str, QPixmap] = OrderedDict()

    def get(self, path: str) -> QPixmap:
        """The thumbnail of ``path``."""
        pix = self._items.get(path)
        if pix is not None:
            self._items.move_to_end(path)
            return pix
        try:
            pix = QPixmap.fromImage(rgb_to_qimage(thumbnail(path, self.size)))
        except ImageReadError:
            pix = QPixmap(self.size, self.size)
            pix.fill(QColor("#555555"))
        self._items[path] = pix
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return pix


class _GridModel(QAbstractListModel):
    def __init__(self, grid: QtThumbnailGrid) -> None:
        super().__init__(grid)
        self.grid = grid
        self.rows = np.zeros(0, np.int64)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 (Qt override)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: D102 (Qt override)
        if not index.isValid():
            return None
        row = int(self.rows[index.row()])
        if role == Qt.ItemDataRole.DecorationRole:
            return self.grid.decorated(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.grid.describe(row) if self.grid.describe else None
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.rows = np.asarray(rows, np.int64)
        self.endResetModel()


class QtThumbnailGrid(QWidget):
    """Thumbnails of some images, sortable, with keyboard navigation.

    Signals
    -------
    current_changed(int)
        Row (image index) of the current thumbnail, or -1.
    selection_requested(ndarray)
        Image indices the user selected in the grid.
    """

    current_changed = Signal(int)
    selection_requested = Signal(object)
    SORTS = ("least sure first", "most sure first", "distance to cluster centre", "name")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = ThumbnailCache()
        self.paths: list[str] = []
        self.color_of: Callable[[int], str] = lambda row: "#999999"
        self.describe: Callable[[int], str] | None = None
        self.sort_keys: Callable[[str, np.ndarray], np.ndarray] | None = None
        self.model = _GridModel(self)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 10, THUMB + 10))
        self.view.setSpacing(2)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.title = QLabel("Select points on the map or a cluster to see its galaxies")
        self.title_text = ""
        self.sort = QComboBox()
        self.sort.addItems(self.SORTS)
        self.sort.setToolTip("Order of the thumbnails")
        self.sort.currentTextChanged.connect(lambda _: self._resort())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Sort:"))
        top.addWidget(self.sort)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self._unsorted = np.zeros(0, np.int64)
        self._marked = np.zeros(0, np.int64)
        self._muted = False

    def decorated(self, row: int) -> QPixmap:
        """Thumbnail with a frame in the image's label or cluster colour."""
        base = self.cache.get(self.paths[row])
        pix = QPixmap(THUMB, THUMB)
        pix.fill(QColor("#202020"))
        p = QPainter(pix)
        p.drawPixmap((THUMB - base.width()) // 2, (THUMB - base.height()) // 2, base)
        p.setPen(QPen(QColor(self.color_of(row)), 4))
        p.drawRect(2, 2, THUMB - 4, THUMB - 4)
        p.end()
        return pix

    def show_rows(self, rows: np.ndarray, title: str) -> None:
        """Show the thumbnails of ``rows`` under ``title``, in the chosen order."""
        self._unsorted = np.asarray(rows, np.int64)
        self.title_text = title
        self.title.setText(f"{title}: {len(rows)} image(s)")
        self._resort()

    def rows(self) -> np.ndarray:
        """Image indices in display order."""
        return self.model.rows

    def _resort(self) -> None:
        rows = self._unsorted
        if self.sort_keys is not None and len(rows):
            rows = rows[np.argsort(self.sort_keys(self.sort.currentText(), rows), kind="stable")]
        self._muted = True
        self.model.set_rows(rows)
        self._muted = False
        # A new order must not lose what the keys act on: highlight the same galaxies again.
        self.mark(self._marked)

    def mark(self, rows: np.ndarray) -> None:
        """Highlight exactly the thumbnails of image indices ``rows``, the galaxies the keys act on.

        The current thumbnail (the one in the preview) stays where it is if it is among
        ``rows``; otherwise it moves to the first of them in display order.  Nothing is
        emitted back as a user selection, so the shared selection can drive this.
        """
        self._marked = np.asarray(rows, np.int64)
        shown = self.model.rows
        hit = np.flatnonzero(np.isin(shown, self._marked)) if len(shown) and len(self._marked) else np.zeros(0, np.int64)
        model, selection_model = self.model, self.view.selectionModel()
        selection = QItemSelection()
        # One range per contiguous run: marking a 60,000-galaxy selection stays cheap.
        if len(hit):
            breaks = np.flatnonzero(np.diff(hit) != 1)
            for start, stop in zip(np.r_[hit[0], hit[breaks + 1]], np.r_[hit[breaks], hit[-1]]):
                selection.select(model.index(int(start)), model.index(int(stop)))
        self._muted = True
        try:
            selection_model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            current = self.view.currentIndex()
            if not len(hit):
                selection_model.clearCurrentIndex()
            elif not current.isValid() or current.row() not in set(hit.tolist()):
                selection_model.setCurrentIndex(model.index(int(hit[0])), QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self._muted = False
        if len(hit):
            self.view.scrollTo(self.view.currentIndex())

    def refresh(self) -> None:
        """Repaint the frames (labels or colours changed)."""
        if len(self.model.rows):
            self.model.dataChanged.emit(self.model.index(0), self.model.index(len(self.model.rows) - 1))

    def current_row(self) -> int:
        """Image index of the current thumbnail, or -1."""
        idx = self.view.currentIndex()
        return int(self.model.rows[idx.row()]) if idx.isValid() else -1

    def row_after(self, row: int) -> int:
        """Image index shown after image ``row`` in display order, or -1 at the end (or if not shown)."""
        pos = np.flatnonzero(self.model.rows == row)
        if len(pos) == 0 or pos[0] + 1 >= len(self.model.rows):
            return -1
        return int(self.model.rows[pos[0] + 1])

    def selected_rows(self) -> np.ndarray:
        """Image indices of the thumbnails selected in the grid."""
        return np.array(sorted(int(self.model.rows[i.row()]) for i in self.view.selectionModel().selectedIndexes()),
                        np.int64)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_changed.emit(int(self.model.rows[current.row()]) if current.isValid() else -1)

    def _on_selection(self, *_args) -> None:
        if not self._muted:
            sel = self.selected_rows()
            if len(sel):
                self.selection_requested.emit(sel)


class QtPreview(QWidget):
    """A large view of one image with its metadata."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QLabel("No image")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(240, 240)
        self.meta = QLabel("")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.meta)
        self._pix: QPixmap | None = None

    def show_image(self, path: str | None, meta: str = "") -> None:
        """Show ``path`` (None clears) and its metadata as rich text."""
        if path is None:
            self._pix = None
            self.image.setText("No image")
            self.meta.setText("")
            return
        try:
            self._pix = QPixmap.fromImage(rgb_to_qimage(thumbnail(path, 512)))
        except ImageReadError as exc:
            self._pix = None
            self.image.setText(f"Cannot show this image: {exc}")
        self.meta.setText(meta)
        self._rescale()

    def _rescale(self) -> None:
        if self._pix is not None:
            side = max(64, min(self.image.width(), self.image.height()))
            self.image.setPixmap(self._pix.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._rescale()
