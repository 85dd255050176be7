"""One press of Suggest (Ctrl+G) on a survey: the exact neighbour search against the sampled one (core.learning.active).

One command::

    .venv/bin/python benchmarks/suggest_scale.py [--rows 7704,60000,1000000] [--exact-up-to 60000]

The default model's features of every Kaggle image (7,704 rows, cached as
``benchmarks/dec_stability.py`` caches them), tiled with seeded noise (sigma
0.05 of the standardised scale) to each ``--rows``; random soft assignments for
two classes.  :func:`core.learning.active.suggest` asks for 10 galaxies with 0,
100 and 400 labelled (above 256, every cluster of a survey can hold a label), timed twice (the faster printed): the product's path
(exact up to ``SAMPLE_ROWS``, the sampled one above) and, up to
``--exact-up-to`` rows, the exact path forced (``SAMPLE_ROWS`` set past the
rows), with the ratio.  Above that the exact path is not run: its neighbour
search is quadratic in the rows.  Each line also says whether the 10 picks
are distinct and unlabelled, and gives the memory a press allocates at its peak (a third,
untimed press under tracemalloc) beside the memory the features take.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core.learning.active as active  # noqa: E402
from benchmarks.start_threads import KAGGLE, feature_arguments, features  # noqa: E402
from core.features.extract import load_model  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402


def press(X: np.ndarray, soft: np.ndarray, labelled: np.ndarray, sample_rows: int,
          traced: bool = False) -> tuple[float, np.ndarray, float]:
    """The faster of two presses of Suggest with ``SAMPLE_ROWS`` at ``sample_rows``, its picks, and (``traced``)
    the memory a third press allocates at its peak, in MiB (tracemalloc; NaN untraced)."""
    before, active.SAMPLE_ROWS = active.SAMPLE_ROWS, sample_rows
    try:
        best, picks, peak = np.inf, np.zeros(0, np.int64), float("nan")
        for _ in range(2):
            t = time.perf_counter()
            picks = active.suggest(soft, soft, labelled, 10, features=X, predicted=soft.argmax(1))
            best = min(best, time.perf_counter() - t)
        if traced:
            tracemalloc.start()
            try:
                active.suggest(soft, soft, labelled, 10, features=X, predicted=soft.argmax(1))
                peak = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()
    finally:
        active.SAMPLE_ROWS = before
    return best, picks, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="7704,60000,1000000")
    parser.add_argument("--exact-up-to", type=int, default=60_000)
    feature_arguments(parser)
    args = parser.parse_args(argv)
    if not (KAGGLE / "labels.csv").is_file():
        print(f"data not found: {KAGGLE}", file=sys.stderr)
        return 2
    base = features("kaggle-all", load_model(args.model, use_gpu=False), FeatureCache(args.cache)).astype(np.float32)
    scale = base.std(0)
    print(f"SAMPLE_ROWS = {active.SAMPLE_ROWS}, CONTENDERS = {active.CONTENDERS}; 10 picks a press, the faster of two")
    print("| rows | labelled | product's path (s) | its peak allocation (MiB) | exact path (s) | ratio "
          "| picks distinct, unlabelled |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(r) for r in args.rows.split(",")):
        rng = np.random.default_rng(0)
        tiles = [base if i == 0 else base + rng.normal(0, 0.05, base.shape).astype(np.float32) * scale
                 for i in range(-(-n // len(base)))]
        X = np.concatenate(tiles)[:n]
        del tiles
        soft = rng.dirichlet([1, 1], n)
        for n_lab in (0, 100, 400):
            labelled = np.zeros(n, bool)
            labelled[rng.choice(n, n_lab, replace=False)] = True
            t, picks, peak = press(X, soft, labelled, active.SAMPLE_ROWS, traced=True)
            ok = len(set(picks.tolist())) == 10 and not labelled[picks].any()
            if n <= args.exact_up_to:
                t_exact, _, _ = press(X, soft, labelled, n)
                exact, ratio = f"{t_exact:.2f}", f"{t_exact / t:.1f}x"
            else:
                exact, ratio = "not run (quadratic)", ""
            print(f"| {n:,} | {n_lab} | {t:.2f} | {peak:,.0f} (features {X.nbytes / 2**20:,.0f}) | {exact} | {ratio} "
                  f"| {'yes' if ok else 'NO'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
