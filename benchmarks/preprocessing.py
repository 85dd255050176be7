"""Which crop, and are rotation-averaged features worth 8x the cost?

One command::

    .venv/bin/python benchmarks/preprocessing.py [--model efficientnet_lite0] [--limit N]

On the Kaggle elliptical/spiral images, for fixed centre crops of 0.3, 0.5,
0.7 and 1.0 of the frame, the automatic crop fitted to the central object, and
the 0.5 crop with 8-fold rotation/flip averaging, prints: a supervised figure
(5-fold cross-validated logistic-regression accuracy on the features), plain
k-means ACC and ARI (k=2), and extraction images/second, all measured in the
same run.  Clustering follows whatever varies most, so a crop can raise the
supervised figure and still leave k-means blind; both are shown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evaluate import DATA, supervised_reference  # noqa: E402
from core.catalog.truth import load_truth  # noqa: E402
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import FeatureModel, extract_features  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402

VARIANTS = {
    "fixed 0.3": Preprocessing("fixed", 0.3),
    "fixed 0.5": Preprocessing("fixed", 0.5),
    "fixed 0.7": Preprocessing("fixed", 0.7),
    "none (1.0)": Preprocessing("none"),
    "auto": Preprocessing("auto", 0.5),
    "fixed 0.5 + 8 rotations": Preprocessing("fixed", 0.5, rotations=True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N elliptical/spiral images")
    args = parser.parse_args(argv)
    truth = load_truth(DATA / "labels.csv")
    paths = sorted(p for p in (DATA / "images").glob("*.jpg") if truth.get(p.stem) in ("elliptical", "spiral"))
    if args.limit:
        paths = paths[: args.limit]
    y = np.array([truth[p.stem] for p in paths])
    model = FeatureModel(args.model)
    cache = FeatureCache(ROOT / ".cache" / "benchmarks" / "features")
    print(f"{len(paths)} images, {args.model} on {model.device}")
    print("| preprocessing | logistic regression (5-fold CV) | k-means ACC | k-means ARI | img/s (computed) |")
    print("|---|---|---|---|---|")
    for name, prep in VARIANTS.items():
        t = time.perf_counter()
        res = extract_features(paths, model, prep, cache=cache, batch_size=16)
        rate = f"{res.images_per_second:.1f}" if res.computed else "cached"
        sup = supervised_reference(res.features, y)
        km = evaluate(y, cluster_features(res.features, "kmeans", 2).labels)
        print(f"| {name} | {sup:.3f} | {km['acc']:.3f} | {km['ari']:.3f} | {rate} |  ({time.perf_counter() - t:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
