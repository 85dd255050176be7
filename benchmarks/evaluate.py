"""Quality and speed of every clustering method with both feature extractors.

One command::

    .venv/bin/python benchmarks/evaluate.py [--subset ell-spiral|all|both] [--models xception,efficientnet_lite0]

On ``../shared/data/galaxy-zoo-kaggle``: the 3,194 elliptical/spiral images
(k=2) and all 6,507 labelled images (k=3: elliptical, spiral, other).  Prints a
Markdown table of ACC (optimal matching), balanced ACC, ARI and NMI for each
method, the logistic-regression reference (5-fold cross-validated, the
supervised ceiling of the same features), the ratio of DEC's ACC to k-means's
measured in the same run, extraction images/second and wall time per stage.
Features are cached in ``.cache/benchmarks`` so a second run skips extraction.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache import FeatureCache  # noqa: E402
from core.cluster import cluster_features  # noqa: E402
from core.features import FeatureModel, extract_features, raw_pixel_features  # noqa: E402
from core.metrics import evaluate  # noqa: E402
from core.preprocess import Preprocessing  # noqa: E402
from core.truth import load_truth  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
METHODS = ("kmeans", "pca-kmeans", "agglomerative", "dbscan", "dec", "dec-paper", "dec-raw")
# The product's DEC standardises its input and keeps the reconstruction term
# (IDEC); "dec-paper" is Xie et al.'s form exactly (one global input scale, KL only).
VARIANTS = {"dec-paper": ("dec", {"standardise": False, "reconstruction_weight": 0.0})}


def linear_classifier():
    """The supervised reference of every benchmark: logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))


def supervised_reference(X: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """5-fold cross-validated accuracy of :func:`linear_classifier`."""
    from sklearn.model_selection import cross_val_score

    return float(cross_val_score(linear_classifier(), X, y, cv=5).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", choices=("ell-spiral", "all", "both"), default="both")
    parser.add_argument("--models", default="xception,efficientnet_lite0")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (quick look)")
    args = parser.parse_args(argv)
    if not (DATA / "labels.csv").is_file():
        print(f"data not found at {DATA}", file=sys.stderr)
        return 2
    truth = load_truth(DATA / "labels.csv")
    all_paths = sorted((DATA / "images").glob("*.jpg"))
    if args.limit:
        all_paths = all_paths[: args.limit]
    cache = FeatureCache(ROOT / ".cache" / "benchmarks" / "features")
    prep = Preprocessing()
    subsets = ["ell-spiral", "all"] if args.subset == "both" else [args.subset]
    lines = ["| images | k | features | method | ACC | bal. ACC | ARI | NMI | time (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    notes = []
    raw_cache: dict[str, np.ndarray] = {}
    for model_name in args.models.split(","):
        model = FeatureModel(model_name)
        t = time.perf_counter()
        ext = extract_features(all_paths, model, prep, cache=cache, batch_size=16)
        t_ext = time.perf_counter() - t
        notes.append(f"{model_name}: {len(ext.paths)} images, {ext.computed} computed "
                     f"({ext.images_per_second:.1f} img/s on {model.device}), {ext.cached} from cache, {t_ext:.1f} s")
        ids = [p.stem for p in ext.paths]
        for subset in subsets:
            keep = np.array([truth.get(i) in ("elliptical", "spiral") if subset == "ell-spiral" else i in truth
                             for i in ids])
            X = ext.features[keep]
            y = np.array([truth[i] for i, k in zip(ids, keep) if k])
            k = len(set(y))
            ref = supervised_reference(X, y, args.seed)
            lines.append(f"| {len(y)} | {k} | {model_name} | logistic regression (supervised, 5-fold CV) "
                         f"| {ref:.3f} | | | | |")
            scores = {}
            for method in args.methods.split(","):
                t = time.perf_counter()
                if method == "dec-raw":
                    if subset not in raw_cache:
                        kept_paths = [p for p, kk in zip(ext.paths, keep) if kk]
                        _, raw_cache[subset], _ = raw_pixel_features(kept_paths, prep)
                    data = raw_cache[subset]
                else:
                    data = X
                base, params = VARIANTS.get(method, (method, None))
                res = cluster_features(data, base, k, random_state=args.seed, dec_params=params)
                dt = time.perf_counter() - t
                s = evaluate(y, res.labels)
                scores[method] = s
                feats = "pixels 32x32" if method == "dec-raw" else model_name
                lines.append(f"| {len(y)} | {k} | {feats} | {method} | {s['acc']:.3f} | {s['balanced_acc']:.3f} "
                             f"| {s['ari']:.3f} | {s['nmi']:.3f} | {dt:.1f} |")
                for w in res.warnings:
                    notes.append(f"{subset}/{model_name}/{method}: {w}")
                print(lines[-1], flush=True)
            if "dec" in scores and "kmeans" in scores:
                ratio = scores["dec"]["acc"] / scores["kmeans"]["acc"]
                notes.append(f"{subset}/{model_name}: DEC/k-means ACC ratio {ratio:.2f}, "
                             f"ARI {scores['dec']['ari']:.3f} vs {scores['kmeans']['ari']:.3f}")
    print()
    print("\n".join(lines))
    print()
    for n in notes:
        print(f"- {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
