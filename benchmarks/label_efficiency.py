"""How fast corrections turn clusters into a good catalogue (elliptical vs spiral).

One command::

    .venv/bin/python benchmarks/label_efficiency.py [--seeds 3] [--model xception]

On the 3,194 elliptical/spiral images of ``../shared/data/galaxy-zoo-kaggle``,
a simulated astronomer answers with the true label for the images asked
about.  After 0, 10, 20, 50, 100 and 200 answers it prints accuracy, balanced
accuracy and ARI of the labels of every image NOT labelled, for

* ``dec+suggest``: the app's loop: DEC, then a semi-supervised fine-tuning
  round after each batch of answers, the next batch chosen by
  :func:`core.active.suggest`;
* ``dec+random``: the same loop with random picks;
* ``logreg+random``: logistic regression on the same (standardised)
  features trained on random picks, what an astronomer would otherwise do;

as mean and standard deviation over the seeds (DEC is fitted once, with seed 0,
unless ``--refit-dec``; the seeds vary the picks and the rounds), plus the reference of a
logistic regression trained on all labels (5-fold cross-validated).  At 0
answers the DEC clusters are scored under the optimal cluster-to-class
matching, since nobody has named them yet; logistic regression cannot run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evaluate import linear_classifier  # noqa: E402
from core.active import suggest  # noqa: E402
from core.cache import FeatureCache  # noqa: E402
from core.dec import DEC  # noqa: E402
from core.features import FeatureModel, extract_features  # noqa: E402
from core.finetune import finetune_round  # noqa: E402
from core.metrics import matched_predictions  # noqa: E402
from core.preprocess import Preprocessing  # noqa: E402
from core.truth import load_truth  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
BUDGETS = (0, 10, 20, 50, 100, 200)


def scores(y_true: np.ndarray, y_pred: np.ndarray, matched: bool = False) -> tuple[float, float, float]:
    """(ACC, balanced ACC, ARI); ``matched`` maps cluster ids to classes by the optimal matching first."""
    from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score

    y_true = np.asarray(y_true, dtype=object).astype(str)
    y_pred = (matched_predictions(y_true, y_pred) if matched else np.asarray(y_pred, dtype=object)).astype(str)
    return (float(np.mean(y_true == y_pred)), float(balanced_accuracy_score(y_true, y_pred)),
            float(adjusted_rand_score(y_true, y_pred)))


def logreg(X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Logistic regression trained on ``rows``; predictions for every row."""
    if len(set(y[rows])) < 2:
        return np.full(len(X), y[rows][0], dtype=object)
    return linear_classifier().fit(X[rows], y[rows]).predict(X).astype(object)


def dec_loop(X: np.ndarray, y: np.ndarray, encoder: Path, soft0: np.ndarray, emb0: np.ndarray, seed: int,
             active: bool, workdir: Path, ft: dict) -> dict[int, tuple[float, float, float]]:
    """Run the label/fine-tune loop; return scores on the unlabelled images at each budget."""
    rng = np.random.default_rng(seed)
    labels = np.full(len(X), None, dtype=object)
    out = {0: scores(y, soft0.argmax(1), matched=True)}
    soft, emb = soft0, emb0
    prev_clusters, prev_names = soft0.argmax(1), None
    random_order = rng.permutation(len(X))
    for i, budget in enumerate(BUDGETS[1:], 1):
        need = budget - BUDGETS[i - 1]
        have = labels != None  # noqa: E711 (object array)
        if active:
            new = suggest(soft, emb, have, need, random_state=seed)
        else:
            new = np.array([r for r in random_order if not have[r]][:need])
        labels[new] = y[new]
        # Every round starts from the DEC run's encoder with all labels so far: rounds
        # built on rounds drift (measured), and this way undoing a round is exact.
        res = finetune_round(X, encoder, labels, prev_clusters=prev_clusters, prev_names=prev_names,
                             class_order=("elliptical", "spiral"), out_path=workdir / f"round{seed}-{active}-{budget}.onnx",
                             random_state=seed, **ft)
        soft, emb = res.soft, res.embedding
        prev_clusters, prev_names = res.labels, res.class_names
        free = labels == None  # noqa: E711
        out[budget] = scores(y[free], res.predicted_names()[free])
    return out


