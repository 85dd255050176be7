"""Survey scale (issue 22): feature extraction on Dask workers, and clustering a million galaxies.

One command, two parts, every figure measured in this run:

``extract``
    The same images through (a) the single-process extractor with one model
    thread and one decoding thread (what one Dask worker gets), (a1) the same
    in a fresh process held to one core (a worker's yardstick), (b) the
    single-process extractor as the app runs it (all cores), (c) a Dask local
    cluster of 1 worker and of ``--workers`` (2), and with ``--old`` (c0) the
    same workers with Dask's default settings and equal partitions (as before).
    For each Dask run: each worker's own account (``worker_stats``: images per
    busy second and per CPU-second inside its tasks, the share of the wall time
    it was busy) and the CPU seconds of the workers and of this process (client,
    scheduler, nannies).  Then, each against (a1): (1) the compute rate inside a
    worker, (2) the wall-clock rate per worker (the goal's figure: it hides no
    overhead), where the difference went, (3) the same from CPU accounting
    (other jobs' load left out), (4) the wall-clock rate with the core time
    other processes took meanwhile (``/proc/stat`` against every process's
    CPU) given back; the scheduler's cost per task (empty tasks),
    and the time for 10^6 and 10^8 images on N workers extrapolated from (2)
    and from (1).
``cluster``
    ``--n`` synthetic feature rows (default 1,000,000) at ``--dim`` (64, the
    default model's), drawn from a seeded mixture of ``--k`` Gaussians:
    mini-batch k-means initialised on a sample and a Gaussian mixture fitted on
    a sample then assigning every row, timed, scored against the mixture's
    labels, and the process's peak memory.

    .venv/bin/python benchmarks/survey_scale.py                  # both parts
    .venv/bin/python benchmarks/survey_scale.py --part extract --images 6000 --data DIR [--old]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.features.distributed import connect, extract_distributed, worker_stats  # noqa: E402
from core.features.distributed_spec import DaskSpec  # noqa: E402
from core.features.extract import FeatureModel, extract_features  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _images(args: argparse.Namespace) -> list[Path]:
    if args.data:
        paths = sorted(p for p in Path(args.data).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        return paths[: args.images]
    from core.images.sample import make_sample

    folder = make_sample(Path(tempfile.mkdtemp(prefix="survey-")) / "imgs", per_class=-(-args.images // 3),
                         size=128, seed=11)
    return sorted(folder.glob("*.png"))[: args.images]


def _rate(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    return dt, out


def _pinned_rate(model: str, paths: list[Path], batch: int, core: int = 0, barrier=None) -> tuple[float, float, float]:
    """Images/s and images per CPU-second of the single-process extractor in a fresh process held to ONE core
    (``sched_setaffinity`` before any thread starts, so the model's and the decoder's threads share it): what a
    Dask worker with one core has to work with.  Third: the model's share of the CPU (the main thread runs it;
    decoding runs on the decoding thread).  ``core``: which of the allowed cores; ``barrier``: wait there after
    the warm-up (two such processes then extract at the same time)."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[core % len(cores)]})
    one = FeatureModel(model, use_gpu=False, threads=1)
    prep = Preprocessing()
    extract_features(paths[: batch * 2], one, prep, batch_size=batch, workers=1)  # warm-up
    if barrier is not None:
        barrier.wait()
    t, c, m = time.perf_counter(), time.process_time(), time.thread_time()
    extract_features(paths, one, prep, batch_size=batch, workers=1)
    cpu = time.process_time() - c
    return len(paths) / (time.perf_counter() - t), len(paths) / cpu, (time.thread_time() - m) / cpu


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (all their threads) so far."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def _machine() -> tuple[float, float, dict[int, tuple[float, str]]]:
    """Every core's busy and idle seconds so far (``/proc/stat``), and every process's CPU seconds and name.

    With these a run's core time splits into ours, other processes' and idle: a job of someone else's, even
    at nice 19, takes its share of the workers' cores, where (a1), held to one core, left it the other core.
    Linux only; elsewhere zeros and no processes."""
    import psutil

    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return 0.0, 0.0, {}
    hz = os.sysconf("SC_CLK_TCK")
    procs = {}
    for p in psutil.process_iter(["name", "cpu_times"]):
        t = p.info["cpu_times"]
        if t is not None:
            procs[p.pid] = (t.user + t.system, p.info["name"] or "?")
    return (sum(v) - v[3] - v[4]) / hz, (v[3] + v[4]) / hz, procs


