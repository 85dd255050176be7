"""Screenshots of the main window at work on real galaxies (for the README).

One command (offscreen; no display needed)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [--limit 600] [--model xception]

Links (never copies) the first ``--limit`` elliptical and spiral images of
``../shared/data/galaxy-zoo-kaggle`` into a scratch folder (kept in the temporary
directory, so a second run reuses its cached features), opens it in the
app, clusters with DEC (k=2) on the features of ``--model`` (by default the app's
own choice, "Automatic": :data:`core.features.extract.DEFAULT_MODEL` for these colour
images, :func:`core.features.bands.choose_model`), draws the t-SNE map, labels the
suggested galaxies with their Galaxy Zoo class, retrains once, and saves
``docs/screenshot-clusters.png`` and ``docs/screenshot-labelling.png``; then
classify mode (``screenshot-classify.png``), the preview under an asinh stretch,
zoomed (``screenshot-stretch.png``), the cluster x truth table with the labels
file loaded in the app (``screenshot-table.png``) and a montage of the first
cluster's most confident galaxies (``montage-cluster-0.png``).  Each grab waits
until the window is drawn (:func:`drawn`): the thumbnails it shows rendered on the
render pool, no debounced redraw still due.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"


def wait(app, window, name: str, timeout: float = 1800) -> None:
    """Spin the event loop until job ``name`` finishes (or fail loudly)."""
    done: list[str] = []
    window.jobs.finished.connect(lambda n, _r: done.append(n))
    window.jobs.failed.connect(lambda n, m, _t: done.append(f"failed: {m}"))
    t = time.time()
    while name not in done:
        app.processEvents()
        time.sleep(0.02)
        if any(d.startswith("failed") for d in done):
            raise RuntimeError(done)
        if time.time() - t > timeout:
            raise TimeoutError(name)


def linked_sample(limit: int, truth: dict[str, str]) -> tuple[Path, Path]:
    """A scratch folder linking the first ``limit`` elliptical and spiral Kaggle images; (folder, scratch dir).

    The folder is kept between runs so its store caches the features; its
    project database is removed, so every run starts with no run and no labels.
    """
    paths = [p for p in sorted((DATA / "images").glob("*.jpg")) if truth.get(p.stem) in ("elliptical", "spiral")]
    tmp = Path(tempfile.gettempdir()) / "galaxy-sorter-screenshots"
    folder = tmp / f"galaxy-zoo-sample-{limit}"
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths[:limit]:
        if not (folder / p.name).exists():
            (folder / p.name).symlink_to(p)
    for old in (folder / ".galaxy-sorter").glob("project.sqlite*"):
        old.unlink()
    return folder, tmp


def open_and_cluster(app, folder: Path, settings: Path, size: tuple[int, int], model: str,
                     method: str | None = None, k: int | None = None):
    """A ``MainWindow`` of ``size`` with its own settings file, ``folder`` opened and clustered; the window."""
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = MainWindow(settings=QSettings(str(settings), QSettings.Format.IniFormat))
    w.resize(*size)
    w.show()
    w.open_folder(folder)
    s = w.run_settings
    s.model.setCurrentIndex(s.model.findData(model))
    if method is not None:
        s.method.setCurrentIndex(s.method.findData(method))
    if k is not None:
        s.n_clusters.setValue(k)
    w.start_clustering()
    wait(app, w, "cluster")
    return w


def settle(app, rounds: int = 10) -> None:
    """Let Qt lay out and paint."""
    for _ in range(rounds):
        app.processEvents()
        time.sleep(0.02)


def busy(widget) -> list[str]:
    """What ``widget`` still has to draw: renders pending on the render pool, debounce timers running.

    The thumbnails (the strip, classify mode's neighbours) and the preview are drawn on
    :func:`app.workers.render_pool` once painted; a stretch, size, legend or table change
    redraws after a short single-shot timer.  Empty when all of that is done.
    """
    from PySide6.QtCore import QTimer

    from app.workers import render_pool

    left = [f"{render_pool().pending()} render(s)"] if render_pool().pending() else []
    return left + [f"timer of {t.parent().__class__.__name__}" for t in widget.findChildren(QTimer)
                   if t.isActive() and t.isSingleShot() and t.interval() <= 1000]


def drawn(app, widget, timeout: float = 120) -> None:
    """Spin the event loop until ``widget`` is fully drawn, ready to grab (or fail loudly).

    Each pass paints ``widget`` offscreen (``grab``: the thumbnails it shows are asked
    for then), waits for the render pool and hands its results to the widgets; done when
    three passes in a row find nothing left to draw (:func:`busy`).
    """
    from app.workers import render_pool

    t, quiet = time.time(), 0
    while quiet < 3:
        widget.grab()
        app.processEvents()
        if busy(widget):
            quiet = 0
            render_pool().wait(50)
            time.sleep(0.01)
            app.processEvents()
        else:
            quiet += 1
        if time.time() - t > timeout:
            raise TimeoutError(f"still drawing after {timeout:.0f} s: {busy(widget)}")


def shoot_workflow(app, w, labels_csv: Path) -> None:
    """Classify mode, the stretch control, the cluster x truth table and a montage (issue 9)."""
    import shutil

    docs = ROOT / "docs"
    p = w.project
    w.set_color_mode("cluster")
    w.show_cluster(0)
    w.set_classify_mode(True)
    for _ in range(len(p)):  # on the first galaxy still to label, what classify mode is for
        if p.user_labels[w.classify.row] is None or w.grid.row_after(w.classify.row) < 0:
            break
        w.classify.next()
    drawn(app, w)
    w.grab().save(str(docs / "screenshot-classify.png"))
    w.set_classify_mode(False)
    w.show_cluster(1)
    control = w.preview.stretch_control
    control.kind.setCurrentText("asinh")
    control.lower.setValue(1.0)
    control.upper.setValue(99.9)
    w.docks["Preview"].setMinimumWidth(520)
    drawn(app, w)
    w.preview.view.zoom(1.6)
    drawn(app, w)
    w.docks["Preview"].grab().save(str(docs / "screenshot-stretch.png"))
    control.kind.setCurrentText("as read")
    w.docks["Preview"].setMinimumWidth(0)
    w.catalogue.load_truth(str(labels_csv))
    while w.catalogue.table.reading:  # the truth file is read off the GUI thread
        app.processEvents()
        time.sleep(0.02)
    w.docks["Cluster x label"].setMinimumHeight(260)
    drawn(app, w)
    w.docks["Cluster x label"].grab().save(str(docs / "screenshot-table.png"))
    print(w.catalogue.table.scores.text())
    out = Path(tempfile.mkdtemp(prefix="montages-"))
    w.catalogue.export_montages(str(out), per_cluster=25)
    wait(app, w, "montages")
    first = sorted(out.glob("montage_0_*.png"))[0]
    shutil.copyfile(first, docs / "montage-cluster-0.png")
    print(f"{len(list(out.glob('*.png')))} montages in {out}; {len(p)} images")


def main(argv: list[str] | None = None) -> int:
    from core.features.bands import AUTO
    from core.features.extract import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--model", default=AUTO, help=f"feature model (default: {AUTO}, the app's own choice: "
                        f"{DEFAULT_MODEL} for colour images)")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from core.catalog.truth import load_truth

    truth = load_truth(DATA / "labels.csv")
    app = QApplication.instance() or QApplication([])
    folder, tmp = linked_sample(args.limit, truth)
    t = time.time()
    w = open_and_cluster(app, folder, tmp / "s.ini", (1500, 950), args.model)
    print(f"clustered {len(w.project)} images on {w.project.config().model} features ({args.model}) "
          f"in {time.time() - t:.0f} s")
    w.run_settings.projection.setCurrentIndex(w.run_settings.projection.findData("tsne"))
    w.reproject("tsne")
    wait(app, w, "project")
    w.show_cluster(0)
    drawn(app, w)
    w.grab().save(str(ROOT / "docs" / "screenshot-clusters.png"))
    p = w.project
    w.suggest_next(20)
    wait(app, w, "suggest")
    rows = w.grid.rows()
    for r in rows:
        p.set_labels([r], truth[p.names[r]])
    w.retrain()
    wait(app, w, "retrain")
    if getattr(w, "last_round_box", None) is not None:
        w.last_round_box.close()
    w.set_color_mode("label")
    w.review_moved()
    drawn(app, w)
    w.grab().save(str(ROOT / "docs" / "screenshot-labelling.png"))
    print(p.last_round.summary())
    shoot_workflow(app, w, DATA / "labels.csv")
    w.close()
    print(f"screenshots made in {time.time() - t:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
