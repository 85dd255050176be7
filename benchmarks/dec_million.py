"""Streaming DEC on a million galaxies from a memory-mapped feature file (issue 22).

One command::

    .venv/bin/python benchmarks/dec_million.py [--n 1000000] [--cache DIR] [--out DIR] [--seed 0]

Real default-model (galaxy_cnn, 64-d) features of the Kaggle test split's
ellipticals and spirals (628 galaxies, cached in ``--cache``) give one Gaussian
per class (its mean and full covariance); ``--n`` rows are drawn from them at
the split's own ratio (549 : 79) and written chunk by chunk to a float32 ``.npy``
file in ``--out`` (a temporary folder by default), which is then opened with
``np.load(mmap_mode="r")``, so the set is never held in memory.  On that file,
in this run: mini-batch k-means (started on a 20,000-row sample, then
mini-batch passes) and DEC as the pipeline runs it (the default; above 200,000
rows ``DEC.fit`` streams, ``core/clustering/streaming.py``).  Prints each fit's
time and stages, ARI and balanced ACC against the class each row was drawn
from, the estimated against the true spiral fraction, the DEC / k-means time
ratio, and the process's peak resident memory (``ru_maxrss``, which counts the
pages of the mapped file that were read).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dec_stability import SETS, load_set  # noqa: E402
from core.clustering.dec import DEC  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import DEFAULT_MODEL, FeatureModel  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402


def peak_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesise(X: np.ndarray, y: np.ndarray, n: int, path: Path, seed: int) -> np.ndarray:
    """Write ``n`` rows drawn from one Gaussian per class of (X, y) to ``path`` (.npy); returns the row classes."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(y))
    weights = np.array([np.mean(y == c) for c in classes])
    truth = rng.choice(len(classes), size=n, p=weights)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, X.shape[1]))
    gauss = [(X[y == c].mean(0), np.linalg.cholesky(np.cov(X[y == c].T) + 1e-6 * np.eye(X.shape[1])))
             for c in classes]
    for s in range(0, n, 100_000):
        t = truth[s : s + 100_000]
        block = np.empty((len(t), X.shape[1]), np.float32)
        for j, (mean, chol) in enumerate(gauss):
            m = t == j
            block[m] = mean + rng.standard_normal((int(m.sum()), X.shape[1])) @ chol.T
        out[s : s + len(t)] = block
    out.flush()
    del out
    return np.array(classes)[truth]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "benchmarks" / "features")
    parser.add_argument("--out", type=Path, default=None, help="folder for the .npy file (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not SETS["kaggle"][1].is_file():
        print(f"data not found: {SETS['kaggle'][1]}", file=sys.stderr)
        return 2
    X0, y0 = load_set("kaggle", FeatureModel(DEFAULT_MODEL), FeatureCache(args.cache))
    folder = args.out or Path(tempfile.mkdtemp(prefix="dec-million-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"features_{args.n}x{X0.shape[1]}.npy"
    t = time.perf_counter()
    y = synthesise(X0, y0, args.n, path, args.seed)
    print(f"{args.n:,} x {X0.shape[1]} float32 rows ({path.stat().st_size / 1e6:.0f} MB) drawn from the "
          f"{len(y0)} Kaggle test galaxies' class Gaussians in {time.perf_counter() - t:.1f} s; "
          f"peak RSS so far {peak_mb():.0f} MB", flush=True)
    X = np.load(path, mmap_mode="r")
    small = sorted(set(y), key=lambda c: (y == c).sum())[0]
    true_small = float(np.mean(y == small))

    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    sample = np.asarray(X[np.sort(rng.choice(len(X), 20_000, replace=False))])
    km = MiniBatchKMeans(2, batch_size=4096, n_init=3, random_state=args.seed).fit(sample)
    km.set_params(n_init=1, init=km.cluster_centers_, max_iter=3)
    for s in range(0, len(X), 100_000):
        km.partial_fit(np.asarray(X[s : s + 100_000]))
    km_labels = np.concatenate([km.predict(np.asarray(X[s : s + 100_000])) for s in range(0, len(X), 100_000)])
    t_km = time.perf_counter() - t
    rows = [("mini-batch k-means", km_labels, t_km, "")]
    print(f"mini-batch k-means: {t_km:.1f} s, peak RSS {peak_mb():.0f} MB", flush=True)

    t = time.perf_counter()
    dec = DEC(2, random_state=args.seed).fit(X)
    t_dec = time.perf_counter() - t
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in dec.timings_.items())
    rows.append((f"DEC (default; streamed={dec.streamed_})", dec.labels_, t_dec, stages))
    print(f"DEC: {t_dec:.1f} s ({stages}), {dec.n_iter_} steps, peak RSS {peak_mb():.0f} MB", flush=True)

    print(f"\n{args.n:,} x {X0.shape[1]}, seed {args.seed}, true fraction of '{small}' {true_small:.3f}")
    print("| method | time (s) | bal. ACC | ARI | estimated small-class fraction | stages |")
    print("|---|---|---|---|---|---|")
    for name, labels, secs, st in rows:
        s = evaluate(y, labels)
        frac = float(np.bincount(labels, minlength=2).min() / len(labels))
        print(f"| {name} | {secs:.1f} | {s['balanced_acc']:.3f} | {s['ari']:.3f} | {frac:.3f} | {st} |")
    print(f"DEC / mini-batch k-means time: {t_dec / t_km:.1f}x; peak RSS of the process {peak_mb():.0f} MB "
          f"(budget 4,096 MB); DEC time budget 600 s")
    if args.out is None:
        path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
