"""The cluster map: every image as a point in 2-D, fast at 60,000 points.

One ``ScatterPlotItem`` with ``pxMode`` and no pen, and ONE cached ``QBrush``
per colour: pyqtgraph caches rendered symbols by brush identity, so a brush
per point would make setting 60,000 points take seconds.  Hover, click, lasso
and rectangle selection use a KD-tree over the points instead of per-item
hover events (pyqtgraph's built-in hover is fragile with several items and
slow at this size).  The selected points are drawn by a second, small item
on top, so a selection change never re-renders the whole cloud.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath
from PySide6.QtWidgets import QButtonGroup, QGraphicsPathItem, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

MODES = ("pan", "rect", "lasso")


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


class _SelectViewBox(pg.ViewBox):
    """A ViewBox whose left-drag pans, draws a rectangle, or draws a lasso."""

    def __init__(self, owner: QtClusterMap) -> None:
        super().__init__()
        self.owner = owner
        self.mode = "pan"
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        self._outline.setPen(pg.mkPen("#ffffff", width=1.5, style=Qt.PenStyle.DashLine))
        self._outline.setZValue(1e6)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 (Qt override)
        if self.mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [self.mapSceneToView(ev.buttonDownScenePos()), pos]
        else:
            self._path.append(pos)
        if self.mode == "rect":
            a, b = self._path[0], pos
            polygon = np.array([[a.x(), a.y()], [b.x(), a.y()], [b.x(), b.y()], [a.x(), b.y()]])
        else:
            polygon = np.array([[p.x(), p.y()] for p in self._path])
        path = QPainterPath()
        path.moveTo(*polygon[0])
        for x, y in polygon[1:]:
            path.lineTo(x, y)
        path.closeSubpath()
        self._outline.setPath(path)
        if ev.isFinish():
            self._outline.setPath(QPainterPath())
            additive = bool(ev.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))
            self.owner.select_polygon(polygon, additive=additive)


class QtClusterMap(QWidget):
    """Scatter map of the images, coloured by group, with hover, click, lasso and rectangle selection.

    Signals
    -------
    selection_requested(ndarray, bool)
        Indices the user picked and whether to add them to the current selection.
    hovered(int)
        Index under the cursor, or -1.
    """

    selection_requested = Signal(object, bool)
    hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = _SelectViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view, background="#1e1e1e")
        self.plot.setMenuEnabled(False)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.scatter = pg.ScatterPlotItem(pxMode=True, size=6, pen=None)
        self.selected = np.zeros(0, np.int64)  # image indices outlined on the map
        self.selected_item = pg.ScatterPlotItem(pxMode=True, size=9, pen=pg.mkPen("#ffffff", width=1.5), brush=None)
        self.hover_item = pg.ScatterPlotItem(pxMode=True, size=14, pen=pg.mkPen("#ffff00", width=2), brush=None)
        for item in (self.scatter, self.selected_item, self.hover_item):
            self.plot.addItem(item)
        self.legend = pg.LegendItem(offset=(10, 10), labelTextColor="#dddddd", brush=pg.mkBrush(30, 30, 30, 200))
        self.legend.setParentItem(self.view)
        self.coords = np.zeros((0, 2), np.float32)
        self._tree = None
        self._colors = np.zeros(0, "U9")
        self._brushes: dict[str, QBrush] = {}
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        bar = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        tips = {"pan": "Pan and zoom (drag, wheel)", "rect": "Rectangle select (Shift adds)",
                "lasso": "Lasso select (Shift adds)"}
        for i, mode in enumerate(MODES):
            b = QToolButton(text=mode.capitalize(), checkable=True, toolTip=tips[mode])
            b.setObjectName(f"mode_{mode}")
            self.mode_group.addButton(b, i)
            bar.addWidget(b)
        self.mode_group.button(0).setChecked(True)
        self.mode_group.idClicked.connect(lambda i: self.set_mode(MODES[i]))
        self.info = QLabel("")
        bar.addStretch(1)
        bar.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.plot)

    # ------------------------------------------------------------------ data
    def set_mode(self, mode: str) -> None:
        """Left-drag behaviour: ``pan``, ``rect`` or ``lasso``."""
        self.view.mode = mode
        self.mode_group.button(MODES.index(mode)).setChecked(True)

    def _brush(self, color: str) -> QBrush:
        brush = self._brushes.get(color)
        if brush is None:
            brush = self._brushes[color] = QBrush(QColor(color))
        return brush

    def set_points(self, coords: np.ndarray, groups: np.ndarray, colors: dict[object, str],
                   names: dict[object, str] | None = None, auto_range: bool = True) -> None:
        """Show ``coords`` (n, 2), each point coloured by ``colors[groups[i]]``.

        ``names`` labels the legend entries (with their counts).
        """
        from scipy.spatial import cKDTree

        self.coords = np.asarray(coords, np.float32).reshape(-1, 2)
        self._tree = cKDTree(self.coords) if len(self.coords) else None
        brushes, self._colors = self._brush_array(groups, colors)
        self.scatter.setData(x=self.coords[:, 0], y=self.coords[:, 1], brush=brushes, data=np.arange(len(self.coords)))
        self._update_legend(groups, colors, names)
        self.hover_item.setData([], [])
        if auto_range and len(self.coords):
            self.view.autoRange(padding=0.05)

    def _brush_array(self, groups: np.ndarray, colors: dict[object, str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-point brushes (shared objects, one per colour) and colour names."""
        groups = np.asarray(groups)
        keys, inverse = np.unique(groups, return_inverse=True)
        names = [colors.get(k.item() if hasattr(k, "item") else k, "#999999") for k in keys]
        table = np.empty(len(keys), object)
        table[:] = [self._brush(c) for c in names]
        inverse = inverse.ravel()
        return table[inverse], np.asarray(names, dtype="U9")[inverse] if names else np.zeros(0, "U9")

    def set_colors(self, groups: np.ndarray, colors: dict[object, str], names: dict[object, str] | None = None) -> None:
        """Recolour the points without moving them."""
        if len(groups) != len(self.coords):
            return
        brushes, new_colors = self._brush_array(groups, colors)
        changed = new_colors != self._colors
        data = self.scatter.data
        if changed.any() and len(data) == len(brushes):
            # Only the points whose colour changed get a new symbol from the atlas
            # (labelling one galaxy must not re-style 60,000): pyqtgraph restyles
            # the entries whose sourceRect width is 0.
            data["brush"][changed] = brushes[changed]
            data["sourceRect"][changed] = 0
            self.scatter.updateSpots()
        self._colors = new_colors
        self._update_legend(groups, colors, names)

    def set_continuous(self, values: np.ndarray, title: str) -> None:
        """Colour by a value in [0, 1] (for example the confidence), in 10 steps (10 cached brushes)."""
        steps = np.clip((np.asarray(values) * 9.999).astype(int), 0, 9)
        cmap = pg.colormap.get("viridis")
        colors = {i: cmap.map((i + 0.5) / 10, mode="qcolor").name() for i in range(10)}
        names = {i: f"{title} {i / 10:.1f}-{(i + 1) / 10:.1f}" for i in range(10)}
        self.set_colors(steps, colors, names)

    def _update_legend(self, groups: np.ndarray, colors: dict[object, str], names: dict[object, str] | None) -> None:
        self.legend.clear()
        keys, counts = np.unique(np.asarray(groups), return_counts=True)
        for k, c in zip(keys, counts):
            key = k.item() if hasattr(k, "item") else k
            sample = pg.ScatterPlotItem(pen=None, brush=self._brush(colors.get(key, "#999999")), size=10)
            self.legend.addItem(sample, f"{(names or {}).get(key, str(key))} ({c})")

    def set_selection(self, indices: np.ndarray) -> None:
        """Outline the selected points."""
        idx = np.asarray(indices, np.int64)
        idx = idx[idx < len(self.coords)]
        self.selected = idx
        if len(idx) == 0:
            self.selected_item.setData([], [])
        else:
            self.selected_item.setData(x=self.coords[idx, 0], y=self.coords[idx, 1])
        self.info.setText(f"{len(idx)} selected" if len(idx) else "")

    def set_user_labelled(self, indices: np.ndarray) -> None:
        """Mark the points the user labelled with a dark centre (rings), apart from the model's solid dots."""
        if getattr(self, "user_item", None) is None:
            self.user_item = pg.ScatterPlotItem(pxMode=True, size=2.5, pen=None, brush=pg.mkBrush("#1e1e1e"))
            self.plot.addItem(self.user_item)
        idx = np.asarray(indices, np.int64)
        idx = idx[idx < len(self.coords)]
        self.user_item.setData(x=self.coords[idx, 0], y=self.coords[idx, 1])

    # ------------------------------------------------------------------ lookups
    def _pixel_radius(self, pixels: float) -> float:
        """Distance in data units of ``pixels`` on screen (the smaller axis scale)."""
        sx, sy = self.view.viewPixelSize()
        return float(pixels * max(sx, sy))

    def nearest(self, x: float, y: float, pixels: float = 6.0) -> int:
        """Index of the point nearest ``(x, y)`` within ``pixels`` on screen, else -1."""
        if self._tree is None:
            return -1
        dist, idx = self._tree.query([x, y], k=1, distance_upper_bound=self._pixel_radius(pixels))
        return int(idx) if np.isfinite(dist) else -1

    def select_polygon(self, polygon: np.ndarray, additive: bool = False) -> np.ndarray:
        """Select the points inside ``polygon`` (data coordinates); returns their indices."""
        idx = np.flatnonzero(points_in_polygon(self.coords, polygon))
        self.selection_requested.emit(idx, additive)
        return idx

    def _on_mouse_moved(self, scene_pos) -> None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return
        p = self.view.mapSceneToView(scene_pos)
        i = self.nearest(p.x(), p.y())
        if i >= 0:
            self.hover_item.setData(x=[self.coords[i, 0]], y=[self.coords[i, 1]])
        else:
            self.hover_item.setData([], [])
        self.hovered.emit(i)

    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        p = self.view.mapSceneToView(ev.scenePos())
        i = self.nearest(p.x(), p.y())
        additive = bool(ev.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))
        self.selection_requested.emit(np.array([i] if i >= 0 else [], np.int64), additive)

    # ------------------------------------------------------------------ export
    def export_image(self, path: str) -> None:
        """Save the map as PNG or SVG (by the file's extension)."""
        from pyqtgraph.exporters import ImageExporter, SVGExporter

        exporter = SVGExporter(self.plot.plotItem) if path.lower().endswith(".svg") else ImageExporter(self.plot.plotItem)
        if isinstance(exporter, ImageExporter):
            exporter.parameters()["width"] = max(1200, int(self.plot.width()))
        exporter.export(path)


__all__ = ["QtClusterMap", "points_in_polygon"]
