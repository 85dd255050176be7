"""The map's scatter item: points styled from a small table of (pen, brush) styles, in numpy.

pyqtgraph's own ``setData(brush=...)`` and ``setBrush`` walk the points in Python
(a ``mkBrush`` call and a symbol-atlas key per point: 0.3-0.5 s at 60,000), so
:class:`StyledScatter` fills the item's point array with numpy: each point
carries a small integer style, the atlas is asked for one symbol per style, and
a recolour writes only the points whose style changed.  Split from
``qt_map.py`` (the widget) to keep each module under 500 lines.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QBrush


class StyledScatter(pg.ScatterPlotItem):
    """A ``ScatterPlotItem`` whose points are styled from a small table of styles, vectorised.

    Uses the item's documented record array (``data``: x, y, pen, brush,
    sourceRect, ...) and its symbol atlas, with one atlas lookup per distinct
    style instead of one per point.

    A restyle of a few points repaints only the region around them: the item
    asks the scene to update that rectangle, and while painting it draws only
    the points that overlap the exposed rectangle (``viewRect`` is narrowed to
    it, which pyqtgraph's paint uses to cull).  Labelling one galaxy of 60,000
    so repaints a few dozen pixels, not the whole cloud.
    """

    #: Above this many changed points a restyle repaints the whole item.
    PARTIAL_LIMIT = 256

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # exposedRect is only the dirty part when this flag is set (else the whole bounding rect)
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._exposed = None

    def viewRect(self):  # noqa: N802 (pyqtgraph API)
        """The visible bounds, narrowed to the exposed rectangle while painting (pyqtgraph culls to it)."""
        rect = super().viewRect()
        if self._exposed is not None and rect is not None:
            return rect.intersected(self._exposed)
        return rect

    def paint(self, p, option, widget) -> None:  # noqa: D102 (Qt override)
        self._exposed = option.exposedRect if self._exportOpts is False else None
        try:
            super().paint(p, option, widget)
        finally:
            self._exposed = None

    def _rects(self, styles: list[tuple[object, QBrush]], style: np.ndarray) -> np.ndarray:
        """Atlas rectangle of the symbol of each point's (pen, brush) style ``styles[style[i]]``.

        Only the styles in use are looked up (the atlas renders any it lacks).
        """
        used, inverse = np.unique(style, return_inverse=True)
        keys = [(self.opts["symbol"], self.opts["size"], self.opts["pen"] if styles[u][0] is None else styles[u][0],
                 styles[u][1]) for u in used]
        rects = np.zeros(len(used), dtype=self.data.dtype["sourceRect"])
        if keys:
            rects[:] = self.fragmentAtlas[keys]
        return rects[inverse.ravel()]

    @staticmethod
    def _tables(styles: list[tuple[object, QBrush]]) -> tuple[np.ndarray, np.ndarray]:
        pens, brushes = np.empty(len(styles), object), np.empty(len(styles), object)
        pens[:] = [pen for pen, _ in styles]
        brushes[:] = [brush for _, brush in styles]
        return pens, brushes

    def set_styled(self, x: np.ndarray, y: np.ndarray, styles: list[tuple[object, QBrush]],
                   style: np.ndarray) -> None:
        """Replace the points: point ``i`` at ``(x[i], y[i])`` drawn with ``styles[style[i]]`` (pen, brush)."""
        pens, brushes = self._tables(styles)
        data = np.empty(len(x), dtype=self.data.dtype)  # object fields start as None: "the default"
        data["x"], data["y"] = x, y
        data["size"] = -1
        data["visible"] = True
        data["data"] = np.arange(len(x))
        data["pen"] = pens[style] if len(styles) else None
        data["brush"] = brushes[style] if len(styles) else None
        data["sourceRect"] = self._rects(styles, style) if len(styles) else 0
        self.data = data
        # What ScatterPlotItem.addPoints does after filling its array, minus the per-point styling.
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.bounds = [None, None]
        self.invalidate()
        self.sigPlotChanged.emit(self)

    def restyle(self, rows: np.ndarray, styles: list[tuple[object, QBrush]], style: np.ndarray) -> None:
        """Give the points ``rows`` the styles ``styles[style]`` (``style`` aligned with ``rows``)."""
        if len(rows) == 0:
            return
        pens, brushes = self._tables(styles)
        self.data["pen"][rows] = pens[style]
        self.data["brush"][rows] = brushes[style]
        self.data["sourceRect"][rows] = self._rects(styles, style)
        if len(rows) > self.PARTIAL_LIMIT or self._region(rows[:1]) is None:
            self.invalidate()
            return
        # a few scattered points: a small rectangle each; more: the box around them
        for part in ([rows[i : i + 1] for i in range(len(rows))] if len(rows) <= 16 else [rows]):
            self.update(self._region(part))

    def _region(self, rows: np.ndarray):
        """The item-coordinate rectangle covering the symbols of ``rows`` (None: not shown yet)."""
        from PySide6.QtCore import QRectF

        px, py = self.pixelVectors()
        if px is None or py is None:
            return None
        half = float(self.data["sourceRect"]["w"][rows].max()) / 2 + 2  # pixels, with a margin for antialiasing
        dx, dy = abs(px.x()) * half + abs(py.x()) * half, abs(px.y()) * half + abs(py.y()) * half
        x, y = self.data["x"][rows], self.data["y"][rows]
        return QRectF(float(x.min()) - dx, float(y.min()) - dy, float(x.max() - x.min()) + 2 * dx,
                      float(y.max() - y.min()) + 2 * dy)


__all__ = ["StyledScatter"]
