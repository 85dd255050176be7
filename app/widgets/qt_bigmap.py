"""The cluster map at survey scale (issue 22): a density image when zoomed out, the points when zoomed in.

Above :data:`BIG_POINTS` points the map does not hand every point to the
scatter item (pyqtgraph's record array and paint at 10^6 points take seconds).
Instead :class:`BigMap` keeps the points in numpy and shows, for the current
view, either

* the points inside the view, when at most :data:`POINTS_IN_VIEW` are visible
  (the same styled scatter item, holding only those), or
* a density image: a 2-D histogram of the visible points, one bin per
  :data:`BIN_PIXELS` x :data:`BIN_PIXELS` screen pixels, each bin in the colour
  that most of its points have (the dominant cluster or label), its opacity
  growing with the log of its count.

Both are recomputed in numpy when the view range changes, debounced
(:data:`REFRESH_DELAY_MS`).  Hover, click and the lasso use :class:`GridIndex`
over all the points, built once per data set (an ``argsort``, several times
faster to build than a KD-tree): a hover tests the points of the few cells
under the cursor, a lasso only those of the cells its outline crosses.  A
one-label recolour moves one point between two colour counts of its bin,
paints that bin's pixels into the buffer the image item's QImage draws from,
and repaints only their rectangle (no recount of the cloud, no re-render).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

#: Above this many points the map switches to density/visible-points drawing.  200,000 drawn one by one took
#: 45-55 ms a paint, two or three paints an action (a key, a dock toggle): over the 100 ms a stall may take.
BIG_POINTS = 100_000
POINTS_IN_VIEW = 40_000  # at most this many visible points are drawn as points
BIN_PIXELS = 2  # a density bin is this many screen pixels square
REFRESH_DELAY_MS = 30  # the debounce of a view-range change
GRID = 512  # cells per axis of the lasso's grid index
OUTLINE_LIMIT = 5_000  # more selected points in view than this are not outlined one by one
PARTIAL_ROWS = 10_000  # a restyle of more points than this recounts the density image


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (n, 2) inside ``polygon`` (m, 2), even-odd rule.

    Vectorised over points, looping over the polygon's edges, after a bounding-box cut.
    """
    polygon = np.asarray(polygon, np.float64)
    inside = np.zeros(len(points), bool)
    if len(polygon) < 3 or len(points) == 0:
        return inside
    lo, hi = polygon.min(0), polygon.max(0)
    cand = np.flatnonzero((points[:, 0] >= lo[0]) & (points[:, 0] <= hi[0]) & (points[:, 1] >= lo[1]) & (points[:, 1] <= hi[1]))
    x, y = points[cand, 0].astype(np.float64), points[cand, 1].astype(np.float64)
    hit = np.zeros(len(cand), bool)
    x0, y0 = polygon[-1]
    for x1, y1 in polygon:
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        hit ^= crosses & (x < xint)
        x0, y0 = x1, y1
    inside[cand] = hit
    return inside


