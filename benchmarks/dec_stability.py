"""DEC against k-means over several seeds on the three labelled sets of the default model (issue 24).

One command::

    .venv/bin/python benchmarks/dec_stability.py [--seeds 0,1,2,3,4] [--sets hsc,sdss,kaggle] [--inits input-mixture,embedding]
    .venv/bin/python benchmarks/dec_stability.py --fractions   # true vs estimated class fractions

Extracts the default model's features (fixed 0.5 crop; cached in
``.cache/benchmarks/features``) of GC1-HSC and GC1-SDSS (771 galaxies, 582
spiral : 189 non-spiral) and of the Kaggle test split's ellipticals and spirals
(628, never trained on), then fits k-means (as ``benchmarks/evaluate.py`` does)
and the default DEC with each ``--inits`` value (``input-mixture`` is the
default since issue 24, ``embedding`` the paper's start that the default used
before) for every seed, k=2.  Each DEC fit is also scored with the paper's
argmax assignment (``... argmax`` rows; ``DEC(assign="argmax")``, the default
before issue 24's third round), which differs from the default
``assign="start-fractions"`` in the final step only, so one fit gives both.
Prints balanced ACC / ARI / cluster sizes per seed, then mean, min-max and
spread (max - min) per set and method, all from the same run.  DEC never sees
the labels.
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
from core.clustering.dec import DEC  # noqa: E402
from core.clustering.dec_objective import student_t  # noqa: E402
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import DEFAULT_MODEL, FeatureModel, extract_features, load_model  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {
    "hsc": (DATA / "galaxy-cruise-gc1" / "hsc", DATA / "galaxy-cruise-gc1" / "labels.csv"),
    "sdss": (DATA / "galaxy-cruise-gc1" / "sdss", DATA / "galaxy-cruise-gc1" / "labels.csv"),
    "kaggle": (DATA / "galaxy-zoo-kaggle" / "images", DATA / "galaxy-zoo-kaggle" / "labels.csv"),
}


def set_paths(name: str) -> tuple[list[Path], dict[str, str]]:
    """The images of one set and its labels by image id (Kaggle: the test split's ellipticals and spirals,
    images galaxy_cnn never saw)."""
    folder, labels = SETS[name]
    truth = load_truth(labels)
    paths = sorted(p for p in folder.iterdir() if p.stem in truth)
    if name == "kaggle":
        sys.path.insert(0, str(ROOT / "models"))
        from train_galaxy_net import split_of

        paths = [p for p in paths if split_of(p.stem) == "test" and truth[p.stem] in ("elliptical", "spiral")]
    return paths, truth


def load_set(name: str, model: FeatureModel, cache: FeatureCache) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one set (:func:`set_paths`)."""
    paths, truth = set_paths(name)
    ext = extract_features(paths, model, Preprocessing(), cache=cache, batch_size=64)
    return ext.features, np.array([truth[p.stem] for p in ext.paths])


