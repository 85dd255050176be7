"""Thumbnail grid of the current selection or cluster, and the large preview.

The grid is a ``QListView`` in icon mode over a small model that holds only
row indices (:mod:`app.widgets.qt_strip`: marks and repaints there cost what is
on screen, not what is listed); thumbnails are decoded on demand for the items
Qt actually paints (a few dozen on screen) and kept in an LRU cache, so a
10,000-image cluster opens at once.  Thumbnails show the crop the model sees (the run's
:class:`core.images.preprocess.Preprocessing`), under the display stretch the user
picked, at a size from a slider (64-256 px).  The frame of each thumbnail shows
its label colour: solid for a label of the user's, dashed for the model's.
Thumbnails are drawn on :func:`app.workers.render_pool`, never on the GUI
thread: a new stretch or size shows the old tiles until the new ones arrive.
The large preview is :mod:`app.widgets.qt_preview`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QListView, QSlider, QVBoxLayout, QWidget

from app.widgets.qt_paint import framed_pixmap
from app.widgets.qt_strip import StripModel, StripView, visible_span
from app.widgets.qt_text import ElidedLabel
from core.images.display import Stretch, render
from core.images.io import ImageReadError
from core.images.preprocess import Preprocessing
from core.selection import among

THUMB = 96
THUMB_RANGE = (64, 256)
DARK_FRAME = 0.35  # lightness below which a frame would vanish on the strip's #161616
REDRAW_DELAY_MS = 120  # a stretch or size change waits this long for the next one before drawing


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap an RGB uint8 array as a QImage (copied, so the array may go)."""
    h, w = rgb.shape[:2]
    return QImage(np.ascontiguousarray(rgb).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def render_qimage(path: str, stretch: Stretch | None, prep: Preprocessing | None, size: int | None) -> QImage:
    """:func:`core.images.display.render` as a QImage (safe off the GUI thread, unlike QPixmap)."""
    return rgb_to_qimage(render(path, stretch, prep, size))


class ThumbnailCache:
    """LRU cache of thumbnails as QPixmap, keyed by path; unreadable files get a grey tile.

    ``prep`` crops each image as the model sees it (None: the whole frame) and
    ``stretch`` is the display stretch; :meth:`configure` changes them and
    forgets what was drawn before (keeping it as a stand-in until the new one
    is drawn).  :meth:`get` draws on the calling thread; :meth:`request` draws on
    :func:`app.workers.render_pool` and calls back on the GUI thread, so a new
    stretch or size never holds the window.
    """

    def __init__(self, size: int = THUMB, capacity: int = 2000, prep: Preprocessing | None = None,
                 stretch: Stretch | None = None) -> None:
        self.size = size
        self.capacity = capacity
        self.prep = prep
        self.stretch = stretch
        self.generation = 0  # bumped by configure: renders of an older one are dropped
        self._items: OrderedDict[str, QPixmap] = OrderedDict()
        self._stale: dict[str, QPixmap] = {}  # the last configuration's tiles, shown until redrawn
        self._pending: set[str] = set()

    def configure(self, size: int | None = None, prep: Preprocessing | None = None,
                  stretch: Stretch | None = None) -> bool:
        """Change the size, crop or stretch (None keeps it); return whether anything changed."""
        new = (size or self.size, prep or self.prep, stretch or self.stretch)
        if new == (self.size, self.prep, self.stretch):
            return False
        self.size, self.prep, self.stretch = new
        self.generation += 1
        if self._items:
            self._stale = dict(self._items)
        self._items.clear()
        self._pending.clear()
        return True

    def _tile(self, image: QImage | None) -> QPixmap:
        if image is None:
            pix = QPixmap(self.size, self.size)
            pix.fill(QColor("#555555"))
            return pix
        pix = QPixmap.fromImage(image)
        if pix.width() < self.size and pix.height() < self.size:  # small crops grow to the tile
            pix = pix.scaled(self.size, self.size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
        return pix

    def _keep(self, path: str, pix: QPixmap) -> QPixmap:
        self._items[path] = pix
        self._stale.pop(path, None)
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return pix

    def peek(self, path: str) -> QPixmap | None:
        """The thumbnail of ``path`` if it is drawn already, else None (nothing is drawn)."""
        pix = self._items.get(path)
        if pix is not None:
            self._items.move_to_end(path)
        return pix

    def get(self, path: str) -> QPixmap:
        """The thumbnail of ``path``, drawn now on the calling thread if need be."""
        pix = self.peek(path)
        if pix is not None:
            return pix
        try:
            image = render_qimage(path, self.stretch, self.prep, self.size)
        except ImageReadError:
            image = None
        return self._keep(path, self._tile(image))

    def put(self, path: str, image: QImage | None) -> None:
        """Keep ``image`` (drawn elsewhere, e.g. on the render pool; None: unreadable) as the thumbnail of ``path``."""
        self._keep(path, self._tile(image))

    def stand_in(self, path: str) -> QPixmap | None:
        """What to show of ``path`` until it is drawn: its tile from before the last change, if any."""
        return self._stale.get(path)

    def request(self, path: str, ready: Callable[[str], None]) -> None:
        """Draw ``path`` on the render pool; ``ready(path)`` follows on the GUI thread once it is in the cache."""
        if path in self._pending or path in self._items:
            return
        from app.workers import render_pool

        self._pending.add(path)
        generation = self.generation

        def done(image: QImage | None) -> None:
            if generation != self.generation:
                return
            self._pending.discard(path)
            self._keep(path, self._tile(image))
            ready(path)

        render_pool().submit(render_qimage, path, self.stretch, self.prep, self.size, on_result=done,
                             on_error=lambda _exc: done(None), stale=lambda: generation != self.generation)

    def pending(self) -> int:
        """Thumbnails asked for and not drawn yet."""
        return len(self._pending)


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
        self.model = StripModel(self.decorated, lambda: self.describe, self)
        self.view = StripView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.thumb = THUMB
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 4, THUMB + 4))
        self._fit_one_row()
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
        self.title = ElidedLabel("Select points on the map or a cluster to see its galaxies")
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
        self.size_value = QLabel(f"{THUMB} px")
        self._size_timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS)
        self._size_timer.timeout.connect(self._redraw_at_size)
        self._drawn_timer = QTimer(self, singleShot=True, interval=15)
        self._drawn_timer.timeout.connect(self.refresh)
        top.addWidget(QLabel("Size:"))
        top.addWidget(self.size_slider)
        top.addWidget(self.size_value)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self._unsorted = np.zeros(0, np.int64)
        self._marked = np.zeros(0, np.int64)
        self._decorated: dict[int, QPixmap] = {}
        self._muted = False
        self._emitted = -1  # the image index last sent as current_changed

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
        path = self.paths[row]
        base = self.cache.peek(path)
        if base is None:  # drawn on the render pool; until then the old tile (or an empty one)
            self.cache.request(path, self._on_drawn)
            base = self.cache.stand_in(path)
        width = max(3, side // 32)
        colour = QColor(self.color_of(row))
        solid = self.is_user(row)

        def draw(p: QPainter) -> None:
            nonlocal base
            if base is not None:
                if max(base.width(), base.height()) > side or (base.width() < side and base.height() < side):
                    base = base.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation)
                p.drawPixmap((side - base.width()) // 2, (side - base.height()) // 2, base)
            pen = QPen(colour, width)
            if not solid:
                pen.setStyle(Qt.PenStyle.CustomDashLine)
                pen.setDashPattern([2.0, 2.0])  # in pen widths: dashes and gaps both visible at 64 px
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # square caps would close the gaps
            p.setPen(pen)
            p.drawRect(QRectF(width / 2, width / 2, side - width, side - width))
            if colour.lightnessF() < DARK_FRAME:  # exclude's dark grey on the dark strip: edge it in light grey
                p.setPen(QPen(QColor("#a0a0a0"), 1))
                for inset in (0.5, width - 0.5):
                    p.drawRect(QRectF(inset, inset, side - 2 * inset, side - 2 * inset))

        # On a reused canvas: a QPainter on a new QPixmap leaked 6 references to None (app.widgets.qt_paint).
        return framed_pixmap(side, side, QColor("#202020"), draw)

    def set_thumb_size(self, size: int) -> None:
        """Show thumbnails of ``size`` pixels (64-256).

        The tiles grow at once from what is drawn; they are drawn anew at the new size on the
        render pool once the slider rests for :data:`REDRAW_DELAY_MS` (a drag asks for one redraw).
        """
        size = int(min(max(size, THUMB_RANGE[0]), THUMB_RANGE[1]))
        if self.size_slider.value() != size:
            self.size_slider.setValue(size)  # comes back here through valueChanged
            return
        self.thumb = size
        self.size_value.setText(f"{size} px")
        self.view.setIconSize(QSize(size, size))
        self.view.setGridSize(QSize(size + 4, size + 4))
        self._fit_one_row()
        self._size_timer.start()
        self.refresh()

    def _fit_one_row(self) -> None:
        """At least one whole row of thumbnails: the dock holding the strip grows rather than cut them."""
        scroll = self.view.style().pixelMetric(self.view.style().PixelMetric.PM_ScrollBarExtent)
        self.view.setMinimumHeight(self.thumb + 4 + 2 * self.view.frameWidth() + scroll + 4)

    def _redraw_at_size(self) -> None:
        if self.cache.configure(size=self.thumb):
            self.refresh()

    def _on_drawn(self, _path: str) -> None:
        self._drawn_timer.start()  # many tiles arrive together: one repaint for them

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

    def show_rows(self, rows: np.ndarray, title: str, marked: np.ndarray | None = None) -> None:
        """Show the thumbnails of ``rows`` under ``title``, in the chosen order, ``marked`` highlighted.

        ``marked`` (image indices; None: none) is the highlight of the new list, given here so
        that it is marked once: the galaxies highlighted in the old list are not marked again
        first.  Scattered through the new order they were tens of thousands of ranges that Qt
        then compared with the new highlight range by range: 11 s for a lasso at a million galaxies.
        The galaxy in the preview stays current if it is among ``marked``.
        """
        keep = self.current_row()
        self._unsorted = np.asarray(rows, np.int64)
        self._marked = np.zeros(0, np.int64) if marked is None else np.asarray(marked, np.int64)
        self.title_text = title
        self.title.setText(f"{title}: {len(rows)} image(s)")
        self._resort(keep if keep >= 0 and np.any(self._marked == keep) else -1)

    def rows(self) -> np.ndarray:
        """Image indices in display order."""
        return self.model.rows

    def _resort(self, keep: int = -1) -> None:
        """Show the list in the chosen order; image ``keep`` (if shown; -1: none) is current again."""
        rows = self._unsorted
        if self.sort_keys is not None and len(rows):
            rows = rows[np.argsort(self.sort_keys(self.sort.currentText(), rows), kind="stable")]
        self._muted = True
        self.model.set_rows(rows)
        at = np.flatnonzero(rows == keep) if keep >= 0 else ()
        if len(at):  # mark() keeps a current thumbnail that it highlights
            self.view.selectionModel().setCurrentIndex(self.model.index(int(at[0])), QItemSelectionModel.SelectionFlag.NoUpdate)
        self._muted = False
        # A new order must not lose what the keys act on: highlight the same galaxies again.
        self.mark(self._marked)

    def mark(self, rows: np.ndarray) -> None:
        """Highlight exactly the thumbnails of image indices ``rows``, the galaxies the keys act on.

        The current thumbnail (the one in the preview) stays where it is if it is among
        ``rows``; otherwise it moves to the first of them in display order.  Nothing is
        emitted back as a user selection, so the shared selection can drive this.  The old
        highlight is cleared on its own before the new one is set: Qt works out what changed
        between two selections range against range, which for a scattered one took seconds.
        """
        self._marked = np.asarray(rows, np.int64)
        shown = self.model.rows
        hit = np.flatnonzero(np.isin(shown, self._marked)) if len(shown) and len(self._marked) else np.zeros(0, np.int64)
        model, selection_model = self.model, self.view.selectionModel()
        self._muted = True
        try:
            selection_model.clearSelection()
            if len(hit):
                selection_model.select(model.runs(hit), QItemSelectionModel.SelectionFlag.Select)
            current = self.view.currentIndex()
            if not len(hit):
                selection_model.clearCurrentIndex()
            elif not current.isValid() or hit[min(np.searchsorted(hit, current.row()), len(hit) - 1)] != current.row():
                selection_model.setCurrentIndex(model.index(int(hit[0])), QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self._muted = False
        if len(hit):
            self.view.scrollTo(self.view.currentIndex())
        self._sync_current()  # an empty selection empties the preview too

    def refresh(self) -> None:
        """Repaint the frames (labels or colours changed): all are framed anew, the ones on screen now.

        The change is said for the thumbnails on screen only; Qt went through every row of
        a change over the whole list (200,000 ``rowCount`` calls at 200,000 galaxies).
        """
        self._decorated.clear()
        span = visible_span(self.view)
        if span is not None:
            self.model.dataChanged.emit(self.model.index(span[0]), self.model.index(span[1]))

    def refresh_rows(self, rows: np.ndarray) -> None:
        """Repaint the frames of image indices ``rows`` only (their labels changed).

        Their framed thumbnails are forgotten, so they are framed anew when they are shown;
        one change is said, over the ones on screen (one per row was 25,000 signals for a
        cluster labelled at once).
        """
        rows = np.asarray(rows, np.int64)
        if self._decorated:
            kept = np.fromiter(self._decorated, np.int64, len(self._decorated))
            for row in kept[among(kept, rows)].tolist():
                del self._decorated[row]
        span = visible_span(self.view)
        if span is None:
            return
        changed = span[0] + np.flatnonzero(among(self.model.rows[span[0]:span[1] + 1], rows))
        if len(changed):
            self.model.dataChanged.emit(self.model.index(int(changed[0])), self.model.index(int(changed[-1])),
                                        [Qt.ItemDataRole.DecorationRole])

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
        self._emitted = int(self.model.rows[current.row()]) if current.isValid() else -1
        self.current_changed.emit(self._emitted)

    def _sync_current(self) -> None:
        """Say the current galaxy if it changed without a signal (a model reset drops it silently)."""
        row = self.current_row()
        if row != self._emitted:
            self._emitted = row
            self.current_changed.emit(row)

    def _on_selection(self, *_args) -> None:
        if not self._muted:
            sel = self.selected_rows()
            if len(sel):
                self.selection_requested.emit(sel)
