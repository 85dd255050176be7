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
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

from docs.make_screenshots import DATA, settle, wait  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--classify", action="store_true", help="classify mode too")
    args = parser.parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow
    from app.workers import render_pool
    from core.catalog.truth import load_truth

    truth = load_truth(DATA / "labels.csv")
    paths = [p for p in sorted((DATA / "images").glob("*.jpg")) if truth.get(p.stem) in ("elliptical", "spiral")]
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.gettempdir()) / "galaxy-sorter-screenshots"
    folder = tmp / f"galaxy-zoo-sample-{args.limit}"
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths[: args.limit]:
        if not (folder / p.name).exists():
            (folder / p.name).symlink_to(p)
    for old in (folder / ".galaxy-sorter").glob("project.sqlite*"):
        old.unlink()  # no run and no labels; the feature cache stays
    w = MainWindow(settings=QSettings(str(tmp / "s1366.ini"), QSettings.Format.IniFormat))
    w.resize(1366, 768)
    w.show()
    w.open_folder(folder)
    s = w.run_settings
    s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(2)
    w.start_clustering()
    wait(app, w, "cluster")
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
