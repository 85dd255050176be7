"""Saving the cluster map as PNG, JPEG, TIFF, BMP or SVG.

pyqtgraph 0.14's SVG exporter cannot parse the path data Qt 6.7+ writes
(ValueError in ``correctCoordinates``: issue 18); the map then goes through Qt's
own ``QSvgGenerator`` with pyqtgraph's export mode on, which draws every point
as a vector path rather than a bitmap from the symbol atlas.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter
from PySide6.QtSvg import QSvgGenerator

#: What the map is saved as, by the file's extension (a name without one gets ``.png``).
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
           ".svg": "SVG"}


def export_plot(plot: pg.PlotWidget, path: str, background: str) -> tuple[Path, str]:
    """Save ``plot`` to ``path`` in the format its extension names; returns the file written and how.

    The image is written beside the target under a temporary name and moved
    over it only once whole, so a failed export keeps the file that was there
    (it used to be deleted first) and nothing claims a file that is not the new
    one.  A name without an extension gets ``.png``, the dialog's first choice
    (the status line named a file that was never written).

    Raises
    ------
    ValueError
        An extension that names no format the map is saved in (:data:`FORMATS`).
    OSError
        When no file was written (a folder that does not exist, a full disk).
    """
    from pyqtgraph.exporters import ImageExporter, SVGExporter

    target = Path(path)
    if not target.suffix:
        target = target.with_name(target.name + ".png")
    how = FORMATS.get(target.suffix.lower())
    if how is None:
        raise ValueError(f"{target.suffix} is not a format the map is saved in ({', '.join(sorted(set(FORMATS.values())))})")
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")  # the exporters pick the format by suffix
    try:
        if how == "SVG":
            try:
                SVGExporter(plot.plotItem).export(str(partial))
            except ValueError:
                render_svg(plot, partial, background)
                how = "SVG (drawn by Qt: pyqtgraph's SVG exporter failed on this Qt version)"
        else:
            exporter = ImageExporter(plot.plotItem)
            exporter.parameters()["width"] = max(1200, int(plot.width()))
            exporter.export(str(partial))
        if not partial.is_file() or partial.stat().st_size == 0:
            raise OSError(f"nothing was written to {target}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target, how


def render_svg(plot: pg.PlotWidget, target: Path, background: str) -> None:
    """Draw ``plot`` into an SVG file with Qt's own generator, every point a vector symbol, on ``background``."""
    from pyqtgraph.exporters import SVGExporter

    rect = plot.plotItem.sceneBoundingRect()
    out = QRectF(0, 0, rect.width(), rect.height())
    generator = QSvgGenerator()
    generator.setFileName(str(target))
    generator.setSize(QSize(int(rect.width()), int(rect.height())))
    generator.setViewBox(out)
    generator.setTitle("Galaxy Sorter map")
    modes = SVGExporter(plot.plotItem)
    modes.setExportMode(True, {"antialias": True, "background": QColor(background), "painter": None})
    painter = QPainter(generator)
    try:
        painter.fillRect(out, QColor(background))
        plot.scene().render(painter, out, rect)
    finally:
        painter.end()
        modes.setExportMode(False)
