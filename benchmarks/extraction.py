"""How close does end-to-end feature extraction come to the model's own speed?

One command::

    .venv/bin/python benchmarks/extraction.py [--model efficientnet_lite0|galaxy_cnn|xception] [--images N]

On N real Galaxy Zoo images (``../shared/data/galaxy-zoo-kaggle/images``, or
the built-in synthetic sample when that folder is absent) it measures, in the
same run and with the same batch size, after a warm-up, ``--repeats`` times
in the order a, c, b, c, a (a load that drifts steadily weighs on (a) and (c)
alike):

(a) inference only: the model on batches prepared beforehand (no file touched);
(b) decode and prepare only: :func:`core.features.prepared_batches` (the
    worker threads that read, crop, resize and normalise) with no model;
(c) end to end: :func:`core.features.extract_features` without a cache;

and prints each rate (median over the runs), the CPU time per image of each
(all threads of the process: it moves less with other programs' load than the
rates do), and (c)/(a), the figure the pipeline is judged by (goal: at least
0.95).  The load average is printed at
the start and the end: on a shared CPU every figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.features import FeatureModel, extract_features, prepared_batches  # noqa: E402
from core.preprocess import Preprocessing  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle" / "images"
DEFAULT_IMAGES = {"galaxy_cnn": 2048, "efficientnet_lite0": 384, "xception": 64}


def _images(n: int) -> tuple[list[Path], str]:
    if DATA.is_dir():
        paths = sorted(DATA.glob("*.jpg"))[:n]
        return paths, f"{len(paths)} Galaxy Zoo images (424x424 JPEG) from {DATA}"
    from core.sample import make_sample

    folder = make_sample(Path(tempfile.mkdtemp(prefix="extraction-bench-")), per_class=max(1, -(-n // 3)), size=424)
    paths = sorted(folder.glob("*.png"))[:n]
    return paths, f"{len(paths)} synthetic sample images (424x424 PNG; {DATA} is absent)"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--images", type=int, default=0, help="images per measurement (default depends on the model)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: extract_features')")
    parser.add_argument("--prefetch", type=int, default=3, help="batches decoded ahead of the model")
    parser.add_argument("--cpu", action="store_true", help="force the CPU provider")
    parser.add_argument("--fp16", action="store_true", help="half-precision model (meant for a GPU)")
    args = parser.parse_args(argv)

    print(f"load average at the start (1/5/15 min): {_load()} on {os.cpu_count()} CPUs;"
          " this CPU is shared with other jobs, so every figure moves with their load")
    paths, what = _images(args.images or DEFAULT_IMAGES.get(args.model, 256))
    model = FeatureModel(args.model, use_gpu=not args.cpu, fp16=args.fp16)
    prep = Preprocessing()
    bs = args.batch_size
    print(f"{what}; {args.model} ({model.input_size} px) on {model.device}"
          f"{', fp16' if args.fp16 else ''}{', I/O binding' if model.io_binding else ''}; batch {bs},"
          f" prefetch {args.prefetch}, workers {args.workers or 'default'}; crop {prep.crop} {prep.crop_fraction}")

    def prepare_only() -> list[np.ndarray]:
        return [b.inputs for b in prepared_batches(paths, model, prep, bs, args.workers, args.prefetch)]

    # Warm-up: the files into the page cache, the session's first (slow) calls, the thread pools.
    inputs = prepare_only()
    for batch in inputs[:2]:
        model.infer(batch)
    extract_features(paths[: 2 * bs], model, prep, batch_size=bs, workers=args.workers, prefetch=args.prefetch)

    n = len(paths)

    cpu: dict[str, list[float]] = {"a": [], "b": [], "c": []}

    def timed(kind: str, work: Callable[[], object]) -> float:
        t, c = time.perf_counter(), time.process_time()
        work()
        cpu[kind].append((time.process_time() - c) / n * 1e3)
        return n / (time.perf_counter() - t)

    def infer_only() -> float:
        return timed("a", lambda: [model.infer(batch) for batch in inputs])

    def prepare_rate() -> float:
        return timed("b", prepare_only)

    def end_to_end() -> float:
        res = []
        rate = timed("c", lambda: res.append(extract_features(paths, model, prep, batch_size=bs,
                                                              workers=args.workers, prefetch=args.prefetch)))
        assert res[0].computed == n and not res[0].skipped
        return rate

    # Each repeat runs a, c, b, c, a: a load that drifts steadily during a repeat then weighs
    # on (a) and (c) alike, and the repeat's ratio is the mean (c) over the mean (a).
    rates: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    ratios: list[float] = []
    for r in range(args.repeats):
        a1, c1, b, c2, a2 = infer_only(), end_to_end(), prepare_rate(), end_to_end(), infer_only()
        rates["a"] += [a1, a2]
        rates["b"].append(b)
        rates["c"] += [c1, c2]
        ratios.append((c1 + c2) / (a1 + a2))
        print(f"  repeat {r + 1}: (a) {a1:.1f} {a2:.1f}  (b) {b:.1f}  (c) {c1:.1f} {c2:.1f} img/s,"
              f" (c)/(a) {ratios[-1]:.3f}  [load {_load()}]", flush=True)

    med = {k: statistics.median(v) for k, v in rates.items()}
    print()
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print("| measurement | images/s (median) | CPU ms per image, all threads (median) |")
    print("|---|---|---|")
    print(f"| (a) inference only, prepared batches | {med['a']:.1f} | {cpu_med['a']:.2f} |")
    print(f"| (b) decode + crop + normalise only, worker threads | {med['b']:.1f} | {cpu_med['b']:.2f} |")
    print(f"| (c) end to end, extract_features (no cache) | {med['c']:.1f} | {cpu_med['c']:.2f} |")
    print(f"| (c)/(a), median of the per-repeat ratios | {statistics.median(ratios):.3f} | |")
    print(f"\nload average at the end (1/5/15 min): {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
