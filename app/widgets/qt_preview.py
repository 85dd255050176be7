"""The large preview: one image with zoom (wheel), pan (drag) and the model's crop outlined.

:class:`QtImageView` is the view; :class:`QtPreview` puts it above the display
stretch control and the galaxy's metadata (with RA and Dec when its FITS header
has a WCS).  The image is drawn on :func:`app.workers.render_pool` at most
:data:`PREVIEW_SIDE` pixels on its longest side (the full frame when smaller),
and a stretch change waits :data:`app.widgets.qt_thumbnails.REDRAW_DELAY_MS`
for the next one, so dragging a limit never holds the window.
"""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.qt_stretch import QtStretch
from app.widgets.qt_thumbnails import REDRAW_DELAY_MS, rgb_to_qimage
from core.images.display import Stretch, render
from core.images.io import FITS_SUFFIXES, ImageReadError
from core.images.preprocess import Preprocessing

PREVIEW_SIDE = 2048


class QtImageView(QGraphicsView):
    """One image, large: the wheel zooms about the cursor, a drag pans, a double-click fits it again.

    The square the model sees (the run's crop) is outlined with a dashed line.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#111111"))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        # Dragging pans; scroll bars would only take room and make "fit" depend on whether they show.
        for policy in (self.setHorizontalScrollBarPolicy, self.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setMinimumSize(160, 160)  # classify mode and the preview both fit a 768 px high screen
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.crop_item = QGraphicsRectItem()
        pen = QPen(QColor("#ffffff"), 0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.crop_item.setPen(pen)
        self.crop_item.setToolTip("What the model sees (the run's crop)")
        self.scene().addItem(self.crop_item)
        self.message = self.scene().addText("")
        self.message.setDefaultTextColor(QColor("#dddddd"))
        self._fitted = True

    def set_image(self, rgb: np.ndarray | None, crop: tuple[int, int, int, int] | None = None,
                  message: str = "No image", keep_view: bool = False) -> None:
        """Show ``rgb`` (None shows ``message``); ``crop`` is (left, top, width, height) to outline.

        ``keep_view`` keeps the zoom and pan (the same galaxy under a new stretch).
        """
        if rgb is None:
            self.item.setPixmap(QPixmap())
            self.crop_item.hide()
            self.message.setPlainText(message)
            self.message.show()
            self.scene().setSceneRect(self.message.boundingRect())
            self.resetTransform()
            return
        self.message.hide()
        self.item.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        h, w = rgb.shape[:2]
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        if crop is not None and crop[2] < w:
            self.crop_item.setRect(QRectF(*crop))
            self.crop_item.show()
        else:
            self.crop_item.hide()
        if not keep_view or self._fitted:
            self.fit()

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` about the view's anchor (between 1/8 and 32 times the pixels)."""
        scale = self.transform().m11() * factor
        if 0.125 <= scale <= 32:
            self.scale(factor, factor)
            self._fitted = False

    def zoom_level(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fitted:
            self.fit()


def crop_box(shape: tuple[int, ...], prep: Preprocessing | None) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) of the fixed crop of ``prep`` in an image of ``shape``; None for no crop.

    An automatic crop is outlined at its fallback fraction here: :func:`render_with_crop` gives it the image's own.
    """
    if prep is None or prep.crop == "none":
        return None
    h, w = shape[:2]
    side = max(8, int(round(min(h, w) * prep.crop_fraction)))
    return (w - side) // 2, (h - side) // 2, side, side


def render_with_crop(path: str, stretch: Stretch, prep: Preprocessing | None,
                     side: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """The preview's image of ``path`` and the box of the crop the model is given for it (on the render pool).

    Why: the automatic crop ("fitted to the central object") depends on the image, and the
    preview outlined its fallback fraction, 0.5, whatever the model was given: a galaxy the
    run framed at 0.2 of its frame showed a box more than twice the side of what the model saw.
    Found as the feature extraction finds it (:func:`core.images.display.model_crop`).
    """
    from core.images.display import model_crop

    rgb = render(path, stretch, None, side)
    if prep is not None and prep.crop == "auto":
        prep = model_crop(path, prep)
    return rgb, crop_box(rgb.shape, prep)


class QtPreview(QWidget):
    """A large, zoomable view of one image with the display stretch control and its metadata.

    Signals
    -------
    stretch_changed(Stretch)
        The user picked another display stretch (the grid follows it).
    """

    stretch_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QtImageView()
        self.stretch_control = QtStretch()
        # A drag on a limit fires many changes: draw (and tell the strip) once it rests.
        self._stretch_timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS)
        self._stretch_timer.timeout.connect(self._on_stretch)
        self.stretch_control.changed.connect(lambda _stretch: self._stretch_timer.start())
        self.meta = QLabel("")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        zoom_in, zoom_out, fit = QPushButton("+"), QPushButton("-"), QPushButton("Fit")
        for b, tip in ((zoom_in, "Zoom in (wheel)"), (zoom_out, "Zoom out (wheel)"), (fit, "Fit (double-click)")):
            b.setToolTip(tip)
            b.setMaximumWidth(44)
        zoom_in.clicked.connect(lambda: self.view.zoom(1.25))
        zoom_out.clicked.connect(lambda: self.view.zoom(0.8))
        fit.clicked.connect(self.view.fit)
        buttons = QHBoxLayout()
        for b in (zoom_in, zoom_out, fit):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.stretch_control)
        layout.addWidget(self.meta)
        self.path: str | None = None
        self.prep: Preprocessing | None = Preprocessing()
        self._meta = ""
        self._sky = ""
        self._drawing = 0  # the latest draw asked for; an older one that comes back is dropped
        self.drawn: tuple[str, Stretch] | None = None  # what the view shows now

    @property
    def stretch(self) -> Stretch:
        """The display stretch in use."""
        return self.stretch_control.stretch()

    def set_prep(self, prep: Preprocessing | None) -> None:
        """Outline the crop of ``prep`` (the run's) on the image."""
        self.prep = prep
        if self.path is not None:
            self._draw(keep_view=True)

    def show_image(self, path: str | None, meta: str = "") -> None:
        """Show ``path`` (None clears) and its metadata as rich text, with RA and Dec when it has a WCS.

        The same galaxy again (its label changed) keeps the zoom and pan.
        """
        same = path is not None and path == self.path
        self.path = path
        self._meta = meta
        if path is None:
            self._drawing += 1  # a draw still on its way must not bring the last galaxy back
            self.drawn = None
            self.view.set_image(None, message="No galaxy selected")
            self.meta.setText("")
            return
        if not same:
            self._sky = ""
        self._set_meta_text(meta)
        self._draw(keep_view=same)
        if not same and path.lower().endswith(FITS_SUFFIXES):
            self._read_sky(path)

    def _read_sky(self, path: str) -> None:
        """RA and Dec of the image centre from its FITS header, read on the render pool, shown when they come.

        On the GUI thread the first read imported ``astropy.wcs`` and froze the
        window 1.1 s (exploratory QA); a header on a slow disk would too.
        """
        from app.workers import render_pool
        from core.catalog.sky import wcs_centre

        def show(centre: tuple[float, float] | None) -> None:
            if path == self.path and centre is not None:  # still the galaxy shown (a new stretch is the same one)
                self._sky = f"<br>RA {centre[0]:.5f}, Dec {centre[1]:+.5f} (image centre, deg)"
                self._set_meta_text(self._meta)

        render_pool().submit(wcs_centre, path, on_result=show, stale=lambda: path != self.path)

    def _set_meta_text(self, meta: str) -> None:
        # A path wraps after each "/" (outside tags): a long one must not set the dock's width.
        self.meta.setText(re.sub(r"/(?![^<]*>)", "/\u200b", meta + self._sky))

    def set_meta(self, meta: str) -> None:
        """New words for the image shown (its label changed), without drawing it again."""
        self._meta = meta
        if self.path is not None:
            self._set_meta_text(meta)

    def _draw(self, keep_view: bool) -> None:
        """Draw the image on the render pool; the view follows when it comes back (if still wanted)."""
        from app.workers import render_pool

        self._drawing += 1
        ticket, path, stretch = self._drawing, self.path, self.stretch

        def show(drawn: tuple[np.ndarray, tuple[int, int, int, int] | None]) -> None:
            if ticket == self._drawing:
                self.view.set_image(drawn[0], drawn[1], keep_view=keep_view)
                self.drawn = (path, stretch)

        def fail(exc: BaseException) -> None:
            if ticket == self._drawing:
                text = str(exc) if isinstance(exc, ImageReadError) else f"{type(exc).__name__}: {exc}"
                self.view.set_image(None, message=f"Cannot show this image: {text}")
                self.drawn = (path, stretch)

        render_pool().submit(render_with_crop, path, stretch, self.prep, PREVIEW_SIDE, on_result=show, on_error=fail,
                             stale=lambda: ticket != self._drawing)

    def _on_stretch(self) -> None:
        stretch = self.stretch
        if self.path is not None:
            self._draw(keep_view=True)
        self.stretch_changed.emit(stretch)
