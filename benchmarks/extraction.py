"""How close does end-to-end feature extraction come to the model's own speed?

One command::

    .venv/bin/python benchmarks/extraction.py [--model efficientnet_lite0|galaxy_cnn|xception] [--images N] [--switch]

On N real Galaxy Zoo images (``../shared/data/galaxy-zoo-kaggle/images``, or
the built-in synthetic sample when that folder is absent) it measures, in the
same run and with the same batch size, after a warm-up, ``--repeats`` times
in the order a, c, b, d, c, a (a load that drifts steadily weighs on (a) and
(c) alike):

(a) inference only: the model on batches prepared beforehand (no file touched);
(b) decode and prepare only: :func:`core.features.extract.prepared_batches` (the
    worker threads that read, crop, resize and normalise) with no model;
(c) end to end: :func:`core.features.extract.extract_features` without a cache;
(d) the scheme before issue 13 (decoding one batch ahead, the batch stacked
    on the model's thread), with today's decoder and session settings;
(e) with ``--switch``: (c) at the interpreter switch interval the app sets while
    a window is open (:data:`app.workers.SWITCH_S`, 0.2 ms against Python's 5 ms:
    the GUI thread takes the lock back sooner, and every thread that wants it
    switches more often), so (e)/(c) is what that setting costs a job's
    throughput;

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.features.extract import FeatureModel, _load_and_prepare, extract_features, prepared_batches  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle" / "images"
DEFAULT_IMAGES = {"galaxy_cnn": 2048, "efficientnet_lite0": 384, "xception": 64}


def _images(n: int, folder: Path | None) -> tuple[list[Path], str]:
    if folder is not None:
        from core.images.io import scan_folder

        paths = scan_folder(folder)[:n]
        return paths, f"{len(paths)} images from {folder}"
    if DATA.is_dir():
        paths = sorted(DATA.glob("*.jpg"))[:n]
        return paths, f"{len(paths)} Galaxy Zoo images (424x424 JPEG) from {DATA}"
    from core.images.sample import make_sample

    folder = make_sample(Path(tempfile.mkdtemp(prefix="extraction-bench-")), per_class=max(1, -(-n // 3)), size=424)
    paths = sorted(folder.glob("*.png"))[:n]
    return paths, f"{len(paths)} synthetic sample images (424x424 PNG; {DATA} is absent)"


def one_batch_ahead(paths: list[Path], model: FeatureModel, prep: Preprocessing, batch_size: int,
                    workers: int) -> np.ndarray:
    """The scheme ``extract_features`` used before issue 13, for comparison in the same run.

    Decoding runs one batch ahead on a thread pool and returns squares; the
    thread that runs the model stacks, converts and transposes them as
    ``to_model_input`` did then.  It shares today's decoder and session
    settings, so the difference from (c) is the pipeline's structure alone.
    """

    def stacked(squares: list[np.ndarray]) -> np.ndarray:
        batch = np.stack(squares).astype(np.float32)
        batch *= model.scale
        batch += model.offset
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    feats = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        pending = None
        for i in range(len(batches) + 1):
            nxt = [pool.submit(_load_and_prepare, model, prep, p) for p in batches[i]] if i < len(batches) else None
            if pending is not None:
                feats.append(model.infer(stacked([sq for f in pending for sq in f.result()])))
            pending = nxt
    return np.concatenate(feats)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--images", type=int, default=0, help="images per measurement (default depends on the model)")
    parser.add_argument("--data", type=Path, default=None, help="another folder of images (default: Kaggle's)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: extract_features')")
    parser.add_argument("--prefetch", type=int, default=3, help="batches decoded ahead of the model")
    parser.add_argument("--cpu", action="store_true", help="force the CPU provider")
    parser.add_argument("--fp16", action="store_true", help="half-precision model (meant for a GPU)")
    parser.add_argument("--switch", action="store_true",
                        help="also (e): end to end at the switch interval an open window sets (app.workers.SWITCH_S)")
    args = parser.parse_args(argv)

    print(f"load average at the start (1/5/15 min): {_load()} on {os.cpu_count()} CPUs;"
          " this CPU is shared with other jobs, so every figure moves with their load")
    paths, what = _images(args.images or DEFAULT_IMAGES.get(args.model, 256), args.data)
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

    cpu: dict[str, list[float]] = {"a": [], "b": [], "c": [], "d": [], "e": []}

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

    def at_window_switch() -> float:
        from app.workers import SWITCH_S  # only here: the app's module, not needed by (a)-(d)

        default = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_S)
        try:
            res = []
            rate = timed("e", lambda: res.append(extract_features(paths, model, prep, batch_size=bs,
                                                                  workers=args.workers, prefetch=args.prefetch)))
        finally:
            sys.setswitchinterval(default)
        assert res[0].computed == n and not res[0].skipped
        return rate

    def old_scheme() -> float:
        return timed("d", lambda: one_batch_ahead(paths, model, prep, bs, args.workers or min(4, os.cpu_count() or 1)))

    # Each repeat runs a, c, b, d, c, a: a load that drifts steadily during a repeat then weighs
    # on (a) and (c) alike, and the repeat's ratio is the mean (c) over the mean (a).
    rates: dict[str, list[float]] = {"a": [], "b": [], "c": [], "d": [], "e": []}
    ratios: list[float] = []
    old_ratios: list[float] = []
    switch_ratios: list[float] = []
    for r in range(args.repeats):
        a1, c1 = infer_only(), end_to_end()
        e1 = at_window_switch() if args.switch else float("nan")  # (e) beside (c), in the order c, e, ..., e, c
        b, d = prepare_rate(), old_scheme()
        e2 = at_window_switch() if args.switch else float("nan")
        c2, a2 = end_to_end(), infer_only()
        rates["a"] += [a1, a2]
        rates["b"].append(b)
        rates["c"] += [c1, c2]
        rates["d"].append(d)
        ratios.append((c1 + c2) / (a1 + a2))
        old_ratios.append(2 * d / (a1 + a2))
        if args.switch:
            rates["e"] += [e1, e2]
            switch_ratios.append((e1 + e2) / (c1 + c2))
        print(f"  repeat {r + 1}: (a) {a1:.1f} {a2:.1f}  (b) {b:.1f}  (c) {c1:.1f} {c2:.1f}  (d) {d:.1f} img/s,"
              f" (c)/(a) {ratios[-1]:.3f}  (d)/(a) {old_ratios[-1]:.3f}"
              + (f"  (e) {e1:.1f} {e2:.1f}, (e)/(c) {switch_ratios[-1]:.3f}" if args.switch else "")
              + f"  [load {_load()}]", flush=True)

    med = {k: statistics.median(v) for k, v in rates.items() if v}
    print()
    cpu_med = {k: statistics.median(v) for k, v in cpu.items() if v}
    print("| measurement | images/s (median) | CPU ms per image, all threads (median) |")
    print("|---|---|---|")
    print(f"| (a) inference only, prepared batches | {med['a']:.1f} | {cpu_med['a']:.2f} |")
    print(f"| (b) decode + crop + normalise only, worker threads | {med['b']:.1f} | {cpu_med['b']:.2f} |")
    print(f"| (c) end to end, extract_features (no cache) | {med['c']:.1f} | {cpu_med['c']:.2f} |")
    print(f"| (d) one batch ahead, stacking on the model's thread (before issue 13) | {med['d']:.1f} |"
          f" {cpu_med['d']:.2f} |")
    print(f"| (c)/(a), median of the per-repeat ratios | {statistics.median(ratios):.3f} | |")
    print(f"| (d)/(a), the same for the old scheme | {statistics.median(old_ratios):.3f} | |")
    if args.switch:
        print(f"| (e) end to end at the window's switch interval | {med['e']:.1f} | {cpu_med['e']:.2f} |")
        print(f"| (e)/(c), median of the per-repeat ratios | {statistics.median(switch_ratios):.3f} | |")
    print(f"\nload average at the end (1/5/15 min): {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
