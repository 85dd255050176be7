"""The display stretch control: curve, percentile limits, per-band limits and band choice.

It only changes what is shown (the grid, the preview, the classify view); the
features keep reading the images as they are (see :mod:`core.images.display`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox, QWidget

from core.images.display import STRETCHES, Stretch


class QtStretch(QWidget):
    """Pick the display stretch.

    Signals
    -------
    changed(Stretch)
        The user changed a setting; carries the new :class:`core.images.display.Stretch`.
    """

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItems(list(STRETCHES))
        self.kind.setToolTip("Display stretch. 'as read' shows what the feature model gets; linear, sqrt, log and "
                             "asinh map the pixel values between the two percentile limits; lupton composes three "
                             "bands (a FITS cube, or g/r/i files of one galaxy) into colour the way SDSS and HSC "
                             "colour images are made. Display only: the features never change.")
        self.lower = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=99.9, singleStep=0.5, value=0.5)
        self.upper = QDoubleSpinBox(decimals=2, minimum=0.1, maximum=100.0, singleStep=0.1, value=99.5)
        self.lower.setToolTip("Percentile of the pixel values shown black")
        self.upper.setToolTip("Percentile shown white (100 keeps the brightest core unsaturated)")
        self.per_band = QCheckBox("per band")
        self.per_band.setToolTip("Separate limits for each band (colour images and FITS cubes)")
        self.band = QSpinBox(minimum=-1, maximum=99, value=-1)
        self.band.setSpecialValueText("RGB")
        self.band.setToolTip("FITS cubes: RGB from three planes, or one plane in grey")
        # Two rows, so the preview dock stays narrow enough for a 1366 px wide screen.
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for col, w in enumerate((QLabel("Stretch"), self.kind, QLabel("band"), self.band)):
            layout.addWidget(w, 0, col)
        for col, w in enumerate((QLabel("limits %"), self.lower, self.upper, self.per_band)):
            layout.addWidget(w, 1, col)
        layout.setColumnStretch(4, 1)
        for signal in (self.kind.currentTextChanged, self.lower.valueChanged, self.upper.valueChanged,
                       self.per_band.toggled, self.band.valueChanged):
            signal.connect(self._on_changed)
        self._sync_enabled()

    def stretch(self) -> Stretch:
        """The stretch shown (limits put in order if the user crossed them)."""
        lo, hi = sorted((self.lower.value(), self.upper.value()))
        if hi <= lo:
            hi = min(100.0, lo + 0.1)
        return Stretch(self.kind.currentText(), lo, hi, self.per_band.isChecked(), self.band.value())

    def set_stretch(self, stretch: Stretch) -> None:
        """Show ``stretch`` (emits ``changed`` once)."""
        for w in (self.kind, self.lower, self.upper, self.per_band, self.band):
            w.blockSignals(True)
        self.kind.setCurrentText(stretch.kind)
        self.lower.setValue(stretch.lower)
        self.upper.setValue(stretch.upper)
        self.per_band.setChecked(stretch.per_band)
        self.band.setValue(stretch.band)
        for w in (self.kind, self.lower, self.upper, self.per_band, self.band):
            w.blockSignals(False)
        self._on_changed()

    def _sync_enabled(self) -> None:
        manual = self.kind.currentText() != "as read"
        for w in (self.lower, self.upper, self.per_band, self.band):
            w.setEnabled(manual)

    def _on_changed(self, *_args: object) -> None:
        self._sync_enabled()
        self.changed.emit(self.stretch())
