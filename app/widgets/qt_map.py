"""The cluster map: every image as a point in 2-D, fast at 60,000 points.

One ``ScatterPlotItem`` with ``pxMode`` and no pen, and ONE cached ``QBrush``
per colour: pyqtgraph caches rendered symbols by brush identity, so a brush
per point would make setting 60,000 points take seconds.  Hover, click, lasso
and rectangle selection use a KD-tree over the points instead of per-item
hover events (pyqtgraph's built-in hover is fragile with several items and
slow at this size).  The selected points are drawn by a second, small item
on top, so a selection change never re-renders the whole cloud.

pyqtgraph's own ``setData(brush=...)`` and ``setBrush`` still walk the points in
Python (a ``mkBrush`` call and a symbol-atlas key per point: 0.3-0.5 s at
60,000), so :class:`~app.widgets.qt_scatter.StyledScatter` fills the item's point array with numpy:
each point carries a small integer style, the atlas is asked for one symbol per
style, and a recolour writes only the points whose style changed.  A user's
label is a style too (a ring of the colour), so labelling a galaxy restyles
one point and repaints only its few pixels (see :class:`~app.widgets.qt_scatter.StyledScatter`).

Above ``BIG_POINTS`` (100,000) points, :class:`~app.widgets.qt_bigmap.BigMap`
draws a density image when zoomed out and only the visible points when zoomed
in; hover, click and the lasso use its grid index (issue 22).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath
from PySide6.QtWidgets import QButtonGroup, QGraphicsPathItem, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.widgets.qt_bigmap import BIG_POINTS, BigMap, points_in_polygon
from app.widgets.qt_legend import MapLegend
from app.widgets.qt_scatter import StyledScatter
from core.selection import sorted_unique

MODES = ("pan", "rect", "lasso")
MAP_BACKGROUND = "#1e1e1e"
LEGEND_DELAY_MS = 40  # the legend's counts follow a label this much later, in a repaint of their own


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
        self.plot = pg.PlotWidget(viewBox=self.view, background=MAP_BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.plotItem.hideButtons()  # pyqtgraph's auto-range "A" in the corner: a stray button to the user
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.scatter = StyledScatter(pxMode=True, size=6, pen=None)
        self.selected = np.zeros(0, np.int64)  # image indices outlined on the map
        self.selected_item = pg.ScatterPlotItem(pxMode=True, size=9, pen=pg.mkPen("#ffffff", width=1.5), brush=None)
        self.hover_item = pg.ScatterPlotItem(pxMode=True, size=14, pen=pg.mkPen("#ffff00", width=2), brush=None)
        for item in (self.scatter, self.selected_item, self.hover_item):
            self.plot.addItem(item)
        self.legend = MapLegend(self.plot.plotItem)  # right of the points, never over one
        self.coords = np.zeros((0, 2), np.float32)
        self._tree = None
        self._style = np.zeros(0, np.int64)  # per point: 2 * (index into _style_colors) + ringed
        self._style_colors: list[str] = []  # grows; one cached QBrush (and ring pen) per entry
        self._ringed = np.zeros(0, bool)  # per point: the user labelled it (drawn as a ring)
        self._groups: np.ndarray | None = None  # the groups as drawn (see _recolor_changed)
        self._pens: dict[str, object] = {}
        self._brushes: dict[str, QBrush] = {}
        self._legend_key: tuple = ()
        self._legend_counts: np.ndarray | None = None  # counts waiting for their own repaint
        self._legend_entries: tuple[list, np.ndarray] | None = None  # entries (and counts) waiting for theirs
        self._legend_timer = QTimer(self, singleShot=True, interval=LEGEND_DELAY_MS)
        self._legend_timer.timeout.connect(self._apply_legend_counts)
        self.big = BigMap(self)  # above BIG_POINTS points: a density image or the visible points only
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._hovering = -1
        self.plot.viewport().installEventFilter(self)
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
    def release(self) -> None:
        """Stop following the view's geometry before the window goes (nothing may answer it while Qt deletes the view)."""
        try:
            self.view.geometryChanged.disconnect()
        except (RuntimeError, TypeError):  # already deleted, or nothing connected
            pass

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
                   names: dict[object, str] | None = None, auto_range: bool = True, grouping: tuple | None = None) -> None:
        """Show ``coords`` (n, 2), each point coloured by ``colors[groups[i]]``.

        ``names`` labels the legend entries (with their counts); ``grouping``: :attr:`core.colouring.Colouring.grouping`.
        """
        self.coords = np.asarray(coords, np.float32).reshape(-1, 2)
        self._tree = None
        if 0 < len(self.coords) <= BIG_POINTS:  # above, BigMap's grid index answers hovers (and scipy's
            from scipy.spatial import cKDTree  # first import, over a second, is not paid)

            self._tree = cKDTree(self.coords, balanced_tree=False, compact_nodes=False)
        keys, inverse, counts = grouping if grouping is not None else self._group(groups)
        if len(self._ringed) != len(self.coords):
            self._ringed = np.zeros(len(self.coords), bool)
        key_style = self._style_of(keys, colors).astype(np.int32)
        self._style = (2 * key_style)[inverse] + self._ringed.astype(np.int32)
        self._keep_groups(groups, keys, inverse, counts, key_style)
        self._update_legend(keys, counts, colors, names, keep_width=not auto_range)
        self.hover_item.setData([], [])
        if self.big.set_points(auto_range):
            return
        self.scatter.set_styled(self.coords[:, 0], self.coords[:, 1], self._styles(), self._style)
        if auto_range and len(self.coords):
            self.view.autoRange(padding=0.05)

    @staticmethod
    def _group(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct groups, the group of each point as an index into them, and their counts."""
        groups = np.asarray(groups)
        if groups.dtype.kind in "iub" and len(groups) and groups.min() >= 0 and groups.max() < 4096:
            # Small non-negative integers (cluster numbers, confidence steps): counting beats sorting.
            counts = np.bincount(groups.astype(np.intp, copy=False))
            keys = np.flatnonzero(counts)
            lut = np.zeros(len(counts), np.int32)  # int32 indices: half the memory traffic at 10^6 points
            lut[keys] = np.arange(len(keys))
            return keys, lut[groups], counts[keys]
        keys, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        return keys, inverse.ravel(), counts

    def _style_of(self, keys: np.ndarray, colors: dict[object, str]) -> np.ndarray:
        """Style index of each group key (new colours join the style table)."""
        out = np.empty(len(keys), np.int64)
        for i, k in enumerate(keys):
            color = colors.get(k.item() if hasattr(k, "item") else k, "#999999")
            if color not in self._style_colors:
                self._style_colors.append(color)
            out[i] = self._style_colors.index(color)
        return out

    def _ring_pen(self, color: str):
        pen = self._pens.get(color)
        if pen is None:
            pen = self._pens[color] = pg.mkPen(color, width=2)
        return pen

    def _styles(self) -> list[tuple[object, QBrush]]:
        """(pen, brush) of every style: per colour a solid dot, then a ring of that colour (a user's label)."""
        out: list[tuple[object, QBrush]] = []
        for c in self._style_colors:
            out += [(None, self._brush(c)), (self._ring_pen(c), self._brush(MAP_BACKGROUND))]
        return out

    def set_colors(self, groups: np.ndarray, colors: dict[object, str], names: dict[object, str] | None = None,
                   rows: np.ndarray | None = None, grouping: tuple | None = None) -> None:
        """Recolour the points without moving them; only points whose colour changed are touched.

        ``rows``: the only points whose group may have changed, when the caller knows (a label):
        then not even one pass compares every point's group.
        """
        if len(groups) != len(self.coords):
            return
        if self._recolor_changed(np.asarray(groups), colors, names, rows):
            return
        keys, inverse, counts = grouping if grouping is not None else self._group(groups)
        key_style = self._style_of(keys, colors).astype(np.int32)
        style = (2 * key_style)[inverse]
        style += self._ringed  # in place: one pass less at a million points
        self._restyle(style)
        self._keep_groups(groups, keys, inverse, counts, key_style)
        self._update_legend(keys, counts, colors, names)

    def _keep_groups(self, groups: np.ndarray, keys: np.ndarray, inverse: np.ndarray, counts: np.ndarray,
                     key_style: np.ndarray) -> None:
        """Remember the groups as drawn, so the next :meth:`set_colors` finds the changed points by one comparison."""
        groups = np.asarray(groups)
        if self._groups is not None and self._groups.shape == groups.shape and self._groups.dtype == groups.dtype:
            np.copyto(self._groups, groups)  # into the same buffer: no fresh pages at 10^6 points
        else:
            self._groups = groups.copy()  # the caller may change its array in place (a label)
        self._group_keys, self._group_of, self._group_counts, self._key_style = keys, inverse, counts, key_style

    def _recolor_changed(self, groups: np.ndarray, colors: dict[object, str], names: dict[object, str] | None,
                         rows: np.ndarray | None = None) -> bool:
        """Restyle only the points whose group changed, when the groups' colours stay (returns False otherwise).

        One comparison with the groups as drawn finds them (none when the caller
        gives ``rows``); the legend's counts move by those points alone.  A group
        that appears (a label new to the map) or empties (a whole cluster
        labelled) renumbers the groups of the other points in one pass over small
        integers, not a regrouping of every point's key (``np.unique`` of 200,000
        texts, 45 ms of a key that labels a whole cluster under colour by label).
        A drawn group's new colour restyles its points from the groups' numbers,
        not from their keys.  Falls back (False) when most points move.
        """
        old = self._groups
        if old is None or old.shape != groups.shape or old.dtype != groups.dtype:
            return False
        if rows is None:
            changed = groups != old
            if np.count_nonzero(changed) > max(1, len(groups) // 8):
                return False  # most points move (a recolour of all): regrouping is as quick
            rows = np.flatnonzero(changed)
        else:
            rows = sorted_unique(np.asarray(rows, np.int64))  # a sort: numpy's hashing unique is slower here
            rows = rows[groups[rows] != old[rows]]
        if len(rows) > max(1, len(groups) // 2):  # most points move: regrouping is as quick
            return False
        keys, new, counts, group_of = self._group_keys, groups[rows], self._group_counts, self._group_of
        if len(rows) and len(keys) == 0:
            return False
        at = np.searchsorted(keys, new).clip(0, len(keys) - 1) if len(rows) else np.zeros(0, np.intp)
        missing = new[keys[at] != new]
        appear = np.array(sorted(set(missing.tolist())), dtype=missing.dtype) if len(missing) else missing
        if len(appear):  # a group new to the map: it takes its place among the keys, the others' numbers follow
            merged = np.union1d(keys, appear)
            moved = np.searchsorted(merged, keys).astype(group_of.dtype)
            grown = np.zeros(len(merged), counts.dtype)
            grown[moved] = counts
            keys, counts, group_of = merged, grown, moved[group_of]
            was_style = np.full(len(keys), -1, np.int64)
            was_style[moved] = self._key_style
        else:
            was_style = self._key_style
        key_style = self._style_of(keys, colors).astype(np.int32)
        drawn = was_style >= 0
        recoloured = not np.array_equal(key_style[drawn], np.asarray(was_style)[drawn])  # a drawn group's colour
        idx = np.searchsorted(keys, new).astype(group_of.dtype)
        counts = counts + np.bincount(idx, minlength=len(keys)) - np.bincount(group_of[rows], minlength=len(keys))
        group_of[rows] = idx
        if not counts.all():  # a group emptied: its legend entry goes, the numbers above it move down
            kept = counts > 0
            group_of = (np.cumsum(kept) - 1).astype(group_of.dtype)[group_of]
            keys, counts, key_style = keys[kept], counts[kept], key_style[kept]
        self._group_keys, self._group_of, self._group_counts, self._key_style = keys, group_of, counts, key_style
        old[rows] = new
        if recoloured:  # (a class made of a named cluster's name): every point's style from its group's number
            style = (2 * key_style)[group_of]
            style += self._ringed
            self._restyle(style)
        else:
            self._restyle_rows(rows, 2 * key_style[group_of[rows]] + self._ringed[rows])
        self._update_legend(keys, counts, colors, names, later=True)
        return True

    def set_continuous(self, values: np.ndarray, names: dict[int, str]) -> None:
        """Colour by a value in [0, 1] (for example the confidence) in 10 steps (10 cached brushes), named ``names``."""
        steps = np.clip((np.asarray(values) * 9.999).astype(int), 0, 9)
        cmap = pg.colormap.get("viridis")
        colors = {i: cmap.map((i + 0.5) / 10, mode="qcolor").name() for i in range(10)}
        self.set_colors(steps, colors, names)

    def _update_legend(self, keys: np.ndarray, counts: np.ndarray, colors: dict[object, str],
                       names: dict[object, str] | None, keep_width: bool = True, later: bool = False) -> None:
        """The legend's entries and counts for the groups ``keys``; ``later``: new entries too follow in a repaint
        of their own, as counts do (a label that adds or empties a group: 11 ms of the key at 200,000 galaxies)."""
        entries = []
        for k in keys:
            key = k.item() if hasattr(k, "item") else k
            entries.append((colors.get(key, "#999999"), (names or {}).get(key, str(key))))
        if tuple(entries) == self._legend_key:
            # Same groups: only the counts move (labelling one galaxy must not rebuild the legend).  They
            # follow a moment later in a repaint of their own, in a column sized for them (app.widgets.qt_legend).
            self._legend_counts = counts
            self._legend_timer.start()
            return
        self._legend_key = tuple(entries)
        self._legend_counts = None
        if later:
            self._legend_entries = (entries, counts)
            self._legend_timer.start()
            return
        self._legend_timer.stop()
        self._legend_entries = None
        self.legend.set_entries([self._brush(color) for color, _ in entries], [name for _, name in entries], counts,
                                len(self.coords), keep_width=keep_width)

    def _apply_legend_counts(self) -> None:
        entries, counts = self._legend_entries, self._legend_counts
        self._legend_entries = self._legend_counts = None
        if entries is not None:
            self.legend.set_entries([self._brush(color) for color, _ in entries[0]], [name for _, name in entries[0]],
                                    entries[1] if counts is None else counts, len(self.coords))
        elif counts is not None:
            self.legend.set_counts(counts)

    def set_selection(self, indices: np.ndarray) -> None:
        """Outline the selected points."""
        idx = np.asarray(indices, np.int64)
        idx = idx[idx < len(self.coords)]
        self.selected = idx
        drawn = self.big.visible_selection(idx)  # all of them below BIG_POINTS
        if len(drawn) == 0:
            self.selected_item.setData([], [])
        else:
            self.selected_item.setData(x=self.coords[drawn, 0], y=self.coords[drawn, 1])
        self.info.setText(f"{len(idx)} selected" if len(idx) else "")

    def _restyle(self, style: np.ndarray) -> None:
        """Apply a new style per point, touching only the points whose style changed."""
        rows = np.flatnonzero(style != self._style)
        old = self._style[rows]
        self._style = style
        self._draw_restyled(rows, old)

    def _restyle_rows(self, rows: np.ndarray, style: np.ndarray) -> None:
        """Give the points ``rows`` the styles ``style`` (aligned with ``rows``): no pass over every point."""
        changed = self._style[rows] != style
        rows, style = rows[changed], style[changed]
        old = self._style[rows]
        self._style[rows] = style
        self._draw_restyled(rows, old)

    def _draw_restyled(self, rows: np.ndarray, old: np.ndarray) -> None:
        """Redraw the points ``rows``, whose style was ``old`` and is now ``self._style[rows]``."""
        if self.big.active:
            self.big.restyle(rows, old)
        else:
            self.scatter.restyle(rows, self._styles(), self._style[rows])

    def set_user_labelled(self, indices: np.ndarray) -> None:
        """Draw the points the user labelled as rings of their colour, apart from the model's solid dots.

        A style of the one scatter item, not a second item on top: labelling a
        galaxy then restyles one point, and only its few pixels are repainted.
        """
        idx = np.asarray(indices, np.int64)
        idx = idx[(idx >= 0) & (idx < len(self.coords))]
        ringed = np.zeros(len(self.coords), bool)
        ringed[idx] = True
        rows = np.flatnonzero(ringed != self._ringed) if len(self._ringed) == len(ringed) else np.arange(len(ringed))
        self._ringed = ringed
        if len(self._style) == len(ringed):
            self._restyle_rows(rows, self._style[rows] - self._style[rows] % 2 + ringed[rows])

    def mark_user_labelled(self, rows: np.ndarray, labelled: np.ndarray) -> None:
        """The points ``rows`` are (``labelled`` True) or are no longer the user's labels: their rings only.

        What a label key changes on the map: O(len(rows)), where
        :meth:`set_user_labelled` compares every point.
        """
        rows = np.asarray(rows, np.int64)
        keep = (rows >= 0) & (rows < len(self._ringed))
        rows, labelled = rows[keep], np.asarray(labelled, bool)[keep]
        self._ringed[rows] = labelled
        if len(self._style) == len(self._ringed):
            self._restyle_rows(rows, self._style[rows] - self._style[rows] % 2 + labelled)

    @property
    def user_labelled(self) -> np.ndarray:
        """Indices of the points drawn as the user's labels (rings)."""
        return np.flatnonzero(self._ringed)

    # ------------------------------------------------------------------ lookups
    def _pixel_radius(self, pixels: float) -> float:
        """Distance in data units of ``pixels`` on screen (the smaller axis scale)."""
        sx, sy = self.view.viewPixelSize()
        return float(pixels * max(sx, sy))

    def nearest(self, x: float, y: float, pixels: float = 6.0) -> int:
        """Index of the point nearest ``(x, y)`` within ``pixels`` on screen, else -1."""
        if self.big.active:
            return self.big.grid.nearest(x, y, self._pixel_radius(pixels))
        if self._tree is None:
            return -1
        dist, idx = self._tree.query([x, y], k=1, distance_upper_bound=self._pixel_radius(pixels))
        return int(idx) if np.isfinite(dist) else -1

    def select_polygon(self, polygon: np.ndarray, additive: bool = False) -> np.ndarray:
        """Select the points inside ``polygon`` (data coordinates); returns their indices."""
        if self.big.active:
            idx = self.big.grid.select_polygon(polygon)
        else:
            idx = np.flatnonzero(points_in_polygon(self.coords, polygon))
        self.selection_requested.emit(idx, additive)
        return idx

    def _on_mouse_moved(self, scene_pos) -> None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            self._hover(-1)
            return
        p = self.view.mapSceneToView(scene_pos)
        self._hover(self.nearest(p.x(), p.y()))

    def _hover(self, i: int) -> None:
        if i < 0 and self._hovering < 0:
            return
        self._hovering = i
        if i >= 0:
            self.hover_item.setData(x=[self.coords[i, 0]], y=[self.coords[i, 1]])
        else:
            self.hover_item.setData([], [])
        self.hovered.emit(i)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        """The cursor left the plot (to the mode buttons, another dock): nothing is hovered any more."""
        if watched is self.plot.viewport() and event.type() == QEvent.Type.Leave:
            self._hover(-1)
        return False

    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        p = self.view.mapSceneToView(ev.scenePos())
        i = self.nearest(p.x(), p.y())
        additive = bool(ev.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))
        self.selection_requested.emit(np.array([i] if i >= 0 else [], np.int64), additive)

    # ------------------------------------------------------------------ export
    def export_image(self, path: str) -> tuple[Path, str]:
        """Save the map in the format the file's extension names; returns the file written and how.

        See :func:`app.widgets.qt_map_export.export_plot`; raises OSError when no file was written
        and ValueError for an extension that names no format.
        """
        from app.widgets.qt_map_export import export_plot

        return export_plot(self.plot, path, MAP_BACKGROUND)

__all__ = ["QtClusterMap", "points_in_polygon"]
