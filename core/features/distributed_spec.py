"""Where a Dask run goes (:class:`DaskSpec`): a plain record, importable without Dask.

The pipeline and the CLI take one; :mod:`core.features.distributed` (which
imports Dask) is loaded only when a run asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Paths per task: big enough that the scheduler's few milliseconds per task vanish
#: against the seconds of work (at 150 images/s, 512 images are 3 s), small enough
#: that a killed worker loses little and progress moves.
DEFAULT_PARTITION = 512


@dataclass(frozen=True)
class DaskSpec:
    """Where to run: a local cluster of ``workers`` processes, or an existing ``scheduler``.

    Parameters
    ----------
    workers : int, optional
        Start a ``distributed.LocalCluster`` with this many worker processes.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), e.g. one started by
        ``dask-jobqueue`` on a SLURM cluster; ``workers`` is then ignored.
    threads_per_worker : int
        Threads each worker gives the model (onnxruntime's intra-op threads).
    partition_size : int
        Images per task (see :data:`DEFAULT_PARTITION`).
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int = 1
    partition_size: int = DEFAULT_PARTITION

    def __post_init__(self) -> None:
        if self.scheduler is None and (self.workers is None or self.workers < 1):
            raise ValueError("a Dask run needs --workers N (N >= 1) or --scheduler ADDRESS")
        if self.threads_per_worker < 1:
            raise ValueError(f"threads per worker must be at least 1 (got {self.threads_per_worker})")
        if self.partition_size < 1:
            raise ValueError(f"partition size must be at least 1 (got {self.partition_size})")

    def describe(self) -> str:
        """One line for the user and the run's timings: where the features were computed."""
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        return f"Dask local cluster of {self.workers} worker process(es), {self.threads_per_worker} thread(s) each"
