"""Key to next galaxy painted, in classify mode: median, p95 and max milliseconds per key.

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/labelling_latency.py [--keys 300] [--compare main]

Opens the real main window offscreen on 400 Galaxy Zoo images (200 elliptical,
200 spiral, linked from ``../shared/data/galaxy-zoo-kaggle``; without ../shared,
the built-in synthetic sample scaled up to 400), clusters them once (the
project is kept under ``.cache/benchmarks/`` for the next run), enters classify
mode on a strip of every image and presses the number keys through QTest, as a
user does.  Each key is timed from the press until the events it queued are
processed, which includes painting the next galaxy, its neighbours, the strip
and the map.  ``--compare REV`` first runs the same measurement on the code of
git revision ``REV`` (extracted to a temporary folder, the same images and
project) and prints both and their ratio, measured within one command.
It also counts Python's garbage collections during the keys, by thread: since
issue 21's eighth pass a window collects on the GUI thread only
(``app.collector.GuiThreadCollector``), where before most collections ran on the
render pool's threads and could destroy Qt objects there.
Absolute times depend on the machine's load (the 2-core machine is shared):
compare the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KAGGLE = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
CACHE = ROOT / ".cache" / "benchmarks"


def make_folder(n: int = 400) -> tuple[Path, str]:
    """The images: ``n`` Kaggle galaxies (half elliptical, half spiral) as links, or the synthetic sample."""
    if (KAGGLE / "labels.csv").exists():
        folder = CACHE / f"latency_kaggle{n}"
        if not folder.exists():
            import csv

            rows = list(csv.DictReader(open(KAGGLE / "labels.csv")))
            folder.mkdir(parents=True)
            for cls in ("elliptical", "spiral"):
                for r in [r for r in rows if r["morphology"] == cls][: n // 2]:
                    (folder / f"{r['GalaxyID']}.jpg").symlink_to(KAGGLE / "images" / f"{r['GalaxyID']}.jpg")
        return folder, f"{n} Galaxy Zoo images (200 elliptical, 200 spiral)"
    folder = CACHE / f"latency_sample{n}"
    if not folder.exists():
        from core.images.sample import make_sample

        make_sample(folder, per_class=-(-n // 3), size=256, seed=0)
    return folder, f"the synthetic sample scaled up to {len(list(folder.glob('*.png')))} images (no ../shared)"


def measure(folder: Path, keys: int) -> dict:
    """Open ``folder`` in the window (clustering it once), then time ``keys`` labelling keys in classify mode."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    w = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
    w.resize(1400, 900)
    w.show()
    done: list[str] = []
    w.jobs.finished.connect(lambda name, _r: done.append(name))
    w.jobs.failed.connect(lambda name, msg, _tb: done.append(f"failed {name}: {msg}"))

    def wait_job() -> None:
        while w.jobs.busy:
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()

    w.open_folder(folder)
    wait_job()
    p = w.project
    if p.run_id is None:
        s = w.run_settings
        s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
        s.method.setCurrentIndex(s.method.findData("kmeans"))
        s.n_clusters.setValue(2)
        w.start_clustering()
        wait_job()
    if p.run_id is None or p.features is None:
        raise SystemExit(f"could not cluster {folder}: {done}")
    for name in ("elliptical", "spiral"):
        if name not in p.class_names():
            p.add_class(name)
    p.set_labels(np.arange(len(p)), None)  # a fresh session each run
    w.set_classify_mode(True)
    w.labelling.show_list(np.arange(len(p)), "All galaxies")
    for _ in range(20):
        app.processEvents()
    order = [p.class_names().index(n) for n in ("elliptical", "spiral")]
    times = []
    collections = _CollectionLog()
    gc.callbacks.append(collections)
    for i in range(keys):
        if len(p.selection.indices) != 1:
            w.labelling.show_list(np.arange(len(p)), "All galaxies")
            app.processEvents()
        key = (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4)[order[i % 2]]
        t = time.perf_counter()
        QTest.keyClick(w, key)
        app.processEvents()  # the repaint of the next galaxy, its neighbours, the strip, the map
        times.append((time.perf_counter() - t) * 1000)
    gc.callbacks.remove(collections)
    labelled = sum(u is not None for u in p.user_labels)
    redraws = _CollectionLog()  # then the folder clustered again: a job on the pool's thread, the map redrawn
    gc.callbacks.append(redraws)
    for _ in range(3):
        w.start_clustering()
        wait_job()
    gc.callbacks.remove(redraws)
    p.set_labels(np.arange(len(p)), None)
    w.close()
    return {"keys": keys, "labelled": labelled, "median": statistics.median(times),
            "p95": float(np.percentile(times, 95)), "max": max(times), "images": len(p), "gc": collections.summary(),
            "gc_redraws": redraws.summary()}