def fractions(sets: list[str], model: FeatureModel, cache: FeatureCache) -> int:
    """Print the larger class's true fraction against each method's (seed 0), on each set and skewed Kaggle draws."""
    from core.clustering.prior import prior_mixture

    data = {name: load_set(name, model, cache) for name in sets}
    if "kaggle" in data:
        X, y = data["kaggle"]
        rng = np.random.default_rng(0)
        sp, el = np.flatnonzero(y == "spiral"), np.flatnonzero(y == "elliptical")
        for n_sp, n_el in ((549, 61), (237, 79), (79, 79), (26, 79)):
            idx = np.sort(np.r_[rng.choice(sp, n_sp, replace=False), rng.choice(el, n_el, replace=False)])
            data[f"kaggle {n_sp}:{n_el}"] = (X[idx], y[idx])
    print("| set | larger class | true | k-means | gmm (weight) | DEC (default) | DEC bal. ACC / ARI |")
    print("|---|---|---|---|---|---|---|")
    for name, (X, y) in data.items():
        big = max(set(y), key=lambda c: (y == c).sum())
        share = {}
        for method in ("kmeans", "dec"):
            labels = cluster_features(X, method, 2, random_state=0).labels
            share[method] = float(np.bincount(labels, minlength=2).max() / len(labels))
        mix = prior_mixture(X, 2, random_state=0)
        s = evaluate(y, labels)
        print(f"| {name} ({len(y)}) | {big} | {np.mean(y == big):.3f} | {share['kmeans']:.3f} "
              f"| {mix.weights.max():.3f} | {share['dec']:.3f} | {s['balanced_acc']:.3f} / {s['ari']:.3f} |", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--sets", default="hsc,sdss,kaggle")
    parser.add_argument("--inits", default="input-mixture,embedding")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "benchmarks" / "features")
    parser.add_argument("--hidden-dims", default="auto",
                        help="DEC's network: 'auto' (the default) or sizes, e.g. 256,256,512,10 (FAST_DIMS)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"the feature model (default {DEFAULT_MODEL})")
    parser.add_argument("--fractions", action="store_true",
                        help="instead: true vs estimated class fractions (seed 0) on each set and skewed Kaggle draws")
    args = parser.parse_args(argv)
    missing = [str(SETS[s][1]) for s in args.sets.split(",") if not SETS[s][1].is_file()]
    if missing:
        print(f"data not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",")]
    model = load_model(args.model, use_gpu=False)
    cache = FeatureCache(args.cache)
    if args.fractions:
        return fractions(args.sets.split(","), model, cache)
    summary = ["| set | method | bal. ACC mean [min-max] | spread | ARI mean [min-max] | spread | fit (s) |",
               "|---|---|---|---|---|---|---|"]
    dims = args.hidden_dims if args.hidden_dims == "auto" else tuple(map(int, args.hidden_dims.split(",")))
    for name in args.sets.split(","):
        X, y = load_set(name, model, cache)
        runs: dict[str, list[tuple[float, float, float]]] = {}
        for seed in seeds:
            t = time.perf_counter()
            fits = {"kmeans": cluster_features(X, "kmeans", 2, random_state=seed).labels}
            secs = {"kmeans": time.perf_counter() - t}
            for init in args.inits.split(","):
                t = time.perf_counter()
                dec = DEC(2, random_state=seed, init=init, hidden_dims=dims).fit(X)
                secs[f"dec init={init}"] = secs[f"dec init={init} argmax"] = time.perf_counter() - t
                fits[f"dec init={init}"] = dec.labels_
                # The same fit assigned by the paper's argmax (the default before issue 24's third round):
                # assign only acts after training, so the two rows differ in the final step alone.
                if not (dec.cluster_weights_ == 1).all():
                    fits[f"dec init={init} argmax"] = student_t(dec.transform(X), dec.cluster_centers_, dec.alpha).argmax(1)
            for method, labels in fits.items():
                s = evaluate(y, labels)
                runs.setdefault(method, []).append((s["balanced_acc"], s["ari"], secs[method]))
                print(f"{name} ({len(y)}) {method} seed {seed}: bal. ACC {s['balanced_acc']:.3f} ARI {s['ari']:.3f} "
                      f"sizes {sorted(np.bincount(labels).tolist(), reverse=True)} ({secs[method]:.1f} s)", flush=True)
        for method, rows in runs.items():
            bal, ari, fit_s = (np.array(c) for c in zip(*rows))
            summary.append(f"| {name} | {method} | {bal.mean():.3f} [{bal.min():.3f}-{bal.max():.3f}] "
                           f"| {np.ptp(bal):.3f} | {ari.mean():.3f} [{ari.min():.3f}-{ari.max():.3f}] "
                           f"| {np.ptp(ari):.3f} | {fit_s.mean():.1f} |")
    print()
    print(f"{model.name} features, seeds {args.seeds}, k=2")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