class GridIndex:
    """The points sorted by the cell of a :data:`GRID` x :data:`GRID` grid over their extent.

    Built once per data set (one ``argsort``); a region's points are then
    slices of one array, so a lasso tests only the points of the cells its
    outline crosses and takes the cells wholly inside without a test.

    Parameters
    ----------
    coords : ndarray
        (n, 2) point coordinates.
    """

    def __init__(self, coords: np.ndarray) -> None:
        self.coords = coords
        x, y = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])  # reductions over a
        self.lo = np.array([x.min(), y.min()], np.float64)  # contiguous column are several times faster
        self.hi = np.array([x.max(), y.max()], np.float64)
        self.step = np.maximum((self.hi - self.lo) / GRID, 1e-12)
        ix, iy = self._cell(x, y)
        cell = (iy * GRID + ix).astype(np.int32)
        self.order = np.argsort(cell)  # the order within a cell does not matter (selections are sorted)
        self.start = np.zeros(GRID * GRID + 1, np.int64)
        np.cumsum(np.bincount(cell, minlength=GRID * GRID), out=self.start[1:])

    def _cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = np.clip(((np.asarray(x, np.float64) - self.lo[0]) / self.step[0]).astype(np.int64), 0, GRID - 1)
        iy = np.clip(((np.asarray(y, np.float64) - self.lo[1]) / self.step[1]).astype(np.int64), 0, GRID - 1)
        return ix, iy

    def rows_of(self, cells: np.ndarray) -> np.ndarray:
        """Indices of the points in ``cells`` (flat cell numbers ``iy * GRID + ix``)."""
        s, n = self.start[cells], self.start[cells + 1] - self.start[cells]
        total = int(n.sum())
        if total == 0:
            return np.zeros(0, np.int64)
        offsets = np.repeat(s - np.cumsum(n) + n, n) + np.arange(total)
        return self.order[offsets]

    def nearest(self, x: float, y: float, radius: float) -> int:
        """Index of the point nearest ``(x, y)`` within ``radius``, else -1 (the points of the cells around it).

        Stands in for a KD-tree above :data:`BIG_POINTS` (whose build is most of setting a million points):
        a hover tests the few cells under the cursor.
        """
        (i0, j0), (i1, j1) = ((int(i), int(j)) for i, j in (self._cell(x - radius, y - radius),
                                                             self._cell(x + radius, y + radius)))
        ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1))
        rows = self.rows_of((jj * GRID + ii).ravel())
        if len(rows) == 0:
            return -1
        d = (self.coords[rows, 0] - np.float32(x)) ** 2 + (self.coords[rows, 1] - np.float32(y)) ** 2
        best = int(np.argmin(d))
        return int(rows[best]) if d[best] <= radius * radius else -1

    def select_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Sorted indices of the points inside ``polygon`` (m, 2), the same set as :func:`points_in_polygon`."""
        polygon = np.asarray(polygon, np.float64)
        if len(polygon) < 3:
            return np.zeros(0, np.int64)
        (i0, j0), (i1, j1) = ((int(i), int(j)) for i, j in (self._cell(*polygon.min(0)), self._cell(*polygon.max(0))))
        ni, nj = i1 - i0 + 1, j1 - j0 + 1
        # cells the outline touches: sample every edge at half a cell, then one cell of margin
        a, b = polygon, np.roll(polygon, -1, axis=0)
        steps = np.ceil(np.abs((b - a) / self.step).max(1) * 2).astype(np.int64) + 1
        t = np.concatenate([np.linspace(0, 1, s) for s in steps])
        edge = np.repeat(np.arange(len(a)), steps)
        ix, iy = self._cell(a[edge, 0] + t * (b[edge, 0] - a[edge, 0]), a[edge, 1] + t * (b[edge, 1] - a[edge, 1]))
        touched = np.zeros((nj + 2, ni + 2), bool)
        touched[iy - j0 + 1, ix - i0 + 1] = True
        border = touched.copy()
        for dj in (-1, 0, 1):
            for di in (-1, 0, 1):
                border[1:-1, 1:-1] |= touched[1 + dj : nj + 1 + dj, 1 + di : ni + 1 + di]
        border = border[1:-1, 1:-1]
        # the other cells are wholly inside or outside: their centres decide (scanlines, even-odd)
        xc = self.lo[0] + (np.arange(i0, i1 + 1) + 0.5) * self.step[0]
        yc = self.lo[1] + (np.arange(j0, j1 + 1) + 0.5) * self.step[1]
        y0, y1 = a[:, 1][None, :], b[:, 1][None, :]
        crosses = (y0 > yc[:, None]) != (y1 > yc[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = a[:, 0][None, :] + (yc[:, None] - y0) * (b[:, 0] - a[:, 0])[None, :] / (y1 - y0)
        xint = np.sort(np.where(crosses, xint, np.inf), axis=1)
        inside = np.array([np.searchsorted(row, xc) % 2 == 1 for row in xint]).reshape(nj, ni)
        jj, ii = np.nonzero(inside & ~border)
        sure = self.rows_of((jj + j0) * GRID + ii + i0)
        jj, ii = np.nonzero(border)
        cand = self.rows_of((jj + j0) * GRID + ii + i0)
        hit = cand[points_in_polygon(self.coords[cand], polygon)]
        return np.sort(np.concatenate([sure, hit]))


class BigMap:
    """What :class:`~app.widgets.qt_map.QtClusterMap` draws above :data:`BIG_POINTS` points.

    Parameters
    ----------
    owner : QtClusterMap
        The map; its ``coords``, per-point ``_style`` and style table are read, its scatter item holds
        the visible points when few enough are visible.
    """

    def __init__(self, owner: QWidget) -> None:  # the QtClusterMap (not imported: it imports this module)
        self.owner = owner
        self.active = False
        self.grid: GridIndex | None = None
        self.shown = np.zeros(0, np.int64)  # global indices in the scatter item (sorted)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-1)
        owner.view.addItem(self.image, ignoreBounds=True)
        self.image.hide()
        self._key: tuple = ()
        self._bin = np.zeros(0, np.int64)  # per point: its density bin, -1 outside the view
        self._counts = np.zeros((0, 0), np.int64)  # per bin and colour
        self._rgba = np.zeros((0, 0, 4), np.uint8)
        self._norm = 1.0
        self._timer = QTimer(owner, singleShot=True, interval=REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        owner.view.sigRangeChanged.connect(lambda *_: self.active and self._timer.start())
        owner.view.sigResized.connect(lambda *_: self.active and self._timer.start())

    @property
    def density_shown(self) -> bool:
        """Whether the map shows the density image (too many points in view to draw them)."""
        return self.active and self.image.isVisible()

    def set_points(self, auto_range: bool) -> bool:
        """New data in the owner: take it when it is big (returns True), else step aside (False)."""
        coords = self.owner.coords
        self.active = len(coords) > BIG_POINTS
        self._key = ()
        self.shown = np.zeros(0, np.int64)
        if not self.active:
            self.grid = None
            self.image.hide()
            return False
        self.grid = GridIndex(coords)
        if auto_range:
            lo, hi = self.grid.lo, self.grid.hi
            self.owner.view.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.05)
        self.refresh()
        return True

    def _view(self) -> tuple[float, float, float, float, int, int]:
        (x0, x1), (y0, y1) = self.owner.view.viewRange()
        size = self.owner.view.boundingRect()
        nx = max(1, int(size.width()) // BIN_PIXELS)
        ny = max(1, int(size.height()) // BIN_PIXELS)
        return float(x0), float(x1), float(y0), float(y1), nx, ny

    def refresh(self, force: bool = False) -> None:
        """Draw the current view: its points when few enough, else the density image."""
        if not self.active:
            return
        key = self._view()
        if key == self._key and not force:
            return
        self._key = key
        x0, x1, y0, y1, nx, ny = key
        c = self.owner.coords
        visible = np.flatnonzero((c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1))
        s = self.owner.scatter
        if len(visible) <= POINTS_IN_VIEW:
            self.image.hide()
            self.shown = visible
            s.set_styled(c[visible, 0], c[visible, 1], self.owner._styles(), self.owner._style[visible])
        else:
            if len(self.shown) or len(s.data):
                self.shown = np.zeros(0, np.int64)
                s.set_styled(np.zeros(0), np.zeros(0), [], np.zeros(0, np.int64))
            self._density(visible, x0, x1, y0, y1, nx, ny)
        self.owner.set_selection(self.owner.selected)

    def _colours(self) -> np.ndarray:
        return np.array([QColor(c).getRgb()[:3] for c in self.owner._style_colors], np.uint8).reshape(-1, 3)

    def _density(self, visible: np.ndarray, x0: float, x1: float, y0: float, y1: float, nx: int, ny: int) -> None:
        coords, style = self.owner.coords, self.owner._style
        full = len(visible) == len(coords)  # zoomed out on everything: no gathers
        x, y = (coords[:, 0], coords[:, 1]) if full else (coords[visible, 0], coords[visible, 1])
        bx = ((x - np.float32(x0)) * np.float32(nx / max(x1 - x0, 1e-12))).astype(np.int32)
        by = ((y - np.float32(y0)) * np.float32(ny / max(y1 - y0, 1e-12))).astype(np.int32)
        np.minimum(bx, nx - 1, out=bx)
        np.minimum(by, ny - 1, out=by)
        by *= nx
        by += bx  # the bin of each visible point
        if full:
            self._bin = by
        else:
            self._bin = np.full(len(coords), -1, np.int32)
            self._bin[visible] = by
        ncol = max(1, len(self.owner._style_colors))
        key = (style if full else style[visible]).astype(np.int32) // 2
        key += by * np.int32(ncol)
        self._counts = np.bincount(key, minlength=nx * ny * ncol).reshape(nx * ny, ncol)
        total = self._counts.sum(1)
        self._norm = float(np.log1p(total.max())) or 1.0
        self._rgba = np.zeros((ny * nx, 4), np.uint8)
        self._paint_bins(np.flatnonzero(total))
        self._rgba = self._rgba.reshape(ny, nx, 4)
        self.image.setImage(self._rgba, autoLevels=False)
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.image.show()

    def _paint_bins(self, bins: np.ndarray) -> None:
        """Colour ``bins`` of the image by their dominant colour, opacity by the log of their count."""
        counts = self._counts[bins]
        total = counts.sum(1)
        rgba = self._rgba.reshape(-1, 4)
        rgba[bins, :3] = self._colours()[counts.argmax(1)]
        rgba[bins, 3] = np.where(total > 0, 90 + 165 * np.minimum(np.log1p(total) / self._norm, 1.0), 0).astype(np.uint8)

    def restyle(self, rows: np.ndarray, old: np.ndarray) -> None:
        """The points ``rows`` changed style from ``old`` to the owner's ``_style[rows]`` (already set).

        O(len(rows)) plus the bins they touch: their bins' colour counts move, those
        bins' pixels are painted into the image's own buffer, and only their
        rectangles are repainted (no recount of the cloud, no pass over every point).
        """
        if not self.active or len(rows) == 0:
            return
        style = self.owner._style
        if len(self.shown):
            local = np.searchsorted(self.shown, rows).clip(0, len(self.shown) - 1)
            ok = self.shown[local] == rows
            self.owner.scatter.restyle(local[ok], self.owner._styles(), style[rows[ok]])
        if not self.image.isVisible():
            return
        ncol = self._counts.shape[1]
        if len(self.owner._style_colors) > ncol:  # a colour new to the image: recounted now
            self._timer.stop()
            self._key = ()
            self.refresh()  # a recount, of the owner's new styles
            return
        if len(rows) > PARTIAL_ROWS or (self._key == () and self._timer.isActive()):
            # A recount too, in a repaint of its own: the restyles of one action (a whole cluster's label, its
            # rings, the recolour after) make one recount, not one each, and a few points more join it.
            self._key = ()
            self._timer.start()
            return
        inside = self._bin[rows] >= 0
        rows, old = rows[inside], old[inside]
        bins = self._bin[rows]
        np.add.at(self._counts, (bins, old // 2), -1)
        np.add.at(self._counts, (bins, style[rows] // 2), 1)
        bins = np.unique(bins)
        self._paint_bins(bins)
        if not self._shares_pixels():
            self.image._renderRequired = True  # pyqtgraph copied the pixels: convert them again
        nx = self._rgba.shape[1]
        for b in bins[:64]:
            self.image.update(QRectF(float(b % nx) - 1, float(b // nx) - 1, 3, 3))
        if len(bins) > 64:
            self.image.update()

    def _shares_pixels(self) -> bool:
        """Whether the image item's QImage draws straight from ``self._rgba`` (so a change there needs no render).

        pyqtgraph wraps an RGBA uint8 image without levels or lookup table in a QImage
        over the same memory (``try_make_qimage``, Format_RGBA8888); anything else
        (another pyqtgraph, another path) made a copy, and then the image is rendered again.
        """
        qimage = getattr(self.image, "qimage", None)
        if qimage is None or self.image._renderRequired:
            return False
        return getattr(qimage, "data", None) is self._rgba or np.shares_memory(getattr(qimage, "data", np.zeros(0)),
                                                                                self._rgba)

    def visible_selection(self, indices: np.ndarray) -> np.ndarray:
        """Of the selected ``indices``, those to outline: the ones in view, when at most :data:`OUTLINE_LIMIT`."""
        if not self.active or not self._key:
            return indices
        x0, x1, y0, y1 = self._key[:4]
        c = self.owner.coords[indices]
        shown = indices[(c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1)]
        return shown if len(shown) <= OUTLINE_LIMIT else shown[:0]


__all__ = ["BIG_POINTS", "BigMap", "GridIndex", "points_in_polygon"]
