"""The round report's pictures: the reliability diagram and the learning curve.

:func:`reliability_image` and :func:`curve_image` draw with QPainter into a
QImage, so the round report shows exactly the picture the benchmark saves as a
PNG (``benchmarks/label_efficiency.py --plots DIR``); :class:`LearningCurve` is
the small pyqtgraph plot of the round report: the estimated accuracy after
each round with its 95% interval, so the user sees when more answers stop paying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


class _Axes:
    """A plot area mapping data (x0..x1, y0..y1) to pixels, with ticks and labels."""

    def __init__(self, painter: QPainter, w: int, h: int, x: tuple[float, float], y: tuple[float, float]) -> None:
        self.p, self.x, self.y = painter, x, y
        self.rect = QRectF(64, 28, w - 76, h - 72)

    def at(self, x: float, y: float) -> QPointF:
        r = self.rect
        return QPointF(r.left() + (x - self.x[0]) / (self.x[1] - self.x[0]) * r.width(),
                       r.bottom() - (y - self.y[0]) / (self.y[1] - self.y[0]) * r.height())

    def frame(self, title: str, xlabel: str, ylabel: str, xticks: Sequence[float], yticks: Sequence[float]) -> None:
        p, r = self.p, self.rect
        p.setPen(QPen(QColor("black"), 1))
        p.drawRect(r)
        for t in xticks:
            pt = self.at(t, self.y[0])
            p.drawLine(pt, pt + QPointF(0, 4))
            p.drawText(QRectF(pt.x() - 25, pt.y() + 5, 50, 16), Qt.AlignmentFlag.AlignCenter, f"{t:g}")
        for t in yticks:
            pt = self.at(self.x[0], t)
            p.drawLine(pt, pt - QPointF(4, 0))
            p.drawText(QRectF(pt.x() - 46, pt.y() - 8, 40, 16), Qt.AlignmentFlag.AlignRight, f"{t:g}")
        p.drawText(QRectF(r.left(), r.bottom() + 22, r.width(), 18), Qt.AlignmentFlag.AlignCenter, xlabel)
        p.drawText(QRectF(0, 4, r.right(), 20), Qt.AlignmentFlag.AlignCenter, title)
        p.save()
        p.translate(10, r.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-r.height() / 2, -8, r.height(), 16), Qt.AlignmentFlag.AlignCenter, ylabel)
        p.restore()


def _image(w: int, h: int) -> tuple[QImage, QPainter]:
    img = QImage(w, h, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return img, painter


def reliability_image(table: Sequence[tuple[float, float, int]], ece: float, title: str = "Reliability",
                      size: tuple[int, int] = (380, 320)) -> QImage:
    """A reliability diagram: per confidence bin, how often the labels were right, against the diagonal.

    ``table`` is (mean confidence, accuracy, count) per bin
    (:func:`core.learning.calibration.reliability`); a bar's width grows with its
    count.  Bars on the diagonal are calibrated; below it the confidences
    overstate what the model knows.
    """
    w, h = size
    img, p = _image(w, h)
    lo = 0.5 if all(c >= 0.5 for c, _a, _n in table) else 0.0
    ax = _Axes(p, w, h, (lo, 1.0), (0.0, 1.0))
    p.setPen(QPen(QColor("#888888"), 1, Qt.PenStyle.DashLine))
    p.drawLine(ax.at(lo, lo), ax.at(1.0, 1.0))
    total = max(1, sum(n for _c, _a, n in table))
    for conf, acc, n in table:
        half = (1.0 - lo) / 20 * (0.35 + 0.65 * min(1.0, 4 * n / total))
        top, base = ax.at(conf - half, acc), ax.at(conf + half, 0.0)
        p.fillRect(QRectF(top, base), QColor(31, 119, 180, 170))
        p.setPen(QPen(QColor("#d62728"), 2))
        p.drawLine(ax.at(conf - half, conf), ax.at(conf + half, conf))
    ticks = [lo + i * (1 - lo) / 5 for i in range(6)]
    ax.frame(f"{title} (ECE {ece:.3f})", "confidence (red: where the bar should reach)", "fraction right",
             [round(t, 2) for t in ticks], [0, 0.25, 0.5, 0.75, 1.0])
    p.end()
    return img


def curve_image(series: Mapping[str, Sequence[tuple[float, float, float, float]]], title: str = "Learning curve",
                size: tuple[int, int] = (480, 320)) -> QImage:
    """Learning curves: per series, (answers, value, low, high) points joined by a line, with interval bars.

    The benchmark draws the estimate with its interval and the true accuracy
    (its low = high = value); the x axis is the number of answers, logarithmic.
    """
    import math

    w, h = size
    img, p = _image(w, h)
    pts = [pt for s in series.values() for pt in s if all(math.isfinite(v) for v in pt)]
    xs = [math.log10(max(1.0, pt[0])) for pt in pts] or [0.0, 1.0]
    ys = [v for pt in pts for v in pt[1:]] or [0.0, 1.0]
    y0, y1 = max(0.0, min(ys) - 0.02), min(1.0, max(ys) + 0.02)
    if y1 - y0 < 0.05:
        y0, y1 = max(0.0, y1 - 0.05), min(1.0, y0 + 0.05)
    ax = _Axes(p, w, h, (min(xs) - 0.08, max(xs) + 0.08), (y0, y1))
    for i, (name, s) in enumerate(series.items()):
        colour = QColor(_COLOURS[i % len(_COLOURS)])
        p.setPen(QPen(colour, 2))
        good = [pt for pt in s if all(math.isfinite(v) for v in pt)]
        line = [ax.at(math.log10(max(1.0, n)), v) for n, v, _lo, _hi in good]
        for a, b in zip(line, line[1:]):
            p.drawLine(a, b)
        for n, v, lo, hi in good:
            x = math.log10(max(1.0, n))
            p.drawLine(ax.at(x, lo), ax.at(x, hi))
            p.drawEllipse(ax.at(x, v), 3, 3)
        legend_top = ax.rect.bottom() - 6 - 16 * len(series)  # lower right: the curves run high
        p.drawText(QRectF(ax.rect.left() + 8, legend_top + 16 * i, ax.rect.width() - 16, 16),
                   Qt.AlignmentFlag.AlignRight, name)
    xt = sorted({round(pt[0]) for pt in pts})
    p.setPen(QPen(QColor("black"), 1))
    step = (y1 - y0) / 4
    ax.frame(title, "answers (log scale)", "accuracy", [], [round(y0 + i * step, 3) for i in range(5)])
    for n in xt:
        pt = ax.at(math.log10(max(1.0, n)), y0)
        p.drawText(QRectF(pt.x() - 25, pt.y() + 5, 50, 16), Qt.AlignmentFlag.AlignCenter, str(n))
    p.end()
    return img


class LearningCurve(pg.PlotWidget):
    """The estimated accuracy after each round, with its 95% interval, over the number of labels."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("learning_curve")
        self.setMinimumHeight(160)
        self.setLabel("bottom", "your labels")
        self.setLabel("left", "estimated accuracy")
        self.points: list[tuple[int, float, float, float]] = []

    def set_points(self, points: Sequence[tuple[int, float, float, float]]) -> None:
        """Draw (labels, estimate, low, high) per round; rounds without an estimate are left out."""
        import numpy as np

        self.clear()
        self.points = [tuple(pt) for pt in points if all(np.isfinite(v) for v in pt)]  # type: ignore[misc]
        if not self.points:
            return
        n, v, lo, hi = (np.array(c, float) for c in zip(*self.points))
        self.addItem(pg.ErrorBarItem(x=n, y=v, top=hi - v, bottom=v - lo, beam=0.0, pen=pg.mkPen("#1f77b4")))
        self.plot(n, v, pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=6, symbolBrush="#1f77b4")
        self.setYRange(max(0.0, float(lo.min()) - 0.02), min(1.0, float(hi.max()) + 0.02))
        # ticks at the rounds' own label counts: around a first round's single point pyqtgraph ticked
        # fractions of a label (8.6 ... 9.4); past a dozen rounds its own ticks read better
        rounds = sorted({int(round(x)) for x in n})
        self.getAxis("bottom").setTicks([[(r, str(r)) for r in rounds]] if len(rounds) <= 12 else None)
        pad = max(1.0, 0.05 * float(n.max() - n.min()))
        self.setXRange(float(n.min()) - pad, float(n.max()) + pad, padding=0)
