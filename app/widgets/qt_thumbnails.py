"""Thumbnail grid of the current selection or cluster, and the large preview.

The grid is a ``QListView`` in icon mode over a small model that holds only
row indices; thumbnails are decoded on demand for the items Qt actually
paints (a few dozen on screen) and kept in an LRU cache, so a 10,000-image
cluster opens at once.  Thumbnails show the crop the model sees (the run's
:class:`core.images.preprocess.Preprocessing`), under the display stretch the user
picked, at a size from a slider (64-256 px).  The frame of each thumbnail shows
its label colour: solid for a label of the user's, dashed for the model's.

:class:`QtImageView` is the large view with zoom (wheel), pan (drag) and the
model's crop outlined; :class:`QtPreview` puts it above the stretch control and
the galaxy's metadata (with RA and Dec when its FITS header has a WCS).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.widgets.qt_stretch import QtStretch
from core.images.display import Stretch, render
from core.images.io import ImageReadError
from core.images.preprocess import Preprocessing

THUMB = 96
THUMB_RANGE = (64, 256)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap an RGB uint8 array as a QImage (copied, so the array may go)."""
    h, w = rgb.shape[:2]
    return QImage(np.ascontiguousarray(rgb).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ThumbnailCache:
    """LRU cache of thumbnails as QPixmap, keyed by path; unreadable files get a grey tile.

    ``prep`` crops each image as the model sees it (None: the whole frame) and
    ``stretch`` is the display stretch; :meth:`configure` changes them and
    forgets what was drawn before.
    """

    def __init__(self, size: int = THUMB, capacity: int = 2000, prep: Preprocessing | None = None,
                 stretch: Stretch | None = None) -> None:
        self.size = size
        self.capacity = capacity
        self.prep = prep
        self.stretch = stretch
        self._items: OrderedDict[str, QPixmap] = OrderedDict()

    def configure(self, size: int | None = None, prep: Preprocessing | None = None,
                  stretch: Stretch | None = None) -> bool:
        """Change the size, crop or stretch (None keeps it); return whether anything changed."""
        new = (size or self.size, prep or self.prep, stretch or self.stretch)
        if new == (self.size, self.prep, self.stretch):
            return False
        self.size, self.prep, self.stretch = new
        self._items.clear()
        return True

    def get(self, path: str) -> QPixmap:
        """The thumbnail of ``path``."""
        pix = self._items.get(path)
        if pix is not None:
            self._items.move_to_end(path)
            return pix
        try:
            rgb = render(path, self.stretch, self.prep, self.size)
            pix = QPixmap.fromImage(rgb_to_qimage(rgb))
            if pix.width() < self.size and pix.height() < self.size:  # small crops grow to the tile
                pix = pix.scaled(self.size, self.size, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
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
        self.cache = ThumbnailCache(prep=Preprocessing())  # the default run's crop until a run says otherwise
        self.paths: list[str] = []
        self.color_of: Callable[[int], str] = lambda row: "#999999"
        self.is_user: Callable[[int], bool] = lambda row: False
        self.describe: Callable[[int], str] | None = None
        self.sort_keys: Callable[[str, np.ndarray], np.ndarray] | None = None
        self.model = _GridModel(self)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.thumb = THUMB
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 4, THUMB + 4))
        self.view.setSpacing(0)
        self.view.setMovement(QListView.Movement.Static)
        # The galaxy the keys act on must stand out from every label frame: a thick white ring.
        self.view.setStyleSheet("QListView { background: #161616; }"
                                "QListView::item { border: 2px solid transparent; }"
                                "QListView::item:selected { border: 2px solid #ffffff; background: #505050; }")
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
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(*THUMB_RANGE)
        self.size_slider.setSingleStep(16)
        self.size_slider.setPageStep(32)
        self.size_slider.setValue(THUMB)
        self.size_slider.setMaximumWidth(160)
        self.size_slider.setToolTip("Thumbnail size (64-256 px); thumbnails show the crop the model sees")
        self.size_slider.valueChanged.connect(self.set_thumb_size)
        top.addWidget(QLabel("Size:"))
        top.addWidget(self.size_slider)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self._unsorted = np.zeros(0, np.int64)
        self._marked = np.zeros(0, np.int64)
        self._decorated: dict[int, QPixmap] = {}
        self._muted = False

    def decorated(self, row: int) -> QPixmap:
        """Thumbnail with a frame in the image's label or cluster colour: solid for the user's label, dashed for the model's.

        Kept until :meth:`refresh` or :meth:`refresh_rows` names the row: the view asks for
        every visible thumbnail on each repaint, and composing them all anew took a fifth of
        a labelling key's time (issue 18).
        """
        pix = self._decorated.get(row)
        if pix is None:
            if len(self._decorated) > 4 * self.cache.capacity:
                self._decorated.clear()
            pix = self._decorated[row] = self._decorate(row)
        return pix

    def _decorate(self, row: int) -> QPixmap:
        side = self.thumb
        base = self.cache.get(self.paths[row])
        pix = QPixmap(side, side)
        pix.fill(QColor("#202020"))
        p = QPainter(pix)
        p.drawPixmap((side - base.width()) // 2, (side - base.height()) // 2, base)
        width = max(3, side // 32)
        pen = QPen(QColor(self.color_of(row)), width)
        if not self.is_user(row):
            pen.setStyle(Qt.PenStyle.CustomDashLine)
            pen.setDashPattern([2.0, 2.0])  # in pen widths: dashes and gaps both visible at 64 px
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # square caps would close the gaps
        p.setPen(pen)
        p.drawRect(QRectF(width / 2, width / 2, side - width, side - width))
        p.end()
        return pix

    def set_thumb_size(self, size: int) -> None:
        """Show thumbnails of ``size`` pixels (64-256)."""
        size = int(min(max(size, THUMB_RANGE[0]), THUMB_RANGE[1]))
        if self.size_slider.value() != size:
            self.size_slider.setValue(size)  # comes back here through valueChanged
            return
        self.thumb = size
        self.cache.configure(size=size)
        self.view.setIconSize(QSize(size, size))
        self.view.setGridSize(QSize(size + 4, size + 4))
        self.refresh()

    def set_prep(self, prep: Preprocessing | None) -> None:
        """Crop the thumbnails as ``prep`` does (the run's crop: what the model sees)."""
        if prep is None:
            prep = Preprocessing("none")
        if self.cache.configure(prep=prep):
            self.refresh()

    def set_stretch(self, stretch: Stretch) -> None:
        """Draw the thumbnails with the display stretch ``stretch``."""
        if self.cache.configure(stretch=stretch):
            self.refresh()

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
        self._decorated.clear()
        if len(self.model.rows):
            self.model.dataChanged.emit(self.model.index(0), self.model.index(len(self.model.rows) - 1))

    def refresh_rows(self, rows: np.ndarray) -> None:
        """Repaint the frames of image indices ``rows`` only (their labels changed)."""
        for row in np.asarray(rows, np.int64).tolist():
            self._decorated.pop(row, None)
        for pos in np.flatnonzero(np.isin(self.model.rows, rows)).tolist():
            index = self.model.index(int(pos))
            self.model.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def current_row(self) -> int:
        """Image index of the current thumbnail, or -1."""
        idx = self.view.currentIndex()
        return int(self.model.rows[idx.row()]) if idx.isValid() else -1

    def row_before(self, row: int) -> int:
        """Image index shown before image ``row`` in display order, or -1 at the start (or if not shown)."""
        pos = np.flatnonzero(self.model.rows == row)
        if len(pos) == 0 or pos[0] == 0:
            return -1
        return int(self.model.rows[pos[0] - 1])

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


class QtImageView(QGraphicsView):
    """One image, large: the wheel zooms about the cursor, a drag pans, a double-click fits it again.

    The square the model sees (the run's crop) is outlined with a dashed line.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#111111"))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setMinimumSize(240, 240)
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.crop_item = QGraphicsRectItem()
        pen = QPen(QColor("#ffffff"), 0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.crop_item.setPen(pen)
        self.crop_item.setToolTip("What the model sees (the run's crop)")
        self.scene().addItem(self.crop_item)
        self.message = self.scene().addText("")
        self.message.setDefaultTextColor(QColor("#dddddd"))
        self._fitted = True

    def set_image(self, rgb: np.ndarray | None, crop: tuple[int, int, int, int] | None = None,
                  message: str = "No image", keep_view: bool = False) -> None:
        """Show ``rgb`` (None shows ``message``); ``crop`` is (left, top, width, height) to outline.

        ``keep_view`` keeps the zoom and pan (the same galaxy under a new stretch).
        """
        if rgb is None:
            self.item.setPixmap(QPixmap())
            self.crop_item.hide()
            self.message.setPlainText(message)
            self.message.show()
            self.scene().setSceneRect(self.message.boundingRect())
            self.resetTransform()
            return
        self.message.hide()
        self.item.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        h, w = rgb.shape[:2]
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        if crop is not None and crop[2] < w:
            self.crop_item.setRect(QRectF(*crop))
            self.crop_item.show()
        else:
            self.crop_item.hide()
        if not keep_view or self._fitted:
            self.fit()

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` about the view's anchor (between 1/8 and 32 times the pixels)."""
        scale = self.transform().m11() * factor
        if 0.125 <= scale <= 32:
            self.scale(factor, factor)
            self._fitted = False

    def zoom_level(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fitted:
            self.fit()


def crop_box(shape: tuple[int, ...], prep: Preprocessing | None) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) of the fixed crop of ``prep`` in an image of ``shape``; None for no crop.

    The automatic crop depends on the image, so it is outlined at its fallback fraction.
    """
    if prep is None or prep.crop == "none":
        return None
    h, w = shape[:2]
    side = max(8, int(round(min(h, w) * prep.crop_fraction)))
    return (w - side) // 2, (h - side) // 2, side, side


class QtPreview(QWidget):
    """A large, zoomable view of one image with the display stretch control and its metadata.

    Signals
    -------
    stretch_changed(Stretch)
        The user picked another display stretch (the grid follows it).
    """

    stretch_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QtImageView()
        self.stretch_control = QtStretch()
        self.stretch_control.changed.connect(self._on_stretch)
        self.meta = QLabel("")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        zoom_in, zoom_out, fit = QPushButton("+"), QPushButton("-"), QPushButton("Fit")
        for b, tip in ((zoom_in, "Zoom in (wheel)"), (zoom_out, "Zoom out (wheel)"), (fit, "Fit (double-click)")):
            b.setToolTip(tip)
            b.setMaximumWidth(44)
        zoom_in.clicked.connect(lambda: self.view.zoom(1.25))
        zoom_out.clicked.connect(lambda: self.view.zoom(0.8))
        fit.clicked.connect(self.view.fit)
        buttons = QHBoxLayout()
        for b in (zoom_in, zoom_out, fit):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.stretch_control)
        layout.addWidget(self.meta)
        self.path: str | None = None
        self.prep: Preprocessing | None = Preprocessing()
        self._meta = ""
        self._sky = ""

    @property
    def stretch(self) -> Stretch:
        """The display stretch in use."""
        return self.stretch_control.stretch()

    def set_prep(self, prep: Preprocessing | None) -> None:
        """Outline the crop of ``prep`` (the run's) on the image."""
        self.prep = prep
        if self.path is not None:
            self._draw(keep_view=True)

    def show_image(self, path: str | None, meta: str = "") -> None:
        """Show ``path`` (None clears) and its metadata as rich text, with RA and Dec when it has a WCS.

        The same galaxy again (its label changed) keeps the zoom and pan.
        """
        same = path is not None and path == self.path
        self.path = path
        self._meta = meta
        if path is None:
            self.view.set_image(None)
            self.meta.setText("")
            return
        from core.catalog.join import wcs_centre

        centre = wcs_centre(path)
        self._sky = "" if centre is None else f"<br>RA {centre[0]:.5f}, Dec {centre[1]:+.5f} (image centre, deg)"
        self.meta.setText(meta + self._sky)
        self._draw(keep_view=same)

    def set_meta(self, meta: str) -> None:
        """New words for the image shown (its label changed), without drawing it again."""
        self._meta = meta
        if self.path is not None:
            self.meta.setText(meta + self._sky)

    def _draw(self, keep_view: bool) -> None:
        try:
            rgb = render(self.path, self.stretch)
        except ImageReadError as exc:
            self.view.set_image(None, message=f"Cannot show this image: {exc}")
            return
        self.view.set_image(rgb, crop_box(rgb.shape, self.prep), keep_view=keep_view)

    def _on_stretch(self, stretch: Stretch) -> None:
        if self.path is not None:
            self._draw(keep_view=True)
        self.stretch_changed.emit(stretch)
