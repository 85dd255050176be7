"""The main window on a 1366 x 768 laptop screen (issue 18): ``docs/screenshot-1366x768.png``.

One command (offscreen; no display needed)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshot_1366.py [--limit 300]

Links (never copies) the first ``--limit`` elliptical and spiral images of
``../shared/data/galaxy-zoo-kaggle`` into a scratch folder (the one
``docs/make_screenshots.py`` uses, so cached features are reused), clusters them
with k-means (k=2) on EfficientNet-Lite0 features, shows cluster 0 in the strip
at 128 px under an asinh stretch with one galaxy labelled, and grabs the window
at 1366 x 768, the size of the commonest laptop screen; ``--classify`` saves
classify mode as well (``docs/screenshot-1366x768-classify.png``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

from docs.make_screenshots import DATA, linked_sample, open_and_cluster, settle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--classify", action="store_true", help="classify mode too")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from app.workers import render_pool
    from core.catalog.truth import load_truth

    truth = load_truth(DATA / "labels.csv")
    app = QApplication.instance() or QApplication([])
    folder, tmp = linked_sample(args.limit, truth)
    w = open_and_cluster(app, folder, tmp / "s1366.ini", (1366, 768), "efficientnet_lite0", "kmeans", 2)
    w.show_cluster(0)
    p = w.project
    first = int(w.grid.rows()[0])
    w.label_selection(truth[p.names[first]])  # as its number key does: labels it and moves on to the next
    w.grid.size_slider.setValue(128)
    w.preview.stretch_control.kind.setCurrentText("asinh")

    def drawn() -> None:
        for _ in range(200):
            settle(app, 3)
            if not render_pool().pending() and not w.preview._stretch_timer.isActive():
                break
        settle(app)

    drawn()
    print(f"window {w.width()}x{w.height()}, minimum {w.minimumSizeHint().width()}x{w.minimumSizeHint().height()}")
    w.grab().save(str(ROOT / "docs" / "screenshot-1366x768.png"))
    if args.classify:
        w.classify_action.trigger()
        drawn()
        w.grab().save(str(ROOT / "docs" / "screenshot-1366x768-classify.png"))
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
