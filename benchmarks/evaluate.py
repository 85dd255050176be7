"""Quality and speed of every clustering method, on any labelled folder of images.

One command::

    .venv/bin/python benchmarks/evaluate.py [--data FOLDER] [--truth CSV] [--label-column NAME]
        [--subset ell-spiral|all|both | --classes A,B] [--split all|train|test]
        [--models galaxy_cnn,efficientnet_lite0,xception] [--methods kmeans,gmm,dec,...]

By default on ``../shared/data/galaxy-zoo-kaggle``: the elliptical/spiral images
(k=2) and all labelled images (k=3: elliptical, spiral, other).  ``--split test``
keeps the Kaggle test split that ``models/train_galaxy_net.py`` never trains on
(SHA-1 of the id, bucket >= 80 of 100).  Any other folder works: its images are
``FOLDER/images/*.jpg`` or ``FOLDER/*.jpg``, the labels ``--truth`` (default
``FOLDER/labels.csv``, else the parent's), e.g. GALAXY CRUISE::

    .venv/bin/python benchmarks/evaluate.py --data ../shared/data/galaxy-cruise-gc1/sdss \
        --truth ../shared/data/galaxy-cruise-gc1/labels.csv --subset all

Prints a Markdown table of ACC (optimal matching), balanced ACC, ARI and NMI for
each method, the logistic-regression reference (5-fold cross-validated
predictions: ACC and balanced ACC, the supervised ceiling of the same
features), the ratio of DEC's ACC to k-means's measured in the same run,
extraction images/second and wall time per stage.  Features are cached in
``.cache/benchmarks`` so a second run skips extraction; ``--precomputed`` reads
them from ``.npz`` files (arrays ``ids``, ``features``) instead.
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
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import FeatureModel, extract_features, raw_pixel_features  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
METHODS = ("kmeans", "pca-kmeans", "gmm", "agglomerative", "dbscan", "dec", "dec-paper", "dec-raw")
# The product's DEC standardises its input and keeps the reconstruction term
# (IDEC); "dec-paper" is Xie et al.'s form exactly (one global input scale, KL only).
VARIANTS = {"dec-paper": ("dec", {"standardise": False, "reconstruction_weight": 0.0})}


def linear_classifier(class_weight: str | None = None):
    """The supervised reference of every benchmark: logistic regression on standardised features.

    ``class_weight="balanced"``: each class weighs the same in the fit, the probe of a
    score that weighs each class the same (balanced accuracy); see :func:`supervised_probe`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1, class_weight=class_weight))


