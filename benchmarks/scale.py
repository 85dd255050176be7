"""How the heavy steps grow with the number of galaxies: 6k, 20k and 60k synthetic feature sets.

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/scale.py [--sizes 6000,20000,60000] [--dims 2048]
        [--steps dec,kmeans,tsne,map] [--dec-schedule fast|paper]

Builds seeded synthetic feature sets shaped like CNN features (n x 2,048,
three Gaussian groups on a non-negative background) and times, for each size:
DEC fit (the product's default schedule, or the paper's with
``--dec-schedule paper``), k-means (as ``core.clustering.methods`` runs it), t-SNE
(``core.clustering.projection``, PCA to 50-d then openTSNE) and the map (set data,
recolour all, recolour after one label: the widget's work and, in brackets,
with the repaint).  Prints one Markdown table with the peak resident memory of
the process after each size (sizes run smallest first, so it is that size's
peak) and the growth exponent b of time ~ n^b fitted to the sizes.  Wall times
on a shared CPU are noisy: the CPU seconds of the process are printed beside
DEC's wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_features(n: int, d: int, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of ``d`` non-negative features in ``k`` groups (float32) and the group of each row."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.gamma(2.0, 0.5, size=(k, d)).astype(np.float32)
    X = np.empty((n, d), np.float32)
    for s in range(0, n, 10_000):  # in blocks: a float64 60,000 x 2,048 temporary is 1 GB
        block = rng.standard_normal((min(10_000, n - s), d), dtype=np.float32)
        X[s : s + len(block)] = np.maximum(centres[y[s : s + len(block)]] + 0.8 * block, 0.0)
    return X, y


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _exponent(sizes: list[int], times: list[float]) -> float:
    if len(sizes) < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def _map_times(coords: np.ndarray, groups: np.ndarray) -> dict[str, tuple[float, float]]:
    """(widget, with repaint) seconds for set data, recolour all and recolour after one label."""
    import PySide6  # noqa: F401  (before pyqtgraph)
    from PySide6.QtWidgets import QApplication

    from app.widgets.qt_labels import cluster_color
    from app.widgets.qt_map import QtClusterMap

    app = QApplication.instance() or QApplication([])
    k = int(groups.max()) + 1
    colors = {c: cluster_color(c) for c in range(k + 1)}
    w = QtClusterMap()
    w.resize(1200, 800)
    w.show()
    app.processEvents()

    def timed(fn) -> tuple[float, float]:
        t = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        app.processEvents()
        return t1 - t, time.perf_counter() - t

    out = {"set": min(timed(lambda: w.set_points(coords, groups, colors)) for _ in range(2))}
    out["recolour"] = min(timed(lambda g=(groups + i) % k: w.set_colors(g, colors)) for i in (1, 2))
    one = ((groups + 2) % k).copy()

    def label(i: int) -> None:
        one[i] = k  # a new class, as when the astronomer labels a galaxy
        w.set_colors(one, colors)

    out["one"] = min(timed(lambda i=i: label(i)) for i in range(3))
    w.close()
    w.deleteLater()
    app.processEvents()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6000,20000,60000")
    parser.add_argument("--dims", type=int, default=2048)
    parser.add_argument("--steps", default="dec,kmeans,tsne,map")
    parser.add_argument("--dec-schedule", choices=("fast", "paper"), default="fast")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch
    from sklearn.metrics import adjusted_rand_score

    from core.clustering.dec import PAPER_SCHEDULE
    from core.clustering.methods import cluster_features
    from core.clustering.projection import project

    sizes = [int(s) for s in args.sizes.split(",")]
    steps = args.steps.split(",")
    dec_params = dict(PAPER_SCHEDULE) if args.dec_schedule == "paper" else None
    rows: dict[str, list[str]] = {}
    times: dict[str, list[float]] = {}
    print(f"synthetic {args.dims}-d features, k=3, seed {args.seed}; torch {torch.__version__} on "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)

    def record(name: str, seconds: float, text: str | None = None) -> None:
        rows.setdefault(name, []).append(text or f"{seconds:.2f}")
        times.setdefault(name, []).append(seconds)
        print(f"  {name}: {text or f'{seconds:.2f} s'}", flush=True)

    for n in sizes:
        print(f"n = {n}", flush=True)
        X, y = synthetic_features(n, args.dims, seed=args.seed)
        if "dec" in steps:
            t, c = time.perf_counter(), time.process_time()
            res = cluster_features(X, "dec", 3, random_state=args.seed, dec_params=dec_params)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            ari = adjusted_rand_score(y, res.labels)
            record(f"DEC fit ({args.dec_schedule}), s [CPU s, ARI]", wall, f"{wall:.1f} [{cpu:.0f}, {ari:.2f}]")
        if "kmeans" in steps:
            t = time.perf_counter()
            cluster_features(X, "kmeans", 3, random_state=args.seed)
            record("k-means, s", time.perf_counter() - t)
        if "tsne" in steps or "map" in steps:
            t = time.perf_counter()
            coords = project(X, "tsne", random_state=args.seed) if "tsne" in steps else project(X, "pca")
            if "tsne" in steps:
                record("t-SNE (PCA 50 + openTSNE), s", time.perf_counter() - t)
        if "map" in steps:
            m = _map_times(coords, y)
            for key, name in (("set", "map set data"), ("recolour", "map recolour all"),
                              ("one", "map recolour after one label")):
                widget, total = m[key]
                record(f"{name}, ms (with repaint)", widget, f"{widget * 1000:.1f} ({total * 1000:.0f})")
        rows.setdefault("peak memory (process RSS), MB", []).append(f"{_peak_mb():.0f}")
        del X

    print()
    print("| step | " + " | ".join(f"n = {n:,}" for n in sizes) + " | growth exponent |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for name, cells in rows.items():
        exp = _exponent(sizes, times[name]) if name in times else float("nan")
        print(f"| {name} | " + " | ".join(cells) + f" | {'' if np.isnan(exp) else f'{exp:.2f}'} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores; above 2 means other jobs shared the CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