def torch_threads() -> int:
    """Threads torch computes with here."""
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", default="xception")
    parser.add_argument("--refit-dec", action="store_true",
                        help="fit DEC again for every seed (default: once, seed 0; the seeds vary the picks and rounds)")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per fine-tuning round")
    args = parser.parse_args(argv)
    if not (DATA / "labels.csv").is_file():
        print(f"data not found at {DATA}", file=sys.stderr)
        return 2
    truth = load_truth(DATA / "labels.csv")
    paths = [p for p in sorted((DATA / "images").glob("*.jpg")) if truth.get(p.stem) in ("elliptical", "spiral")]
    cache = FeatureCache(ROOT / ".cache" / "benchmarks" / "features")
    ext = extract_features(paths, FeatureModel(args.model), Preprocessing(), cache=cache, batch_size=16)
    X = ext.features
    y = np.array([truth[p.stem] for p in ext.paths], dtype=object)
    print(f"{len(y)} images ({', '.join(f'{c} {int((y == c).sum())}' for c in sorted(set(y)))}), "
          f"{args.model} features, {args.seeds} seeds", flush=True)
    from sklearn.model_selection import cross_val_predict

    full = cross_val_predict(linear_classifier(), X, y, cv=5)
    ref = scores(y, full.astype(object))
    results: dict[str, dict[int, list[tuple[float, float, float]]]] = {}
    times = {"dec fit": [], "round": []}
    ft = {"steps": args.steps}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in range(args.seeds):
            t = time.perf_counter()
            if seed == 0 or args.refit_dec:
                dec = DEC(2, random_state=seed).fit(X)
                times["dec fit"].append(time.perf_counter() - t)
                enc = dec.save_onnx(work / f"dec{seed}.onnx")
                soft0, emb0 = dec.soft_assignments_, dec.transform(X)
            for name, active in (("dec+suggest", True), ("dec+random", False)):
                t = time.perf_counter()
                res = dec_loop(X, y, enc, soft0, emb0, seed, active, work, ft)
                times["round"].append((time.perf_counter() - t) / (len(BUDGETS) - 1))
                for b, s in res.items():
                    results.setdefault(name, {}).setdefault(b, []).append(s)
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(X))
            for b in BUDGETS[1:]:
                rows = order[:b]
                free = np.setdiff1d(np.arange(len(X)), rows)
                pred = logreg(X, y, rows)
                results.setdefault("logreg+random", {}).setdefault(b, []).append(scores(y[free], pred[free]))
            print(f"seed {seed} done ({time.perf_counter() - t:.0f} s)", flush=True)
        # One round on 10,000 images (rows resampled from these, with a little noise), 100 labels.
        rng = np.random.default_rng(0)
        pick = rng.integers(0, len(X), 10_000)
        X10 = X[pick] + rng.normal(scale=0.01 * X.std(), size=(10_000, X.shape[1])).astype(np.float32)
        lab10 = np.full(10_000, None, dtype=object)
        lab10[:100] = y[pick[:100]]
        t = time.perf_counter()
        finetune_round(X10, work / "dec0.onnx", lab10, out_path=work / "r10k.onnx", **ft)
        t_10k = time.perf_counter() - t

    print()
    print("| method | answers | ACC | bal. ACC | ARI |")
    print("|---|---|---|---|---|")
    for name, by_budget in results.items():
        for b in BUDGETS:
            if b not in by_budget:
                print(f"| {name} | {b} | n/a | n/a | n/a |")
                continue
            s = np.array(by_budget[b])
            m, sd = s.mean(0), s.std(0)
            print(f"| {name} | {b} | {m[0]:.3f} ± {sd[0]:.3f} | {m[1]:.3f} ± {sd[1]:.3f} | {m[2]:.3f} ± {sd[2]:.3f} |")
    print(f"| logistic regression, all labels (5-fold CV) | {len(y)} | {ref[0]:.3f} | {ref[1]:.3f} | {ref[2]:.3f} |")
    print()
    for b in BUDGETS[1:]:
        a = np.mean([s[1] for s in results["dec+suggest"][b]])
        lr = np.mean([s[1] for s in results["logreg+random"][b]])
        print(f"- {b} answers: dec+suggest / logreg balanced-ACC ratio {a / lr:.2f}")
    print(f"- DEC fit {np.mean(times['dec fit']):.0f} s; one fine-tuning round on {len(y)} images "
          f"{np.mean(times['round']):.1f} s (mean, incl. suggestions); on 10,000 images {t_10k:.1f} s; CPU, "
          f"{torch_threads()} torch threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
