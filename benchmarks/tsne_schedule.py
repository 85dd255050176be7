"""How long t-SNE must run: time and map quality of three schedules on real galaxy features, one run.

One command::

    .venv/bin/python benchmarks/tsne_schedule.py [--features PATH.npz]

Reads pre-extracted features (``ids``, ``features``; default the Kaggle
images' EfficientNet-Lite0 features) and the Galaxy Zoo morphology labels
from ``../shared/data/galaxy-zoo-kaggle/labels.csv``, reduces them as the app
does (standardise, 50-d PCA) and runs openTSNE with perplexity 30 for each
schedule (early-exaggeration iterations + normal iterations).  For each it
prints the time and two quality figures of the 2-D map: the share of each
galaxy's 10 nearest neighbours in the 50-d space that stay among its 10
nearest on the map (2,000 seeded galaxies), and the 5-fold accuracy of a
10-nearest-neighbour classifier of the morphology on the map (the labels are
used only to score).  The app's schedule is 250 + 250 (``core.clustering.projection.tsne``).
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

LABELS = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle" / "labels.csv"
SCHEDULES = ((250, 500), (250, 250), (125, 250))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, default=Path("/work/features/kaggle_efficientnet_lite0.npz"))
    args = parser.parse_args(argv)
    if not args.features.is_file() or not LABELS.is_file():
        print(f"needs {args.features} (ids, features) and {LABELS}", file=sys.stderr)
        return 2
    from openTSNE import TSNEEmbedding, affinity, initialization
    from sklearn.decomposition import PCA
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

    data = np.load(args.features)
    ids, X = data["ids"].astype(str), data["features"].astype(np.float32)
    truth = load_truth(LABELS)
    y = np.array([truth.get(i, "") for i in ids])
    Z = (X - X.mean(0)) / (X.std(0) + 1e-6)
    R = PCA(50, random_state=0).fit_transform(Z)
    probe = np.random.default_rng(1).choice(len(R), min(2000, len(R)), replace=False)
    high = NearestNeighbors(n_neighbors=11).fit(R).kneighbors(R[probe], return_distance=False)[:, 1:]

    def quality(E: np.ndarray) -> tuple[float, float]:
        low = NearestNeighbors(n_neighbors=11).fit(E).kneighbors(E[probe], return_distance=False)[:, 1:]
        kept = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(high, low)]))
        return kept, float(cross_val_score(KNeighborsClassifier(10), E, y, cv=5).mean())

    base = float(cross_val_score(KNeighborsClassifier(10), R, y, cv=5).mean())
    print(f"{len(R)} galaxies, {args.features.name}; 10-NN morphology accuracy in the 50-d PCA: {base:.3f}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| schedule (early + normal) | time (s) | 10-NN kept | 10-NN morphology ACC on the map |")
    print("|---|---|---|---|")
    times = {}
    for early, late in SCHEDULES:
        t = time.perf_counter()
        aff = affinity.PerplexityBasedNN(R, perplexity=30, n_jobs=-1, random_state=0)
        emb = TSNEEmbedding(initialization.pca(R, random_state=0), aff, n_jobs=-1, random_state=0)
        emb = emb.optimize(early, exaggeration=12, momentum=0.5).optimize(late, exaggeration=1, momentum=0.8)
        times[(early, late)] = time.perf_counter() - t
        kept, acc = quality(np.asarray(emb))
        print(f"| {early} + {late} | {times[(early, late)]:.1f} | {kept:.3f} | {acc:.3f} |", flush=True)
    print(f"- time of 250 + 250 / 250 + 500: {times[(250, 250)] / times[(250, 500)]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