class _CollectionLog:
    """A ``gc.callbacks`` entry: each collection's thread (the GUI's or another) and milliseconds."""

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.started: dict[int, float] = {}
        self.done: list[tuple[str, float]] = []

    def __call__(self, phase: str, info: dict) -> None:
        tid = threading.get_ident()
        if phase == "start":
            self.started[tid] = time.perf_counter()
        elif tid in self.started:
            self.done.append(("gui" if tid == self.main else "pool", 1000 * (time.perf_counter() - self.started.pop(tid))))

    def summary(self) -> dict:
        out = {}
        for where in ("gui", "pool"):
            ms = [m for w, m in self.done if w == where]
            out[where] = {"n": len(ms), "total_ms": float(sum(ms)), "max_ms": float(max(ms, default=0.0))}
        return out


def run_on(code: Path, folder: Path, keys: int) -> dict:
    """Measure with the app and core of another checkout (a subprocess importing from ``code``)."""
    out = subprocess.run([sys.executable, __file__, "--code", str(code), "--folder", str(folder), "--keys", str(keys),
                          "--json"], capture_output=True, text=True, cwd=code, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the run on {code} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def checkout(rev: str) -> Path:
    """The tracked files of ``rev`` in a temporary folder, with this checkout's model files linked in."""
    dest = Path(tempfile.mkdtemp(prefix="latency_")) / "code"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for model in (ROOT / "models").glob("*.onnx"):
        target = dest / "models" / model.name
        if not target.exists():
            target.symlink_to(model.resolve())
    return dest


def show(what: str, r: dict) -> None:
    print(f"{what:<22} median {r['median']:6.1f} ms   p95 {r['p95']:6.1f} ms   max {r['max']:6.1f} ms   "
          f"({r['keys']} keys, {r['labelled']} galaxies labelled)")
    for key, during in (("gc", "the keys"), ("gc_redraws", "3 clusterings")):
        g = r.get(key, {})
        if g:
            print(" " * 23 + f"garbage collections during {during}: " + ", ".join(
                f"{g[w]['n']} on {'the GUI thread' if w == 'gui' else 'pool threads'} ({g[w]['total_ms']:.0f} ms, "
                f"longest {g[w]['max_ms']:.1f})" for w in ("gui", "pool")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--compare", metavar="REV", help="also measure the code of this git revision (e.g. main)")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(args.code) if args.code else ROOT))
    folder, what = (Path(args.folder), "") if args.folder else make_folder()
    if args.json:
        print(json.dumps(measure(folder, args.keys)))
        return 0
    print(f"Key to next galaxy painted, classify mode, on {what}; load average {os.getloadavg()[0]:.1f}")
    before = None
    if args.compare:
        code = checkout(args.compare)
        try:
            before = run_on(code, folder, args.keys)
        finally:
            shutil.rmtree(code.parent, ignore_errors=True)
    after = run_on(ROOT, folder, args.keys)
    if before is not None:
        show(f"before ({args.compare})", before)
    show("after (this checkout)", after)
    if before is not None:
        print(f"ratio before/after     median {before['median'] / after['median']:.2f}x   "
              f"p95 {before['p95'] / after['p95']:.2f}x   max {before['max'] / after['max']:.2f}x")
    print("goal: median < 30 ms, p95 < 50 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