def supervised_reference(X: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """5-fold cross-validated accuracy of :func:`linear_classifier`."""
    from sklearn.model_selection import cross_val_score

    return float(cross_val_score(linear_classifier(), X, y, cv=5).mean())


def supervised_probe(X: np.ndarray, y: np.ndarray, balanced: bool = False) -> tuple[float, float]:
    """ACC and balanced ACC of 5-fold cross-validated :func:`linear_classifier` predictions.

    ``balanced``: the classifier fitted class-balanced.  The plain fit maximises accuracy, so on a
    75 : 25 or 87 : 13 folder it gives up recall of the rare class that balanced accuracy counts;
    what the features *can* separate at the balanced score's own operating point is the
    class-balanced fit's (issue 24: both are printed, the goal counted on each).
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    clf = linear_classifier("balanced" if balanced else None)
    pred = cross_val_predict(clf, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    return float(accuracy_score(y, pred)), float(balanced_accuracy_score(y, pred))


def find_images(folder: Path) -> list[Path]:
    """Images of a folder: ``FOLDER/images/*.jpg|png`` when that exists, else ``FOLDER/*.jpg|png``."""
    base = folder / "images" if (folder / "images").is_dir() else folder
    return sorted(p for p in base.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def kaggle_split(ids: list[str]) -> list[str]:
    """The fixed train/test split of ``models/train_galaxy_net.py`` for each id."""
    sys.path.insert(0, str(ROOT / "models"))
    from train_galaxy_net import split_of

    return [split_of(i) for i in ids]


def load_precomputed(pattern: str, model_name: str, ids: list[str]) -> np.ndarray | None:
    """Rows of ``pattern.format(model=...)`` (``ids``, ``features``) for ``ids``; None if any is missing."""
    path = Path(pattern.format(model=model_name))
    if not path.is_file():
        return None
    data = np.load(path)
    index = {str(i): r for r, i in enumerate(data["ids"])}
    if not all(i in index for i in ids):
        return None
    return data["features"][[index[i] for i in ids]].astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="image folder (or one holding images/)")
    parser.add_argument("--truth", type=Path, default=None, help="labels CSV (default FOLDER/labels.csv)")
    parser.add_argument("--label-column", default=None, help="label column of the CSV (default: the second)")
    parser.add_argument("--subset", choices=("ell-spiral", "all", "both"), default="both",
                        help="ell-spiral keeps the elliptical and spiral labels only")
    parser.add_argument("--classes", default="", help="keep only these labels (comma-separated)")
    parser.add_argument("--split", choices=("all", "train", "test"), default="all",
                        help="Kaggle split of models/train_galaxy_net.py (test: never trained on)")
    parser.add_argument("--models", default="xception,efficientnet_lite0")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--precomputed", default="", help="npz pattern with {model}, e.g. feats/kaggle_{model}.npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (quick look)")
    parser.add_argument("--no-probe", action="store_true", help="skip the supervised reference")
    args = parser.parse_args(argv)
    truth_path = args.truth
    if truth_path is None:
        truth_path = next((p for p in (args.data / "labels.csv", args.data.parent / "labels.csv") if p.is_file()),
                          args.data / "labels.csv")
    if not truth_path.is_file() or not args.data.is_dir():
        print(f"data not found: {args.data} / {truth_path}", file=sys.stderr)
        return 2
    truth = load_truth(truth_path, args.label_column)
    found = find_images(args.data)
    all_paths = [p for p in found if p.stem in truth]
    if not all_paths:  # say so, rather than an IndexError further down
        example = f" (e.g. image {found[0].stem!r}, truth id {next(iter(truth), '')!r})" if found and truth else ""
        print(f"no image of {args.data} ({len(found)} found) has an id in {truth_path} ({len(truth)} ids): "
              f"an id is the file name without its extension{example}", file=sys.stderr)
        return 2
    if args.split != "all":
        all_paths = [p for p, s in zip(all_paths, kaggle_split([p.stem for p in all_paths])) if s == args.split]
    if args.limit:
        all_paths = all_paths[: args.limit]
    cache = FeatureCache(ROOT / ".cache" / "benchmarks" / "features")
    prep = Preprocessing()
    if args.classes:
        subsets = {args.classes: set(args.classes.split(","))}
    else:
        named = {"ell-spiral": {"elliptical", "spiral"}, "all": None}
        subsets = {s: named[s] for s in (["ell-spiral", "all"] if args.subset == "both" else [args.subset])}
    name = f"{args.data.name}" + ("" if args.split == "all" else f" ({args.split} split)")
    lines = ["| set | images | k | features | method | ACC | bal. ACC | ARI | NMI | time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    raw_cache: dict[str, np.ndarray] = {}
    for model_name in args.models.split(","):
        t = time.perf_counter()
        paths = all_paths
        features = load_precomputed(args.precomputed, model_name, [p.stem for p in paths]) if args.precomputed \
            else None
        if features is not None:
            notes.append(f"{model_name}: {len(paths)} images, features read from {args.precomputed}")
        else:
            model = FeatureModel(model_name)
            ext = extract_features(all_paths, model, prep, cache=cache, batch_size=16)
            paths, features = ext.paths, ext.features
            notes.append(f"{model_name}: {len(ext.paths)} images, {ext.computed} computed "
                         f"({ext.images_per_second:.1f} img/s on {model.device}), {ext.cached} from cache, "
                         f"{time.perf_counter() - t:.1f} s")
        ids = [p.stem for p in paths]
        for subset, keep_labels in subsets.items():
            keep = np.array([truth.get(i) in keep_labels if keep_labels else i in truth for i in ids])
            X = features[keep]
            y = np.array([truth[i] for i, k in zip(ids, keep) if k])
            k = len(set(y))
            if not args.no_probe:
                acc, bal = supervised_probe(X, y)
                lines.append(f"| {name} | {len(y)} | {k} | {model_name} | logistic regression (supervised, "
                             f"5-fold CV) | {acc:.3f} | {bal:.3f} | | | |")
                print(lines[-1], flush=True)
            scores = {}
            for method in args.methods.split(","):
                t = time.perf_counter()
                if method == "dec-raw":
                    if subset not in raw_cache:
                        kept_paths = [p for p, kk in zip(paths, keep) if kk]
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
                lines.append(f"| {name} | {len(y)} | {k} | {feats} | {method} | {s['acc']:.3f} "
                             f"| {s['balanced_acc']:.3f} | {s['ari']:.3f} | {s['nmi']:.3f} | {dt:.1f} |")
                for w in res.warnings:
                    notes.append(f"{subset}/{model_name}/{method}: {w}")
                sizes = sorted(res.sizes.values(), reverse=True)
                truth_sizes = sorted(np.unique(y, return_counts=True)[1].tolist(), reverse=True)
                notes.append(f"{subset}/{model_name}/{method}: cluster sizes {sizes}, class sizes {truth_sizes}")
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
