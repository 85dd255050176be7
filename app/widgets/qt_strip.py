"""The list model and view under the thumbnail strip, kept cheap for a million rows.

Qt's icon-mode view asks the model about nearly every row it lays out, marks or
repaints, so what it asks must not reach Python and what reaches Python must be
the rows on screen: the row count is answered in C++ (:class:`StripModel`), a
selection is handed over as one range per contiguous run of display positions,
a large selection change repaints the visible strip instead of measuring every
selected row (:class:`StripView`), and a change of frames names the rows on
screen (:func:`visible_span`).  Before this, Edit > Select all on 200,000
galaxies made 1.2 million Python ``rowCount`` calls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QItemSelection, QModelIndex, QStringListModel, Qt
from PySide6.QtGui import QIcon, QPixmap, QRegion
from PySide6.QtWidgets import QListView

FEW_ROWS = 64  # a selection change of up to this many rows repaints just their thumbnails


class StripModel(QStringListModel):
    """Image indices in display order; the data are the framed thumbnails and the tooltips.

    A string list model of empty strings, one per thumbnail, for its ``rowCount``: Qt's
    icon-mode layout asks it twice for every row of a new list, and a Python ``rowCount``
    made that 1.3 s for a million galaxies (two million calls into Python); this one
    answers in C++.  Only ``data`` and ``flags``, asked for the thumbnails on screen, are
    Python's.

    Parameters
    ----------
    decorated : callable(int) -> QPixmap
        The framed thumbnail of an image index.
    describe : callable() -> callable(int) -> str or None
        The tooltip maker of the moment (the strip's ``describe``, which a project replaces).
    parent : QObject, optional
    """

    FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren

    def __init__(self, decorated: Callable[[int], QPixmap], describe: Callable[[], Callable[[int], str] | None],
                 parent=None) -> None:
        super().__init__(parent)
        self._decorated = decorated
        self._describe = describe
        self.rows = np.zeros(0, np.int64)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:  # noqa: D102 (Qt override)
        # Not the string list's (editable, draggable): a double click would open a text box on a thumbnail.
        return self.FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: D102 (Qt override)
        if not index.isValid():
            return None
        row = int(self.rows[index.row()])
        if role == Qt.ItemDataRole.DecorationRole:
            # An icon whose selected look is its own pixels: from a bare pixmap the view draws a selected
            # thumbnail tinted with the highlight colour, a blue galaxy on the one the keys act on.
            pix = self._decorated(row)
            icon = QIcon(pix)
            icon.addPixmap(pix, QIcon.Mode.Selected)
            return icon
        if role == Qt.ItemDataRole.ToolTipRole:
            describe = self._describe()
            return describe(row) if describe else None
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def set_rows(self, rows: np.ndarray) -> None:
        """Show image indices ``rows`` in this order (a model reset: the view's selection empties)."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == self.rowCount():
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()
        else:
            self.rows = rows  # read from the reset on: setStringList resets the model
            self.setStringList([""] * len(rows))

    def runs(self, positions: np.ndarray) -> QItemSelection:
        """A selection of the display ``positions`` (ascending), one range per contiguous run.

        Qt keeps, compares and repaints a selection range by range: a run of 60,000
        thumbnails is one range, not 60,000.
        """
        selection = QItemSelection()
        if len(positions):
            breaks = np.flatnonzero(np.diff(positions) != 1)
            starts, stops = np.r_[positions[0], positions[breaks + 1]], np.r_[positions[breaks], positions[-1]]
            for start, stop in zip(starts.tolist(), stops.tolist()):
                selection.select(self.index(start), self.index(stop))
        return selection


def visible_span(view: QListView) -> tuple[int, int] | None:
    """First and last display positions of the thumbnails on screen, or None if none is.

    The strip lays its thumbnails out in reading order (``view.flow()``), so the ones
    on screen are one run of positions: two binary searches over ``visualRect`` find it
    in some 40 look-ups.  A change said over the whole list made Qt go through all its
    rows (and 25,000 changes said one by one, as many repaints).
    """
    model = view.model()
    count = model.rowCount() if model is not None else 0
    if not count or not view.isVisible():
        return None
    viewport = view.viewport().rect()
    across = view.flow() == QListView.Flow.TopToBottom  # lines of thumbnails run down: they follow one another across
    extent = viewport.width() if across else viewport.height()

    def ends(pos: int) -> tuple[int, int]:
        rect = view.visualRect(model.index(pos, 0))
        return (rect.left(), rect.right()) if across else (rect.top(), rect.bottom())

    def first_where(test: Callable[[int], bool]) -> int:
        low, high = 0, count  # the first position in [0, count] that passes (count: none does)
        while low < high:
            mid = (low + high) // 2
            if test(mid):
                high = mid
            else:
                low = mid + 1
        return low

    first = first_where(lambda pos: ends(pos)[1] >= 0)
    last = first_where(lambda pos: ends(pos)[0] >= extent) - 1
    return (first, last) if first <= last else None


class StripView(QListView):
    """A ``QListView`` that repaints only the on-screen part of a large selection change.

    Qt's own ``visualRegionForSelection`` in icon mode measures every selected (and
    deselected) row, for a repaint of the few dozen thumbnails on screen: one galaxy
    clicked after Select all at a million galaxies took 140 ms for it, and with the
    row count in Python three calls into Python a row.
    """

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:  # noqa: N802 (Qt override)
        """The area to repaint for ``selection``: its thumbnails if few, else the visible strip."""
        rows = 0
        for selected in selection:
            rows += selected.height()
            if rows > FEW_ROWS:
                return QRegion(self.viewport().rect())
        return super().visualRegionForSelection(selection) if rows else QRegion()
