"""DEC's quality and speed on pre-extracted galaxy features: the paper's schedule against the fast one.

One command::

    .venv/bin/python benchmarks/dec_quality.py [--features PATH.npz] [--schedules paper,fast] [--subset both]

Reads an ``.npz`` with ``ids`` (GalaxyID strings) and ``features`` (fixed 0.5
crop, as written by the feature extraction of the benchmark data), joins them
to ``../shared/data/galaxy-zoo-kaggle/labels.csv`` and fits DEC (seed 0) on the
3,194 elliptical/spiral images (k=2) and on all 6,507 labelled ones (k=3) with
each schedule, and k-means (as ``core.clustering.methods`` runs it) on the same
rows; prints ACC under optimal matching, balanced ACC, ARI, NMI, the fit time,
the ratio of each DEC fit's time to k-means's and of the paper schedule's to the
fast one's, all from the same run (issue 22's budget: DEC under 10 s on 3,194 x
1,280 Lite0 features and on 6,500 x 64 galaxy_cnn features on a quiet CPU).
DEC never sees the labels, so every score is on unseen labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog.truth import load_truth  # noqa: E402
from core.clustering.dec import DEC, PAPER_SCHEDULE  # noqa: E402
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
FEATURES = Path("/work/features/kaggle_efficientnet_lite0.npz")
SCHEDULES: dict[str, dict[str, object]] = {"paper": dict(PAPER_SCHEDULE), "fast": {}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, default=FEATURES)
    parser.add_argument("--schedules", default="paper,fast")
    parser.add_argument("--subset", choices=("ell-spiral", "all", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.features.is_file() or not (DATA / "labels.csv").is_file():
        print(f"features {args.features} or labels {DATA / 'labels.csv'} not found", file=sys.stderr)
        return 2
    data = np.load(args.features)
    ids = [str(i) for i in data["ids"]]
    features = data["features"].astype(np.float32)
    truth = load_truth(DATA / "labels.csv")
    subsets = ["ell-spiral", "all"] if args.subset == "both" else [args.subset]
    print(f"features {args.features.name}: {features.shape}")
    print("| images | k | schedule | ACC | bal. ACC | ARI | NMI | fit (s) | iterations |")
    print("|---|---|---|---|---|---|---|---|---|")
    for subset in subsets:
        keep = np.array([truth.get(i) in ("elliptical", "spiral") if subset == "ell-spiral" else i in truth
                         for i in ids])
        X = features[keep]
        y = np.array([truth[i] for i, k in zip(ids, keep) if k])
        k = len(set(y))
        t = time.perf_counter()
        km = cluster_features(X, "kmeans", k, random_state=args.seed).labels
        t_km = time.perf_counter() - t
        s = evaluate(y, km)
        print(f"| {len(y)} | {k} | k-means | {s['acc']:.3f} | {s['balanced_acc']:.3f} | {s['ari']:.3f} "
              f"| {s['nmi']:.3f} | {t_km:.1f} | |", flush=True)
        times = {}
        for name in args.schedules.split(","):
            t = time.perf_counter()
            dec = DEC(k, random_state=args.seed, **SCHEDULES[name]).fit(X)
            times[name] = time.perf_counter() - t
            s = evaluate(y, dec.labels_)
            print(f"| {len(y)} | {k} | {name} | {s['acc']:.3f} | {s['balanced_acc']:.3f} | {s['ari']:.3f} "
                  f"| {s['nmi']:.3f} | {times[name]:.1f} ({times[name] / t_km:.1f}x k-means) | {dec.n_iter_} |",
              flush=True)
        if "paper" in times and "fast" in times:
            print(f"|  |  | paper/fast time ratio {times['paper'] / times['fast']:.1f}x | | | | | | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
