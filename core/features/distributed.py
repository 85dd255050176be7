"""Feature extraction on a Dask cluster: more processes, or more machines, for one project.

A survey of 10^6 galaxies takes a day of one CPU's time with Xception; Dask
(``dask.distributed``, the scheduler the astronomy community already runs, from
a laptop's ``LocalCluster`` to HPC through ``dask-jobqueue`` and LSDB) spreads it
over worker processes.  :func:`extract_distributed` is the distributed twin of
:func:`core.features.extract.extract_features` and returns the same
:class:`~core.features.extract.ExtractionResult`.

How the work is cut and kept
    The images whose rows the project's feature cache does not hold yet are
    cut into *partitions* of ``partition_size`` paths, smaller ones at the end
    so the workers finish together (:func:`partitions`).  Each partition is one
    Dask task, named after the cache key and the partition's paths, so the same
    work always has the same name.  A worker runs the ordinary single-process
    extractor on its partition (same model file, checked by SHA-256 on the
    worker; same preprocessing; same batch size) and returns the rows.  The
    client, the one process that holds the project's lock, appends each
    partition's rows to the store as it arrives: the store keeps one writer
    (its SQLite index and row files never see two), a run stopped half-way
    keeps every finished partition and a rerun computes only the rest
    (resumable), and a worker killed mid-partition has that partition redone
    by the scheduler on another worker, its rows written once (idempotent).

Workers and files
    Workers read the images and the model file by path, so they need the
    same file system as the client (a laptop, a workstation, an HPC cluster's
    shared disk).  Nothing else is shipped.

Dask is imported only here, and this module only when ``--workers`` or
``--scheduler`` is given: the app and the plain CLI never load it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin  # this module is imported only for a Dask run

from core.features.distributed_spec import DEFAULT_PARTITION, DaskSpec
from core.features.extract import FEATURE_MODELS, FeatureModel, extract_features
from core.features.result import ExtractionResult, assemble_result, cached_rows
from core.images.io import SkippedFile
from core.images.preprocess import Preprocessing
from core.progress import Cancelled, ProgressFn, StopFn
from core.store.cache import FeatureCache

#: Dask settings of the local cluster :func:`connect` starts: the periodic work of Dask's own event loops,
#: made rarer.  Each worker ran a stack sampler every 10 ms on its event loop (only the dashboard's
#: "Profile" page reads it), and every process checked its loop every 20 ms and sampled CPU, memory and
#: disk every 500 ms; on a worker that shares its core with the extraction that took 4-9% of the CPU
#: inside its tasks (``benchmarks/survey_scale.py``).  A cluster of your own (``--scheduler``) keeps its
#: settings; ``docs/survey.md`` says how to set the same there.
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
}


#: Whether :func:`connect` gives each worker of a local cluster cores of its own (see :class:`HoldToCores`).
HOLD_TO_CORES = True


def _hold_to(cores: Sequence[int]) -> None:
    """Hold every thread of this process, and so every thread it starts later, to ``cores`` (Linux)."""
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]  # no /proc: the calling thread (and the threads it starts)
    for tid in tids:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, set(cores))


def core_shares(cores: Sequence[int], workers: int) -> list[list[int]]:
    """The cores each of ``workers`` workers gets: as many as all get, none shared while there are enough."""
    cores, workers = list(cores), max(1, workers)
    if workers >= len(cores):  # a core each, taken in turn
        return [[cores[i % len(cores)]] for i in range(workers)]
    return [cores[i * len(cores) // workers:(i + 1) * len(cores) // workers] for i in range(workers)]


class HoldToCores(WorkerPlugin):
    """A Dask worker plugin: worker ``i`` of a local cluster runs on its own share of the cores, only there.

    A worker is two threads, the model's and the decoder's.  Left free, two
    workers' four threads wander over two cores, and a batch decoded on one core
    is read by the model on the other: per CPU-second a worker then extracted
    0.86-0.89 of a one-core process, while two plain processes held to a core
    each kept 1.0 (``benchmarks/survey_scale.py``, (a2)).  Held, each worker is
    that process.  With more cores than workers each gets an equal share
    (:func:`core_shares`), so no core is left out.  The plugin runs on every
    worker that starts, restarted ones included.  Used only by :func:`connect`
    for a local cluster; a cluster of your own places its workers.
    """

    name = "galaxy-sorter-hold-to-cores"

    def __init__(self, shares: Sequence[Sequence[int]]) -> None:
        self.shares = [list(s) for s in shares]

    def setup(self, worker) -> None:  # distributed.Worker
        """Hold the worker to its share (workers of a ``LocalCluster`` are named 0, 1, ...)."""
        try:
            index = int(worker.name)
        except (TypeError, ValueError):
            return
        _hold_to(self.shares[index % len(self.shares)])


def connect(spec: DaskSpec):  # -> (distributed.Client, Callable[[], None])
    """A Dask client for ``spec`` and a function that closes what was started.

    A local cluster uses worker processes (not threads: onnxruntime and the
    decoders release the GIL only in parts) with nannies, so a worker that dies
    is restarted and its task rescheduled, with :data:`LOCAL_CLUSTER_CONFIG`
    (the workers take it when they start), each worker on its own cores
    (:class:`HoldToCores`).  Every port it opens (scheduler, workers,
    dashboard) is on 127.0.0.1, the dashboard's on a free one.
    """
    import dask
    from distributed import Client, LocalCluster

    if spec.scheduler:
        client = Client(spec.scheduler)
        return client, client.close
    n = int(spec.workers or 1)
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    cores = sorted(os.sched_getaffinity(0)) if HOLD_TO_CORES and hasattr(os, "sched_getaffinity") else []
    if n > 1 and len(cores) > 1:
        client.register_plugin(HoldToCores(core_shares(cores, n)))

    def close() -> None:
        client.close()
        cluster.close()

    return client, close


# One model per worker process and file: loading an ONNX session takes longer than a small partition.
_WORKER_MODELS: dict[tuple[str, str, bool, int], FeatureModel] = {}


def _heap_as_a_plain_process() -> None:
    """Give this worker process glibc's malloc behaviour of a plain process again.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed
    memory back to the system).  An explicit trim threshold also switches off glibc's
    dynamic mmap threshold, so every decoded frame (a 424 px RGB JPEG is 540 KB) is
    mapped and unmapped afresh, page faults and all: a worker then extracted at 0.6
    of a one-core process (``benchmarks/survey_scale.py``).  128 MB / 32 MB (the
    dynamic threshold's own ceiling on 64-bit) restore the single-process speed on
    any cluster, local or not, whatever its nanny sets.  Elsewhere than glibc: nothing.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _worker_model(name: str, path: str, sha256: str, use_gpu: bool, threads: int) -> FeatureModel:
    key = (path, sha256, use_gpu, threads)
    model = _WORKER_MODELS.get(key)
    if model is None:
        if not _WORKER_MODELS:
            _heap_as_a_plain_process()
        # The entry's factory with the client's file (checked below), as load_model makes it on the client.
        model = FEATURE_MODELS.get(name).factory(name, use_gpu=use_gpu, path=Path(path), threads=threads)
        if model.sha256 != sha256:
            raise RuntimeError(f"the model file {path} on worker {os.uname().nodename} is not the client's "
                               f"(SHA-256 {model.sha256[:12]} != {sha256[:12]}): rebuild or copy it")
        _WORKER_MODELS[key] = model
    return model


#: What this worker process spent inside :func:`extract_partition` (read by :func:`worker_stats`).
_STATS: dict[str, float] = {"tasks": 0, "images": 0, "busy_s": 0.0, "busy_cpu_s": 0.0, "model_cpu_s": 0.0}


def worker_stats(reset: bool = False) -> dict[str, float]:
    """This worker's partitions, images, and wall and CPU seconds inside :func:`extract_partition`.

    ``model_cpu_s`` is the CPU of the task's own thread, which runs the model
    (the decoding runs on the extractor's decoding thread: the rest of ``busy_cpu_s``).
    Also ``process_cpu_s``, the whole process's CPU seconds (its event loop,
    heartbeats and Dask's own profiler included), so a benchmark can tell the
    extraction's time from the worker's overhead.  Read it on every worker with
    ``client.run(worker_stats)``; ``reset`` zeroes the counters after reading.
    """
    out = dict(_STATS, process_cpu_s=time.process_time())
    if reset:
        _STATS.update(tasks=0, images=0, busy_s=0.0, busy_cpu_s=0.0, model_cpu_s=0.0)
    return out


def extract_partition(paths: Sequence[str], name: str, model_path: str, sha256: str, prep: dict,
                      batch_size: int, use_gpu: bool, threads: int) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """Run on a worker: the features of one partition, as the single-process extractor computes them.

    Returns the readable paths, their rows (float32) and ``(path, reason)`` of
    the files that could not be read.  Plain types only, so any Dask
    serialisation carries them.
    """
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    model = _worker_model(name, model_path, sha256, use_gpu, threads)
    res = extract_features([Path(p) for p in paths], model, Preprocessing(**prep), cache=None,
                           batch_size=batch_size, workers=1)
    _STATS["tasks"] += 1
    _STATS["images"] += len(paths)
    _STATS["busy_s"] += time.perf_counter() - t0
    _STATS["busy_cpu_s"] += time.process_time() - c0
    _STATS["model_cpu_s"] += time.thread_time() - m0
    return [str(p) for p in res.paths], res.features, [(s.path, s.reason) for s in res.skipped]


def partitions(todo: Sequence[Path], size: int, workers: int, batch_size: int = 1) -> list[list[Path]]:
    """Cut ``todo`` into tasks: ``size`` images each, then smaller ones at the end (guided self-scheduling).

    With equal tasks the run ends when the last one does, and the workers that
    finished first wait: up to one whole partition's time (with 6,000 images in
    partitions of 256 on 2 workers, 4-13% of the run, ``benchmarks/survey_scale.py``).
    Here a task is ``size`` images while more than ``2 x workers x size`` remain;
    after that each is ``1 / (2 x workers)`` of what remains, so the workers end
    within a small task of each other while most of the work still goes in large
    tasks (the scheduler's cost per task stays negligible).  Sizes are whole
    batches (``batch_size``, when ``size`` is a multiple of it), so every worker
    batches the images as the single-process extractor does and the rows stay
    identical; none is under one batch.  The cut depends only on its arguments,
    so the same work has the same task names.
    """
    step, workers, n = max(1, batch_size), max(1, workers), len(todo)
    out, i = [], 0
    while i < n:
        guided = -(-(n - i) // (2 * workers))  # ceil: a share of what remains
        k = min(size, max(step, -(-guided // step) * step))  # whole batches, at least one, at most size
        out.append(list(todo[i:i + k]))
        i += k
    return out


def _task_name(cache_key: str, part: Sequence[Path]) -> str:
    digest = hashlib.sha1("\n".join(map(str, part)).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"galaxy-sorter-extract-{cache_key[:16]}-{digest}"


def extract_distributed(
    paths: Sequence[str | os.PathLike[str]],
    model: FeatureModel,
    prep: Preprocessing | None = None,
    cache: FeatureCache | None = None,
    *,
    client,  # distributed.Client
    partition_size: int = DEFAULT_PARTITION,
    batch_size: int = 16,
    threads_per_worker: int = 1,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    on_batch: Callable[[list[Path], np.ndarray], None] | None = None,
) -> ExtractionResult:
    """Compute (or fetch from ``cache``) the features of ``paths`` on the workers of ``client``.

    Parameters are those of :func:`~core.features.extract.extract_features`, plus
    ``client`` (a ``distributed.Client``), ``partition_size`` (images per task)
    and ``threads_per_worker``.  ``model`` is used for its file, name, SHA-256 and
    provider choice; each worker loads its own copy.  Rows are written to
    ``cache`` by this process only, a partition at a time, as partitions finish.

    Returns
    -------
    ExtractionResult
        Rows in the order of ``paths`` (readable images only), as the
        single-process extractor returns them.

    Raises
    ------
    Cancelled
        When ``should_stop()`` turns True; finished partitions stay in the cache.
    """
    from distributed import as_completed

    prep = prep or Preprocessing()
    all_paths, key, rows, todo = cached_rows(paths, model, prep, cache)
    total = len(all_paths)
    n_workers = len(client.scheduler_info()["workers"])
    if progress:
        progress(len(rows) / total if total else 1.0, f"{len(rows)} cached, {len(todo)} to compute on {n_workers} Dask worker(s)")
    start = time.perf_counter()
    skipped: list[SkippedFile] = []
    parts = partitions(todo, partition_size, n_workers, batch_size)
    futures = [client.submit(extract_partition, [str(p) for p in part], model.name, str(model.path), model.sha256,
                             prep.as_dict(), batch_size, model.use_gpu, threads_per_worker,
                             key=_task_name(key, part), retries=2)
               for part in parts]
    done = 0
    try:
        for future in as_completed(futures):
            kept, feats, bad = future.result()
            good = [Path(p) for p in kept]
            feats = np.asarray(feats, dtype=np.float32)
            if cache is not None and good:
                cache.store(key, good, feats)
            rows.update(zip(good, feats))
            skipped.extend(SkippedFile(p, r) for p, r in bad)
            if on_batch and good:
                on_batch(good, feats)
            done += len(good) + len(bad)
            future.release()
            if progress:
                elapsed = time.perf_counter() - start
                rate = done / elapsed if elapsed > 0 else 0.0
                progress((total - len(todo) + done) / total, f"features {done}/{len(todo)} ({rate:.1f} img/s, Dask)")
            if should_stop and should_stop():
                raise Cancelled("feature extraction cancelled")
    finally:
        client.cancel([f for f in futures if not f.done()])
    # Skipped files in the order of the folder, as the single-process path reports them.
    order = {str(p): i for i, p in enumerate(all_paths)}
    skipped.sort(key=lambda s: order.get(s.path, len(order)))
    return assemble_result(all_paths, rows, skipped, model, len(todo), time.perf_counter() - start)
