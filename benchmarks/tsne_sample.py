"""t-SNE past 100,000 points (issue 22): a 50,000 sample mapped, the rest placed by openTSNE's transform.

One command::

    .venv/bin/python benchmarks/tsne_sample.py [--points 150000]

Synthetic 50-d blobs (8 clusters, seeded; 50-d is what the map's t-SNE gets
after its PCA step).  Prints the time of the sample's t-SNE and of the placing
of the rest (from the progress callbacks of the same run), the placing's rate,
a linear extrapolation to 1,000,000 points from those measured figures, and
how well the placed points sit with their own cluster: the 10-nearest-neighbour
accuracy of their cluster from the sample's points on the 2-D map.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=150_000)
    args = parser.parse_args(argv)
    from sklearn.datasets import make_blobs
    from sklearn.neighbors import KNeighborsClassifier

    from core.clustering.projection import TSNE_SAMPLE, TSNE_SAMPLE_ABOVE, tsne

    n = args.points
    X, y = make_blobs(n, n_features=50, centers=8, cluster_std=2.0, random_state=0)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    placing_from: list[float] = []

    def progress(fraction: float, message: str) -> None:
        if "placing" in message and not placing_from:
            placing_from.append(time.perf_counter() - t0)

    out = tsne(X, random_state=0, progress=progress)
    total = time.perf_counter() - t0
    rows = np.sort(np.random.default_rng(0).choice(n, TSNE_SAMPLE, replace=False)) if n > TSNE_SAMPLE_ABOVE \
        else np.arange(n)
    rest = np.setdiff1d(np.arange(n), rows)
    first = placing_from[0] if placing_from else total
    print(f"t-SNE of {n:,} points x 50 (load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} CPUs):")
    print(f"  t-SNE of the {len(rows):,}-point sample: {first:8.1f} s")
    if len(rest):
        rate = (total - first) / len(rest)
        acc = KNeighborsClassifier(10).fit(out[rows], y[rows]).score(out[rest], y[rest])
        print(f"  placing the other {len(rest):,}:     {total - first:8.1f} s ({rate * 1e6:.0f} us per point)")
        print(f"  total:                            {total:8.1f} s")
        print(f"  extrapolated to 1,000,000 points: {first + rate * (1_000_000 - len(rows)):8.1f} s "
              f"(the sample's t-SNE plus 950,000 x the measured rate)")
        print(f"  placed points: cluster by 10-NN of the sample on the map {acc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