def _others(before: tuple, after: tuple, ours: set[int]) -> tuple[float, float, str]:
    """Core seconds other processes (and the kernel) used between two :func:`_machine` readings, idle seconds,
    and the largest other processes by name."""
    busy, idle = after[0] - before[0], after[1] - before[1]
    mine = sum(after[2][p][0] - before[2].get(p, (0.0, ""))[0] for p in ours if p in after[2])
    top: dict[str, float] = {}
    for p, (cpu, name) in after[2].items():
        if p not in ours:
            top[name] = top.get(name, 0.0) + cpu - before[2].get(p, (0.0, ""))[0]
    names = ", ".join(f"{k} {v:.2f}" for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:3] if v >= 0.01)
    return busy - mine, idle, names


def _dask_run(paths: list[Path], args: argparse.Namespace, workers: int) -> dict:
    """One timed extraction on a local cluster of ``workers``: wall time, each worker's own account, CPU seconds.

    A ``LocalCluster`` runs its scheduler and the workers' nannies in this process (beside the client), so this
    process's CPU is the client's, the scheduler's and the nannies' together; each worker process's CPU splits
    into the time inside ``extract_partition`` (``worker_stats``) and the rest (event loop, heartbeats, Dask's
    own profiler, serialising results).
    """
    one = FeatureModel(args.model, use_gpu=False, threads=1)
    prep = Preprocessing()
    client, close = connect(DaskSpec(workers=workers))
    try:
        # warm the workers (model load) on a small partition each, then time the whole set
        extract_distributed(paths[: args.batch * workers], one, prep, None, client=client,
                            partition_size=args.batch, batch_size=args.batch)
        pids = list(client.run(os.getpid).values())
        client.run(worker_stats, True)
        m0 = _machine()
        here0, workers0, t = _cpu_seconds([os.getpid()]), _cpu_seconds(pids), time.perf_counter()
        res = extract_distributed(paths, one, prep, None, client=client, partition_size=args.partition,
                                  batch_size=args.batch)
        wall = time.perf_counter() - t
        here, worker_cpu = _cpu_seconds([os.getpid()]) - here0, _cpu_seconds(pids) - workers0
        others, idle, names = _others(m0, _machine(), {*pids, os.getpid()})
        stats = list(client.run(worker_stats).values())
        per_task = float("nan")
        if workers == 1:
            tasks = 200
            t0 = time.perf_counter()
            client.gather(client.map(lambda i: i, range(tasks), pure=False))
            per_task = (time.perf_counter() - t0) / tasks
    finally:
        close()
    return {"wall": wall, "res": res, "stats": stats, "here_cpu": here, "worker_cpu": worker_cpu, "per_task": per_task,
            "load": os.getloadavg()[0], "others": others, "idle": idle, "names": names}


def _old_way(paths: list[Path], args: argparse.Namespace) -> dict:
    """The N-worker run as it was before this round: Dask's default settings, partitions all of one size, and
    the workers' threads free to run on any core."""
    from core.features import distributed

    settings, cut, hold = distributed.LOCAL_CLUSTER_CONFIG, distributed.partitions, distributed.HOLD_TO_CORES
    distributed.LOCAL_CLUSTER_CONFIG, distributed.HOLD_TO_CORES = {}, False
    distributed.partitions = lambda todo, size, workers, batch_size=1: [list(todo[i:i + size])
                                                                        for i in range(0, len(todo), size)]
    try:
        return _dask_run(paths, args, args.workers)
    finally:
        distributed.LOCAL_CLUSTER_CONFIG, distributed.partitions, distributed.HOLD_TO_CORES = settings, cut, hold


