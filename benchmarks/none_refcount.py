"""References to ``None`` kept or dropped per Qt binding call, without any of the app's code (issue 18).

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/none_refcount.py [--calls 2000]

Prints, for the installed PySide6 and Python, how ``sys.getrefcount(None)`` moves per
call: void setters (PySide6 6.12.0 dropped one reference each, and the app aborted
with ``none_dealloc``), a QPainter on a new QPixmap or QImage (6.11.3 keeps 6
references each, never given back), a QPainter on a reused device (nothing), and
:func:`app.widgets.qt_paint.framed_pixmap`, which the strip and classify mode draw
their framed thumbnails with.  On Python 3.12+ ``None`` is immortal and every line
reads 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Mean change of None's reference count per call of ``fn`` (after one warm-up call)."""
    fn()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(calls):
        fn()
    gc.collect()
    return (sys.getrefcount(None) - before) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6
    from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
    from PySide6.QtWidgets import QApplication, QLineEdit

    from app.widgets.qt_paint import framed_pixmap

    app = QApplication.instance() or QApplication([])
    edit, reused = QLineEdit(), QPixmap(64, 64)

    def painter_on_new_pixmap() -> None:
        pix = QPixmap(64, 64)
        QPainter(pix).end()

    def begin_on_new_image() -> None:
        img = QImage(64, 64, QImage.Format.Format_RGB32)
        painter = QPainter()
        painter.begin(img)
        painter.end()

    cases = [
        ("QLineEdit.setText (void)", lambda: edit.setText("x")),
        ("QApplication.processEvents (void)", app.processEvents),
        ("QPainter(new QPixmap).end()", painter_on_new_pixmap),
        ("QPainter().begin(new QImage), end()", begin_on_new_image),
        ("QPainter(reused QPixmap).end()", lambda: QPainter(reused).end()),
        ("framed_pixmap(64, 64, ...)", lambda: framed_pixmap(64, 64, QColor("#202020"), lambda p: p.drawRect(2, 2, 60, 60))),
    ]
    print(f"None's reference count per call, PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}, "
          f"{args.calls} calls each")
    for name, fn in cases:
        print(f"  {name:<40} {per_call(fn, args.calls):+7.2f}")
    print("flat is 0.00: below 0 the binding drops references (a crash once the count reaches 0), "
          "above 0 it keeps them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
