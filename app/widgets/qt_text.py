"""Text that fits: a label narrower than its text (status bar, the strip's title), a long class name."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QComboBox, QDialog, QInputDialog, QLabel, QSizePolicy, QWidget

from core.vocabulary import NAME_CHARS, cut_middle

__all__ = ["NAME_CHARS", "NAME_PIXELS", "ElidedLabel", "ask_item", "cut_middle", "elided"]

#: A class name on a button (classify mode's answers) is at most this wide, cut in the middle.
NAME_PIXELS = 260


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


def elided(widget: QWidget, text: str, pixels: int = NAME_PIXELS) -> str:
    """``text`` as wide as ``pixels`` at most in ``widget``'s font, cut in the middle (a button's class name)."""
    return widget.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, pixels)


def ask_item(parent: QWidget, title: str, label: str, items: list[str], editable: bool = False) -> tuple[str, bool]:
    """Ask for one of ``items`` in a dialog no wider than :data:`NAME_PIXELS` needs, whatever their length.

    ``QInputDialog.getItem`` sized its box, and so the dialog, for the longest item: a
    300-character class name made the Merge dialog 2,181 px wide.  Here the box shows
    a long item cut in the middle, whole in its tooltip, and answers the whole item.

    Parameters
    ----------
    parent : QWidget
        The dialog's parent.
    title, label : str
        The dialog's title and question (cut the names in it with :func:`cut_middle`).
    items : list of str
        The choices, first one chosen.
    editable : bool
        Whether the user may type an answer of their own.

    Returns
    -------
    tuple of (str, bool)
        The answer and whether the user pressed OK.
    """
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setComboBoxItems(items)
    dialog.setComboBoxEditable(editable)
    combo = dialog.findChild(QComboBox)
    if combo is not None:
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(NAME_CHARS)
        combo.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for i, item in enumerate(items):
            combo.setItemData(i, item, Qt.ItemDataRole.ToolTipRole)
    try:
        ok = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.textValue(), ok
    finally:
        dialog.deleteLater()