def _table(rates: dict[str, float], per_task: float, partition: int) -> None:
    """Hours for 10^6 and 10^8 images on N workers at each measured per-worker rate, plus the scheduler's cost."""
    print(f"\nextrapolation ({per_task * 1000:.2f} ms a task, {partition} images a task; each worker with its own "
          f"core and disk bandwidth) from the per-worker rates " + "; ".join(f"{k} {v:.1f}/s" for k, v in rates.items()))
    names = list(rates)
    print("| workers | " + " | ".join(f"10^6, {k}" for k in names) + " | " + " | ".join(f"10^8, {k}" for k in names) + " |")
    print("|---|" + "---|" * (2 * len(names)))

    def when(seconds: float) -> str:
        return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"

    for w in (1, 2, 8, 32, 128, 512):
        cells = [when(total / (w * rates[k]) + (total / partition) * per_task) for total in (1e6, 1e8) for k in names]
        print(f"| {w} | " + " | ".join(cells) + " |")


def part_extract(args: argparse.Namespace) -> None:
    paths = _images(args)
    n = len(paths)
    prep = Preprocessing()
    print(f"== extraction: {n} images, model {args.model}, batch {args.batch}, partitions of {args.partition} "
          f"(smaller at the end), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    one = FeatureModel(args.model, use_gpu=False, threads=1)
    allc = FeatureModel(args.model, use_gpu=False)
    extract_features(paths[: args.batch * 2], one, prep, batch_size=args.batch, workers=1)  # warm-up
    t_a, ref = _rate(lambda: extract_features(paths, one, prep, batch_size=args.batch, workers=1))
    t_b, _ = _rate(lambda: extract_features(paths, allc, prep, batch_size=args.batch))
    print(f"(a)  single process, 1 model thread + 1 decoding thread, all cores free: {n / t_a:8.1f} images/s")
    print(f"(b)  single process, all cores (the plain run):                        {n / t_b:8.1f} images/s")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pinned, pinned_cpu, pinned_model = pool.submit(_pinned_rate, args.model, paths, args.batch).result()
    print(f"(a1) the same held to ONE core (the yardstick of a worker with a core): {pinned:8.1f} images/s, "
          f"{pinned_cpu:.1f} images per CPU-second: {pinned_model / pinned_cpu * 1000:.3f} ms model, "
          f"{(1 - pinned_model) / pinned_cpu * 1000:.3f} ms decoding and the rest, per image")
    with multiprocessing.Manager() as manager, \
            ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        barrier = manager.Barrier(args.workers)
        halves = [paths[i::args.workers] for i in range(args.workers)]
        both = [f.result() for f in [pool.submit(_pinned_rate, args.model, part, args.batch, i, barrier)
                                     for i, part in enumerate(halves)]]
    together = np.mean([b[0] for b in both]) / pinned
    together_cpu = np.mean([b[1] for b in both]) / pinned_cpu
    print(f"(a2) {args.workers} such processes at once, a core each, the images shared: "
          f"{', '.join(f'{b[0]:.1f}' for b in both)} images/s, {', '.join(f'{b[1]:.1f}' for b in both)} per CPU-second; "
          f"each against (a1): {together:.3f} (per CPU-second {together_cpu:.3f}): no Dask, so this is what "
          f"{args.workers} processes sharing this machine's cores, caches and memory cost each other")
    runs = {w: _dask_run(paths, args, w) for w in (1, args.workers)}
    if args.old:
        runs["old"] = _old_way(paths, args)
    for w, r in runs.items():
        title = (f"(c) Dask local cluster, {w} worker(s)" if w != "old" else
                 f"(c0) as it was: {args.workers} workers, Dask's default settings, equal partitions, any core")
        print(f"\n{title}: wall {r['wall']:.2f} s, {n / r['wall']:.1f} images/s (load average {r['load']:.1f} at its end)")
        for i, s in enumerate(r["stats"]):
            print(f"    worker {i}: {s['tasks']:.0f} tasks, {s['images']:.0f} images; inside its tasks "
                  f"{s['images'] / s['busy_s']:.1f} images per busy second ({s['busy_s']:.2f} s busy, "
                  f"{s['busy_s'] / r['wall']:.3f} of the wall time), {s['images'] / s['busy_cpu_s']:.1f} per CPU-second: "
                  f"{s['model_cpu_s'] / s['images'] * 1000:.3f} ms model, "
                  f"{(s['busy_cpu_s'] - s['model_cpu_s']) / s['images'] * 1000:.3f} ms decoding and the rest, per image")
        w = args.workers if w == "old" else w
        task_cpu = sum(s["busy_cpu_s"] for s in r["stats"])
        print(f"    CPU seconds: workers' tasks {task_cpu:.2f}, workers outside tasks {r['worker_cpu'] - task_cpu:.2f}, "
              f"this process (client, scheduler, nannies) {r['here_cpu']:.2f}; "
              f"{r['wall'] * w:.2f} worker-core-seconds of wall time")
        print(f"    the machine's {os.cpu_count()} cores meanwhile: other processes and the kernel {r['others']:.2f} "
              f"core-seconds ({r['names'] or 'none over 0.01'}), idle {r['idle']:.2f}")
    r1, rn, w = runs[1], runs[args.workers], args.workers
    rate1, raten = n / r1["wall"], n / rn["wall"]
    same = np.abs(rn["res"].features - ref.features).max()
    inside = np.mean([s["images"] / s["busy_s"] for s in rn["stats"]])
    inside_cpu = np.mean([s["images"] / s["busy_cpu_s"] for s in rn["stats"]])
    busy = np.mean([s["busy_s"] / rn["wall"] for s in rn["stats"]])
    all_cpu = rn["worker_cpu"] + rn["here_cpu"]
    print(f"\nspeed-up, {w} workers over 1: {raten / rate1:.2f}x")
    print(f"{w} workers, each against (a1), the single process held to one core:")
    print(f"  (1) compute rate inside the worker (images / busy seconds):      {inside / pinned:.3f}"
          f"   (per CPU-second: {inside_cpu / pinned_cpu:.3f})")
    print(f"  (2) wall-clock rate (images / wall seconds / {w}):                {raten / w / pinned:.3f}"
          f"   <- the goal's figure (>= 0.90): it hides no overhead")
    print(f"  between them, {1 - raten / w / inside:.1%} of (1): the workers idle {1 - busy:.1%} of the wall time "
          f"(between tasks, and the first to finish waiting for the last); the client, scheduler and nannies "
          f"took {rn['here_cpu'] / all_cpu:.1%} of all the run's CPU, the workers' own overhead "
          f"{(rn['worker_cpu'] - sum(s['busy_cpu_s'] for s in rn['stats'])) / all_cpu:.1%}")
    print(f"  (3) from CPU accounting (every process's CPU counted, the idle time too; the load of other "
          f"jobs left out): {n / all_cpu * busy / pinned_cpu:.3f}")
    ncpu = os.cpu_count() or w
    print(f"  (4) wall-clock rate with the other processes' core time given back (images / (wall - others' "
          f"core-seconds / {ncpu} cores) / {w}): {n / (rn['wall'] - rn['others'] / ncpu) / w / pinned:.3f}: others took "
          f"{rn['others'] / (rn['wall'] * ncpu):.1%} of the cores, which (a1), alone on one core with the other free, "
          f"never gave up; against (a1)'s images per CPU-second (in case others reached (a1)'s core too): "
          f"{n / (rn['wall'] - rn['others'] / ncpu) / w / pinned_cpu:.3f}")
    inside1 = np.mean([s["images"] / s["busy_s"] for s in r1["stats"]])
    print(f"  1 worker against (a1): wall {rate1 / pinned:.3f}, inside {inside1 / pinned:.3f}")
    print(f"  against (a2), {w} plain processes at once (what Dask itself costs): (1) {inside / pinned / together:.3f}, "
          f"(2) {raten / w / pinned / together:.3f}, (3) {n / all_cpu * busy / pinned_cpu / together_cpu:.3f}")
    if "old" in runs:
        ro = runs["old"]
        old_inside = np.mean([s["images"] / s["busy_s"] for s in ro["stats"]])
        old_busy = np.mean([s["busy_s"] / ro["wall"] for s in ro["stats"]])
        old_cpu = ro["worker_cpu"] + ro["here_cpu"]
        print(f"  as it was (c0): (1) {old_inside / pinned:.3f}, (2) {n / ro['wall'] / w / pinned:.3f}, "
              f"(4) {n / (ro['wall'] - ro['others'] / ncpu) / w / pinned:.3f} (others {ro['others'] / (ro['wall'] * ncpu):.1%}), "
              f"(3) {n / old_cpu * old_busy / pinned_cpu:.3f}; wall-clock now / then: {ro['wall'] / rn['wall']:.2f}x, "
              f"CPU seconds then / now: {old_cpu / all_cpu:.2f}x")
    print(f"largest difference of a feature to the single-process row: {same:.2e}")
    print(f"scheduler cost per task (empty tasks, round trip): {r1['per_task'] * 1000:.2f} ms; a task's result "
          f"shipped to the client: {args.partition * (ref.features.shape[1] * 4 + 100) / 1024:.0f} KB at most "
          f"(its rows and paths)")
    _table({"(1) inside": inside, "(2) wall": raten / w, "(3) CPU": n / all_cpu * busy}, r1["per_task"], args.partition)
    print("((3): images per core-second with every Dask process's CPU and the idle time counted, what an idle core "
          "each would give; (1) and (2) are wall-clock rates, as fast or slow as this machine's load made them)")


def part_cluster(args: argparse.Namespace) -> None:
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    print(f"\n== clustering: {args.n:,} x {args.dim} synthetic rows, {args.k} Gaussians (seed 0)")
    centers = rng.normal(0, 3, (args.k, args.dim)).astype(np.float32)
    truth = rng.integers(0, args.k, args.n)
    X = np.empty((args.n, args.dim), np.float32)
    for s in range(0, args.n, 100_000):  # built in chunks: no float64 copy of the whole set
        X[s:s + 100_000] = centers[truth[s:s + 100_000]] + rng.standard_normal((min(100_000, args.n - s), args.dim),
                                                                                dtype=np.float32)
    print(f"data: {X.nbytes / 1e6:.0f} MB; peak RSS so far {_peak_mb():.0f} MB")
    sample = X[rng.choice(args.n, min(args.n, 20_000), replace=False)]
    t = time.perf_counter()
    km = MiniBatchKMeans(args.k, batch_size=4096, n_init=3, random_state=0, init="k-means++")
    km.fit(sample)  # initialised on a sample ...
    km.set_params(n_init=1, init=km.cluster_centers_, max_iter=3)
    km.fit(X)  # ... then mini-batch passes over every row
    labels = km.predict(X)
    t_km = time.perf_counter() - t
    print(f"mini-batch k-means: {t_km:.1f} s, ARI {adjusted_rand_score(truth, labels):.3f}, peak RSS {_peak_mb():.0f} MB")
    t = time.perf_counter()
    gmm = GaussianMixture(args.k, covariance_type="diag", random_state=0).fit(sample)
    labels = np.concatenate([gmm.predict(X[s:s + 100_000]) for s in range(0, args.n, 100_000)])
    t_gmm = time.perf_counter() - t
    print(f"Gaussian mixture fitted on 20,000, assigning all: {t_gmm:.1f} s, "
          f"ARI {adjusted_rand_score(truth, labels):.3f}, peak RSS {_peak_mb():.0f} MB")
    if args.dec:
        from core.clustering.dec import DEC

        t = time.perf_counter()
        dec = DEC(n_clusters=args.k, random_state=0)
        labels = dec.fit_predict(X)
        t_dec = time.perf_counter() - t
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in getattr(dec, "timings_", {}).items())
        print(f"DEC (default schedule) on all {args.n:,}: {t_dec:.1f} s ({stages}), "
              f"ARI {adjusted_rand_score(truth, labels):.3f}, peak RSS {_peak_mb():.0f} MB; "
              f"DEC / mini-batch k-means time: {t_dec / t_km:.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("extract", "cluster", "all"), default="all")
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--data", help="a folder of JPEG/PNG images (default: rendered synthetic galaxies)")
    parser.add_argument("--model", default="galaxy_cnn")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--partition", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--old", action="store_true",
                        help="also run the N workers as before (Dask's default settings, equal partitions), same run")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dec", action="store_true", help="also fit DEC (the default method) on every row")
    args = parser.parse_args(argv)
    if args.part in ("extract", "all"):
        part_extract(args)
    if args.part in ("cluster", "all"):
        part_cluster(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
