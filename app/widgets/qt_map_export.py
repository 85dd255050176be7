"""Saving the cluster map as PNG or SVG.

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


def export_plot(plot: pg.PlotWidget, path: str, background: str) -> str:
    """Save ``plot`` to ``path``, PNG or SVG by the extension; returns how it was written.

    Raises
    ------
    OSError
        When no file was written (a folder that does not exist, a full disk), so nothing
        claims a file that is not there.
    """
    from pyqtgraph.exporters import ImageExporter, SVGExporter

    target = Path(path)
    target.unlink(missing_ok=True)  # never leave (or report) an older file under the new name
    how = "PNG"
    if target.suffix.lower() == ".svg":
        try:
            SVGExporter(plot.plotItem).export(str(target))
            how = "SVG"
        except ValueError:
            render_svg(plot, target, background)
            how = "SVG (drawn by Qt: pyqtgraph's SVG exporter failed on this Qt version)"
    else:
        exporter = ImageExporter(plot.plotItem)
        exporter.parameters()["width"] = max(1200, int(plot.width()))
        exporter.export(str(target))
    if not target.is_file() or target.stat().st_size == 0:
        raise OSError(f"nothing was written to {target}")
    return how


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
