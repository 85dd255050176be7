"""Widgets that fit what they show into the room they are given (classify mode on a 1366x768 screen).

Qt gives a word-wrapped label or a flowing row of buttons the height their
width needs only when it lays them out; the minimum it reports upwards is for
a guessed width.  Squeezed below the real need, the layout drew them over
their neighbours (the model's guess over the galaxy, answer buttons clipped
to half their height).  These keep their minimum height equal to the height
their actual width needs, so the window gives them that room.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items left to right at their preferred widths, wrapping to as many rows as the width needs.

    Each row is stretched to the full width, its extra pixels shared out equally, so
    the rows line up.  ``itemAt``/``count``/``takeAt`` behave as in any layout.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt override)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt override)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt override)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt override)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt override)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt override)
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt override)
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.sizeHint())  # a button narrower than its text would clip it
        return size

    def _rows(self, width: int) -> list[list[QLayoutItem]]:
        rows: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in (i for i in self._items if not i.isEmpty()):
            w = item.sizeHint().width()
            if rows[-1] and used + self.spacing() + w > width:
                rows.append([])
                used = 0
            used += w + (self.spacing() if rows[-1] else 0)
            rows[-1].append(item)
        return [r for r in rows if r]

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (when ``move``); the height they take."""
        space = self.spacing()
        y = rect.y()
        for row in self._rows(rect.width()):
            height = max(item.sizeHint().height() for item in row)
            extra = rect.width() - sum(item.sizeHint().width() for item in row) - space * (len(row) - 1)
            x = rect.x()
            for k, item in enumerate(row):
                w = item.sizeHint().width() + max(0, extra) * (k + 1) // len(row) - max(0, extra) * k // len(row)
                if move:
                    item.setGeometry(QRect(QPoint(x, y), QSize(w, height)))
                x += w + space
            y += height + space
        return max(0, y - space - rect.y())


class FlowPanel(QWidget):
    """A widget holding a :class:`FlowLayout` whose minimum height is what its width needs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = FlowLayout(self)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def fit(self) -> None:
        """Take the height the buttons need at this width (call after adding or removing some)."""
        height = self.flow.heightForWidth(max(self.width(), self.flow.minimumSize().width()))
        if height != self.minimumHeight():
            self.setMinimumHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit()


class WrappingLabel(QLabel):
    """A word-wrapped label whose minimum height is what its text needs at its width (never drawn over)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt override)
        """Show ``text`` and take the height it needs."""
        super().setText(text)
        self.fit()

    def fit(self) -> None:
        """Keep the minimum height equal to the text's height at the current width."""
        height = self.heightForWidth(self.width()) if self.width() > 0 else -1
        if height > 0 and height != self.minimumHeight():
            self.setMinimumHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit()


class ResizeWatcher(QWidget):
    """A plain container that calls ``on_resize()`` after each of its resizes (to fit what it holds)."""

    def __init__(self, on_resize: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_resize = on_resize

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.on_resize()
