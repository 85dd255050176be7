"""Text that fits: a label narrower than its text (status bar, the strip's title)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy


class ElidedLabel(QLabel):
    """A one-line label that may be narrower than its text: it ends in "…" and shows all of it as a tooltip.

    The status bar's texts ("Clustered 6,507 images in 3 min ...") must not set the window's width.
    """

    def __init__(self, text: str = "", minimum: int = 80) -> None:
        super().__init__(text)
        self._minimum = minimum
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt override)
        super().setText(text)
        self.setToolTip(text if text else "")

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self._minimum, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
