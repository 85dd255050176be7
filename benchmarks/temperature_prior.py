"""The round's temperature prior, fitted once on Kaggle's training split (never the held-out split or GC1).

One command::

    .venv/bin/python benchmarks/temperature_prior.py --features FILE [--seeds 3]

``FILE`` is an ``.npz`` (``ids``, ``features``) of galaxy_cnn features of
the Kaggle images; only those of galaxy_cnn's *training* split
(``sha1(GalaxyID) % 100 < 80``) are used, minus the first 800 of them (the
part ``label_efficiency.py --tune 800`` chooses settings on).  Make it with
``label_efficiency.py --set kaggle --model galaxy_cnn --save-features FILE
--seeds 0 --timing-only``.

It runs the app's loop (``label_efficiency.run_loop``: suggestions and one
round per batch) for ``--seeds`` seeds and, at 10, 20, 50, 100 and 200
answers, fits the temperature of the head twice, as the round fits it (under
the counted rule at the class fractions the probabilities will be moved to,
since issue 21's fourteenth pass; class-balanced under the others): on the
cross-fitted answers (what a round can do; the counted fractions) and on the
galaxies *not* labelled, with their true classes (what calibrates the
catalogue; their true fractions).  It
prints both per budget, their ratio, ``T0``: exp(mean log) of the second,
and for each prior weight ``w0`` (in answers) the mean ECE of the
catalogue's confidences when the round fits its temperature on the answers
under a prior on log T centred on log T0 worth ``w0`` answers; the centre
and weight of lowest mean ECE are the candidates for
``core.learning.calibration.TEMPERATURE_PRIOR`` and ``TEMPERATURE_PRIOR_WEIGHT``,
kept only if ``label_efficiency.py``'s coverage holds on the tuning sets too
(this script measures no interval: under the capped rule its choice, centre
1.16 up to 50 answers, lost balanced coverage on Kaggle's tuning split, 96 % to
88 %, so the round keeps 1.03 up to 100; ``docs/benchmarks.md``, issue 21's
thirteenth pass).

The ECE is that of the probabilities the round gives under its decision rule
(``--decision``, the round's default "counted": the calibrated head moved so
the unlabelled galaxies come out in the plain regression's counted class
fractions).  ``--centres`` also tries other centres than ``T0`` (factors of
it): under the counted rule the temperature that calibrates the catalogue is
no longer the one that calibrates the class-balanced head.  ``--weights``:
"capped" (the round's rule since issue 21's thirteenth pass,
:func:`core.learning.calibration.prior_weight_for`) makes each ``w0`` a cap,
the prior worth as many answers as the round has up to ``w0``; "fixed" worth
``w0`` from the first answer, the rule before it.
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

from benchmarks.label_efficiency import BUDGETS, fitted_dec, run_loop  # noqa: E402
from core.catalog.truth import load_truth  # noqa: E402
from core.learning.calibration import (  # noqa: E402
    apply_temperature,
    cross_fit,
    fit_temperature,
    match_counts,
    prior_weight_for,
    reliability,
)
from core.learning.head import counted_fractions, fit_head, plain_head  # noqa: E402

CLASSES = ("elliptical", "spiral")
WEIGHTS = (0.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def training_part(features: Path, truth_csv: Path, skip: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """Features and class names of Kaggle's training-split images of the two classes, minus the first ``skip``."""
    from models.train_galaxy_net import split_of

    data = np.load(features)
    ids, X = data["ids"].astype(str), np.asarray(data["features"], np.float32)
    truth = load_truth(truth_csv)
    y = np.array([truth.get(i) for i in ids], dtype=object)
    keep = np.isin(y, CLASSES) & np.array([split_of(i) == "train" for i in ids])
    order = np.flatnonzero(keep)[np.argsort(ids[keep], kind="stable")][skip:]
    return X[order], y[order].astype(str).astype(object)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--truth", type=Path,
                        default=ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle" / "labels.csv")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--decision", choices=("counted", "balanced"), default="counted",
                        help="the rule whose probabilities the ECE is measured on (the round's default: counted)")
    parser.add_argument("--centres", default="1",
                        help="comma-separated factors of T0 to try as the prior's centre (e.g. 0.8,0.9,1,1.1,1.25)")
    parser.add_argument("--weights", choices=("capped", "fixed"), default="capped",
                        help="each prior weight a cap on the answers' number (the round's rule) or fixed")
    args = parser.parse_args(argv)
    counted = args.decision == "counted"  # the round fits its temperature at the counted fractions under this rule
    X, y = training_part(args.features, args.truth)
    yi = np.array([CLASSES.index(v) for v in y])
    print(f"Kaggle training split (minus the tuning part): {len(y)} galaxies, "
          f"{int((yi == 0).sum())} elliptical; {args.seeds} seeds", flush=True)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        encoder, _ = fitted_dec(X, Path(tmp))
        for seed in range(args.seeds):
            t = time.perf_counter()
            loop = run_loop(X, y, encoder, CLASSES, seed, Path(tmp), {"threads": 1})
            for b in BUDGETS:
                rows = loop[b]["rows"]
                free = np.ones(len(X), bool)
                free[rows] = False

                def fit(r: np.ndarray, c: np.ndarray, seed: int = seed) -> np.ndarray | None:
                    return fit_head(X, r, c, 2, random_state=seed)

                proba = fit(rows, yi[rows])
                oof = cross_fit(fit, rows, yi[rows], 2, random_state=seed)
                if proba is None or oof is None:
                    continue
                fractions = counted_fractions(plain_head(X, rows, yi[rows], 2), rows)
                # as the round fits it: under the counted rule at the counted fractions (the answers) and at
                # the true ones (the unlabelled galaxies, whose own temperature this is)
                t_answers, _ = fit_temperature(oof, yi[rows], fractions=fractions if counted else None)
                t_true, _ = fit_temperature(proba[free], yi[free], l2=0.0,
                                            fractions=np.bincount(yi[free], minlength=2) / free.sum() if counted else None)
                records.append((b, proba, oof, yi[rows], free, t_answers, t_true, fractions))
            print(f"seed {seed} done ({time.perf_counter() - t:.0f} s)", flush=True)
    print("| answers | T from the cross-fitted answers | T calibrating the unlabelled | ratio |")
    print("|---|---|---|---|")
    log_true = []
    for b in BUDGETS:
        rec = [r for r in records if r[0] == b]
        if not rec:
            continue
        la, lt = np.mean([np.log(r[5]) for r in rec]), np.mean([np.log(r[6]) for r in rec])
        log_true.append(lt)
        print(f"| {b} | {np.exp(la):.2f} | {np.exp(lt):.2f} | {np.exp(lt - la):.2f} |")
    t0 = float(np.exp(np.mean(log_true)))
    print(f"- T0 = exp(mean log T over the budgets) = {t0:.2f}")
    print(f"- ECE under the {args.decision} rule's probabilities")
    best = None
    for factor in (float(f) for f in args.centres.split(",")):
        centre = t0 * factor
        for w0 in WEIGHTS:
            per_budget = {}
            for b, proba, oof, lab_y, free, _, _, fractions in records:
                # the temperature only, as the round fits it under the counted and the balanced rule
                w = prior_weight_for(len(lab_y), cap=w0) if args.weights == "capped" else w0
                T, bias = fit_temperature(oof, lab_y, bias=False, prior_t=centre, prior_weight=w,
                                          fractions=fractions if counted else None)
                q = apply_temperature(proba[free], T, bias)
                if counted:
                    q = match_counts(q, fractions, np.bincount(lab_y, minlength=2) > 0)[0]
                per_budget.setdefault(b, []).append(reliability(q.argmax(1) == yi[free], q.max(1))[0])
            mean = float(np.mean([np.mean(v) for v in per_budget.values()]))
            print(f"- centre {centre:.2f}, prior weight {'up to ' if args.weights == 'capped' else ''}{w0:g} answers: ECE "
                  + ", ".join(f"{b}: {np.mean(v):.3f}" for b, v in sorted(per_budget.items())) + f"; mean {mean:.4f}")
            if best is None or mean < best[0] - 1e-4:
                best = (mean, w0, centre)
    print(f"- lowest mean ECE: TEMPERATURE_PRIOR = {best[2]:.2f}, TEMPERATURE_PRIOR_WEIGHT = {best[1]:g} (a candidate: "
          f"check the interval's coverage with label_efficiency.py before writing it into core.learning.calibration)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
