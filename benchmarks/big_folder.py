"""A big folder end to end: open, cluster, reopen, label and export N galaxies, with peak memory per stage.

One command::

    .venv/bin/python benchmarks/big_folder.py [--n 60000] [--method kmeans] [--folder DIR]

Writes N synthetic galaxies (``core.images.sample``, 64 px PNG, three classes) into
``--folder`` once (default ``.cache/benchmarks/big-<N>``; reused on later runs),
then runs what an astronomer does: cluster the folder with the default feature
model, reopen the project (clusters, labels and the cached features), label 200
galaxies one at a time (each one a durable write), undo one, and export the
catalogue.  After each stage it prints the wall time, the resident memory and
the process's peak so far (``VmHWM``), so the table says where the memory goes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.images.sample import make_sample  # noqa: E402
from core.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from core.project import Project  # noqa: E402


def _memory_mb() -> tuple[float, float]:
    """Resident and peak resident memory of this process, in MB (Linux ``/proc``)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = float(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="number of galaxies (default 60,000)")
    parser.add_argument("--method", default="kmeans", help="clustering method (default kmeans)")
    parser.add_argument("--folder", type=Path, help="where the synthetic folder is written (and reused)")
    args = parser.parse_args(argv)
    folder = args.folder or ROOT / ".cache" / "benchmarks" / f"big-{args.n}"
    rows: list[tuple[str, float, float, float]] = []

    def stage(name: str, start: float) -> None:
        rss, peak = _memory_mb()
        rows.append((name, time.perf_counter() - start, rss, peak))
        print(f"{name}: {rows[-1][1]:.1f} s, RSS {rss:.0f} MB, peak so far {peak:.0f} MB", flush=True)

    t = time.perf_counter()
    if not (folder / "labels.csv").is_file():
        make_sample(folder, per_class=args.n // 3, size=64, seed=0)
    stage(f"write {args.n} synthetic galaxies (once)", t)

    t = time.perf_counter()
    config = PipelineConfig(method=args.method, n_clusters=3)
    result = run_pipeline(folder, config)
    result.store.close()
    stage(f"cluster ({config.model} features, {args.method})", t)
    del result

    t = time.perf_counter()
    project = Project.open(folder)
    stage("reopen (run, labels, map)", t)
    t = time.perf_counter()
    project.reload_features()
    stage("reload the cached features", t)

    t = time.perf_counter()
    rng = np.random.default_rng(0)
    names = [c.name for c in project.classes]
    for row in rng.choice(len(project), 200, replace=False):
        project.set_labels([int(row)], names[int(row) % len(names)])
    project.undo()
    stage("label 200 galaxies one by one, undo one", t)

    t = time.perf_counter()
    out = folder.parent / f"big-{args.n}-catalogue.csv"
    project.export(out)
    project.close()
    stage("export the catalogue", t)

    print()
    print(f"| stage ({len(project)} images) | time (s) | RSS after (MB) | peak so far (MB) |")
    print("|---|---|---|---|")
    for name, seconds, rss, peak in rows:
        print(f"| {name} | {seconds:.1f} | {rss:.0f} | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
