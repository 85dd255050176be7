"""The map's legend: a column of its own right of the points, never over one, no entry cut off.

pyqtgraph's legend, anchored in the view's corner, lay over the points it named
and, with more entries than the view is tall (20 clusters at 1366 x 768), ran
off its bottom edge.  :class:`MapLegend` sits in the plot's layout beside the
view instead (an exported map keeps it: it is part of the plot), in as many
columns as the view's height needs, up to half the plot's width; entries that
still do not fit are counted in a last "+N more" entry (the largest groups are
shown, the others named in its tooltip).  A long name is cut in the middle,
whole in its entry's tooltip.  The column's width changes only when the
entries or the columns do: a count that grows by a digit never resizes the view.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF
from PySide6.QtWidgets import QSizePolicy

#: Names longer than this are cut in the middle in the legend (whole in the tooltip).
LEGEND_NAME_CHARS = 28
#: The legend takes at most this share of the plot's width; the view keeps the rest.
LEGEND_SHARE = 0.5
_COLUMN = 3  # the plot layout's column right of the view (0-2: left axis, view, right axis)
_TEXT_SIZE = 9  # points, pyqtgraph's legend text size
_MORE_TIP_NAMES = 40  # the "+N more" tooltip names this many


def legend_name(name: str, limit: int = LEGEND_NAME_CHARS) -> str:
    """``name`` as the legend shows it: cut in the middle with an ellipsis when longer than ``limit`` characters.

    Parameters
    ----------
    name : str
        A legend entry's name (a cluster, a class, a column's range).
    limit : int
        The most characters shown.

    Returns
    -------
    str
        ``name`` itself, or its start and end around "…", ``limit`` characters in all.
    """
    if len(name) <= limit:
        return name
    head = (limit - 1) * 2 // 3
    return f"{name[:head]}…{name[len(name) - (limit - 1 - head):]}"


class MapLegend(pg.LegendItem):
    """A legend in the plot's layout, right of the view, in as many columns as the view's height needs.

    Parameters
    ----------
    plot_item : pyqtgraph.PlotItem
        The plot whose layout takes the legend (beside its view box).
    """

    def __init__(self, plot_item: pg.PlotItem) -> None:
        super().__init__(offset=None, labelTextColor="#dddddd", brush=pg.mkBrush(30, 30, 30, 200),
                         labelTextSize=f"{_TEXT_SIZE}pt")
        self._plot = plot_item
        self._brushes: list[QBrush] = []
        self._names: list[str] = []
        self._counts = np.zeros(0, np.int64)
        self._total = 0  # the most any count can be (the points drawn): room for its digits
        self._shown = np.zeros(0, np.intp)  # the entries shown, in order; the others make "+N more"
        self._layout_key: tuple = ()  # (rows, most columns) the entries were laid out for
        self._fitted = (0, 0)  # (columns, width) last given to the layout's column
        font = QFont()
        font.setPointSizeF(_TEXT_SIZE)
        self._metrics = QFontMetricsF(font)
        probe = pg.LabelItem("Xg (0)", size=f"{_TEXT_SIZE}pt")
        self._row = probe.effectiveSizeHint(Qt.SizeHint.PreferredSize).height()  # an entry's height
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # rows as tall as their text
        self.setMinimumSize(0, 0)  # never makes the plot taller or wider than the window gives it
        plot_item.layout.addItem(self, 2, _COLUMN)
        plot_item.layout.setAlignment(self, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        plot_item.layout.setColumnFixedWidth(_COLUMN, 0)
        plot_item.vb.sigResized.connect(self.fit)

    @property
    def texts(self) -> list[str]:
        """Every entry's text, "name (count)", shown or counted in "+N more"."""
        return [f"{legend_name(n)} ({c})" for n, c in zip(self._names, self._counts)]

    def set_entries(self, brushes: list[QBrush], names: list[str], counts: np.ndarray, total: int,
                    keep_width: bool = True) -> None:
        """Show an entry per group: its dot's brush, its name and its count.

        Parameters
        ----------
        brushes, names : list
            Each group's dot brush and whole name (cut in the legend, whole in the tooltip), in order.
        counts : ndarray of int
            Each group's number of points.
        total : int
            The most a count can grow to (the number of points): the columns keep room for its digits.
        keep_width : bool
            Keep at least the width given before while the columns stay (the view does not jump when
            an entry comes or goes); False for a new set of points.
        """
        self._brushes, self._names = list(brushes), list(names)
        self._counts = np.asarray(counts, np.int64).copy()
        self._total = int(total)
        if not keep_width:
            self._fitted = (0, 0)
        self._layout_key = ()
        self.fit()

    def set_counts(self, counts: np.ndarray) -> None:
        """New counts for the same entries: only the texts change (no entry is added, moved or resized)."""
        self._counts = np.asarray(counts, np.int64).copy()
        for (_, label), text in zip(self.items, self._shown_texts()):
            if label.text != text:
                label.setText(text)

    def itemChange(self, change, value):  # noqa: N802 (Qt override)
        """Shown or hidden: lay the entries out again (a hidden legend leaves the view the whole plot)."""
        if change == self.GraphicsItemChange.ItemVisibleHasChanged and hasattr(self, "_plot"):
            self._layout_key = ()
            self.fit()
        return super().itemChange(change, value)

    def paint(self, p, *args) -> None:
        """The frame, only round entries."""
        if self.items:
            super().paint(p, *args)

    def _shown_texts(self) -> list[str]:
        # a LabelItem shows HTML: a class name is the astronomer's text ("a < b", "<i>barred</i>"), shown as typed
        texts = [f"{html.escape(legend_name(self._names[i]))} ({self._counts[i]})" for i in self._shown]
        hidden = len(self._names) - len(self._shown)
        if hidden:
            texts.append(f"+{hidden} more ({int(self._counts.sum() - self._counts[self._shown].sum())})")
        return texts

    def _column_width(self, texts: list[str]) -> float:
        """A column's width for ``texts``: the widest text with room for the count's digits, and its dot."""
        digits = self._metrics.horizontalAdvance("0") * len(str(self._total))
        return max((self._metrics.horizontalAdvance(t) for t in texts), default=0.0) + digits + 40

    def fit(self) -> None:
        """Lay the entries out for the view's height: columns up to half the plot, "+N more" beyond."""
        n = len(self._names)
        layout = self._plot.layout
        if not n or not self.isVisible():  # nothing to name, or hidden: the view takes the whole plot
            self.clear()
            self._shown = np.zeros(0, np.intp)
            layout.setColumnFixedWidth(_COLUMN, 0)
            self._fitted, self._layout_key = (0, 0), ()
            return
        _, top, _, bottom = self.layout.getContentsMargins()
        rows = max(1, int((self._plot.vb.height() - top - bottom) // self._row))
        column = self._column_width([f"{legend_name(name)} ()" for name in self._names])
        most = max(1, int(LEGEND_SHARE * self._plot.width() // column))
        if (rows, most) == self._layout_key:
            return  # a width change of the view (the legend's own): nothing moves
        self._layout_key = (rows, most)
        if n <= rows * most:
            self._shown = np.arange(n)
        else:  # the largest groups, in their order, and one entry for the rest
            self._shown = np.sort(np.argsort(-self._counts, kind="stable")[: rows * most - 1])
        texts = self._shown_texts()
        columns = math.ceil(len(texts) / rows)
        if len(self.items) != len(texts) or self.columnCount != columns:  # else the same places: entries restyled
            self.clear()  # (a group that comes as another goes, a whole cluster labelled: 20 ms a rebuild)
            self.columnCount = columns
            for text in texts:
                self.addItem(pg.ScatterPlotItem(pen=None, size=10), text)
        for i, ((sample, label), text) in enumerate(zip(self.items, texts)):
            sample.item.setBrush(self._brushes[self._shown[i]] if i < len(self._shown) else pg.mkBrush(0, 0, 0, 0))
            sample.update()
            if label.text != text:
                label.setText(text)
            if i < len(self._shown):
                label.setToolTip(self._names[self._shown[i]])
            else:
                shown = set(self._shown.tolist())
                rest = [self._names[j] for j in range(n) if j not in shown]
                more = f"\n... and {len(rest) - _MORE_TIP_NAMES} more" if len(rest) > _MORE_TIP_NAMES else ""
                label.setToolTip("\n".join(rest[:_MORE_TIP_NAMES]) + more)
        self.layout.invalidate()
        width = max(self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).width(),
                    columns * self._column_width(self._shown_texts()))
        if columns == self._fitted[0]:
            width = max(width, self._fitted[1])
        self._fitted = (columns, math.ceil(width))
        layout.setColumnFixedWidth(_COLUMN, self._fitted[1])
