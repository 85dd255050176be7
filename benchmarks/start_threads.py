"""DEC's start mixture on one BLAS and OpenMP thread against the libraries' own thread counts (``core.threads``).

One command::

    .venv/bin/python benchmarks/start_threads.py [--sets hsc,sdss,kaggle,kaggle-all] [--repeats 3]

For each set, the default model's features (cached as ``benchmarks/dec_stability.py``
caches them; ``kaggle-all`` is every Kaggle image, labelled or not, 7,704 rows)
go through the two starts DEC uses (:func:`core.clustering.prior.prior_mixture`:
the 2-axis mixture every folder gets, and the consensus start of galaxies small
in their frames), seed 0, k=2, on the main thread (the CLI) and on a worker
thread (the app's job pool), each timed ``--repeats`` times with the limit and
without it (``core.threads.one_blas_thread`` replaced by a no-op), alternating,
the median printed with the ratio.  Every pair is also compared: the
partitions, the number of axes and the float32 posteriors DEC starts from
must be the same (the "same" column), so the limit changes the time only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core.clustering.prior as prior  # noqa: E402
from benchmarks.dec_stability import SETS, load_set  # noqa: E402
from core.features.extract import DEFAULT_MODEL, extract_features, load_model  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402

KAGGLE = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"


def features(name: str, model, cache: FeatureCache) -> np.ndarray:
    """The features of one set: a labelled set of ``dec_stability``, or every Kaggle image (``kaggle-all``)."""
    if name != "kaggle-all":
        return load_set(name, model, cache)[0]
    paths = sorted([*(KAGGLE / "images").glob("*.jpg"), *(KAGGLE / "unlabelled").glob("*.jpg")])
    return extract_features(paths, model, Preprocessing(), cache=cache, batch_size=64).features


def feature_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--cache``: which features :func:`features` extracts, and where it caches them."""
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "benchmarks" / "features")


def timed(fit, where: str) -> tuple[float, object]:
    """Seconds and result of ``fit()`` on the main thread or on a fresh worker thread."""
    out: dict[str, object] = {}

    def run() -> None:
        t = time.perf_counter()
        out["result"] = fit()
        out["seconds"] = time.perf_counter() - t

    if where == "main":
        run()
    else:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    return float(out["seconds"]), out["result"]


def same(a: prior.MixtureResult, b: prior.MixtureResult) -> bool:
    """The same partition, axes and float32 posteriors (what DEC's start reads)."""
    return (np.array_equal(a.labels, b.labels) and a.n_components == b.n_components
            and np.array_equal(a.soft.astype(np.float32), b.soft.astype(np.float32)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hsc,sdss,kaggle,kaggle-all")
    parser.add_argument("--repeats", type=int, default=3)
    feature_arguments(parser)
    args = parser.parse_args(argv)
    needed = [KAGGLE / "labels.csv" if s == "kaggle-all" else SETS[s][1] for s in args.sets.split(",")]
    if missing := [str(p) for p in needed if not p.is_file()]:
        print(f"data not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    model, cache = load_model(args.model, use_gpu=False), FeatureCache(args.cache)
    limit = prior.one_blas_thread
    print("| set (rows) | start | where | libraries' threads (s) | one thread (s) | ratio | same |")
    print("|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        X = features(name, model, cache)
        prior.prior_mixture(X[:200], 2)  # loads the libraries before the first timing
        for start in (None, "consensus"):
            for where in ("main", "worker"):
                secs: dict[str, list[float]] = {"free": [], "one": []}
                results: dict[str, prior.MixtureResult] = {}
                for _ in range(args.repeats):
                    for mode in ("free", "one"):
                        prior.one_blas_thread = limit if mode == "one" else contextlib.nullcontext
                        try:
                            s, res = timed(functools.partial(prior.prior_mixture, X, 2, n_components=start, random_state=0),
                                           where)
                        finally:
                            prior.one_blas_thread = limit
                        secs[mode].append(s)
                        results[mode] = res
                free, one = statistics.median(secs["free"]), statistics.median(secs["one"])
                print(f"| {name} ({len(X)}) | {start or '2 axes'} | {where} | {free:.2f} | {one:.2f} | {free / one:.1f}x "
                      f"| {'yes' if same(results['free'], results['one']) else 'NO'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
