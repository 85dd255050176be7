"""Pixmaps drawn per labelling key without leaking references to ``None`` (issue 18).

With PySide6 6.11.3 on Python 3.11, the first QPainter on a new paint device (a
fresh QPixmap or QImage, by ``QPainter(device)`` or by ``begin(device)``) adds 6
references to ``None`` that are never given back; a device painted on before adds
none (``benchmarks/none_refcount.py`` shows both without any of our code).  The
strip frames the labelled galaxy's thumbnail anew on every key, so the count grew
by 6 a key.  :func:`framed_pixmap` paints on one reused canvas per size and hands
back a copy, which leaks nothing.  ``None`` is not freed on Python 3.11 while its
count stays above zero, so the leak was no crash, but the count must stay flat over
a session (the test of 2,000 keys).  GUI thread only, like every QPixmap.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

_CANVASES: dict[tuple[int, int], QImage] = {}
_MAX_CANVASES = 16  # thumbnail sizes in use at once are few; past this, start again


def framed_pixmap(width: int, height: int, background: QColor, draw: Callable[[QPainter], None]) -> QPixmap:
    """A ``width`` x ``height`` pixmap filled with ``background``, then ``draw(painter)`` on it.

    Parameters
    ----------
    width, height : int
        Size in pixels.
    background : QColor
        Fill before drawing (opaque: the canvas is reused, nothing of the last drawing may show).
    draw : callable
        Draws with the active painter it is given; must not end it.

    Returns
    -------
    QPixmap
        A new pixmap with the drawing, independent of the reused canvas.
    """
    key = (int(width), int(height))
    canvas = _CANVASES.get(key)
    if canvas is None:
        if len(_CANVASES) >= _MAX_CANVASES:
            _CANVASES.clear()
        canvas = _CANVASES[key] = QImage(key[0], key[1], QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(background)
    painter = QPainter(canvas)
    try:
        draw(painter)
    finally:
        painter.end()
    return QPixmap.fromImage(canvas)
