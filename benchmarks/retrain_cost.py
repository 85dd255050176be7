"""Does the app's Retrain cost what the benchmark's round costs?  Three timings of one round, same run.

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/retrain_cost.py [--n 10000] [--labels 100]

Writes N synthetic galaxies (``core.images.sample``, 64 px PNG, three classes) into
``.cache/benchmarks/retrain-<N>`` once, clusters them with DEC and the default
feature model, answers ``--labels`` galaxies with their true class, then times
one fine-tuning round three ways on the same project:

* ``finetune_round``: the call ``benchmarks/label_efficiency.py`` times
  (features and labels as arrays);
* ``Project.finetune``: what the app's Retrain runs (file names, classes,
  the store's encoder path), on this thread;
* ``window Retrain``: the app itself (an offscreen ``MainWindow``): the
  Retrain action's job on the worker thread, from the press until the round
  is applied, stored and reported (the event loop running meanwhile).

Issue 12 asked for the app's round to cost what the benchmark's does (it had
once taken 10x as long); the ratios printed are window / finetune_round and
Project / finetune_round.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog.truth import load_truth  # noqa: E402
from core.images.sample import make_sample  # noqa: E402
from core.learning.finetune import finetune_round  # noqa: E402
from core.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from core.project import Project  # noqa: E402


def _label(project: Project, truth: dict[str, str], n: int, seed: int = 0) -> None:
    """Answer ``n`` random galaxies with their true class (one stored change)."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = {}
    for row in rng.choice(len(project), n, replace=False):
        by_class.setdefault(truth[project.names[int(row)]], []).append(int(row))
    for name, rows in by_class.items():
        project.set_labels(rows, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of galaxies (default 10,000)")
    parser.add_argument("--labels", type=int, default=100, help="answers before the round (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per way (the median is printed)")
    args = parser.parse_args(argv)
    folder = ROOT / ".cache" / "benchmarks" / f"retrain-{args.n}"
    if not (folder / "labels.csv").is_file():
        make_sample(folder, per_class=args.n // 3, size=64, seed=0)
    truth = load_truth(folder / "labels.csv")
    store = folder / ".galaxy-sorter"
    if not store.exists():
        t = time.perf_counter()
        result = run_pipeline(folder, PipelineConfig(method="dec", n_clusters=3))
        result.store.close()
        print(f"clustered {args.n} galaxies with DEC in {time.perf_counter() - t:.0f} s (once; reused later)")

    project = Project.open(folder)
    project.features = project.reload_features()[0].features  # what the app does when the job returns
    if not any(u is not None for u in project.user_labels):
        _label(project, truth, args.labels)
    n_labelled = sum(u is not None for u in project.user_labels)
    enc = project.encoder_path(base=True)
    times: dict[str, list[float]] = {"finetune_round": [], "Project.finetune": [], "window Retrain": []}
    # one untimed round first: imports and first-call costs are not the round's
    finetune_round(project.features, enc, list(project.user_labels), prev_clusters=project.clusters,
                   class_order=project.class_names())
    for _ in range(args.repeats):
        t = time.perf_counter()
        finetune_round(project.features, enc, list(project.user_labels), prev_clusters=project.clusters,
                       class_order=project.class_names())
        times["finetune_round"].append(time.perf_counter() - t)
        t = time.perf_counter()
        project.finetune()
        times["Project.finetune"].append(time.perf_counter() - t)
    project.close()

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(folder.parent / f"retrain-{args.n}-settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.show()
    window.open_folder(folder)

    def wait_for(job: str, timeout_s: float = 600.0) -> None:
        loop = QEventLoop()
        done: list[str] = []

        def finished(name: str, _result: object) -> None:
            if name == job:
                done.append(name)
                # the result is applied by on_result, connected before this slot: leave after it ran
                QTimer.singleShot(0, loop.quit)

        window.jobs.finished.connect(finished)
        window.jobs.failed.connect(lambda name, message, _hint, _tb: (print(f"{name} failed: {message}"), loop.quit()))
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        window.jobs.finished.disconnect(finished)
        if not done:
            raise SystemExit(f"the window's {job} job did not finish")

    if window.project.features is None:
        wait_for("load-features")
    for _ in range(args.repeats):
        t = time.perf_counter()
        window.retrain()
        wait_for("retrain")
        times["window Retrain"].append(time.perf_counter() - t)
        box = getattr(window, "last_round_box", None)
        if box is not None:
            box.close()
        window.project.undo()  # back to the DEC run, so every round starts from the same state
    window.close()
    app.processEvents()

    base = float(np.median(times["finetune_round"]))
    print(f"\n{args.n} galaxies, {n_labelled} labelled, {args.repeats} rounds each way; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| way | median s | all (s) | ratio to finetune_round |")
    print("|---|---|---|---|")
    for name, values in times.items():
        med = float(np.median(values))
        print(f"| {name} | {med:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {med / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
