"""One BLAS thread for the start mixture and the round, on any pool thread, and given back whoever leaves last (core.threads)."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> set[int]:
    return {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads():
    """The process at two BLAS threads for the test (CI's machine may have one core), put back after.

    threadpoolctl lets one thread at a time change OpenBLAS's count, the last to set it until it lets go: the
    fixture lets go at once, as the app's threads find the process.
    """
    import numpy  # noqa: F401  (loads OpenBLAS: threadpoolctl sees only the libraries already loaded)

    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    limiter = threadpoolctl.threadpool_limits(2, user_api="blas")
    threadpoolctl.OpenBLASController.clear_controlling_thread()
    try:
        yield
    finally:
        limiter.restore_original_limits()
        threadpoolctl.OpenBLASController.clear_controlling_thread()


class _Pool:
    """Two threads that stay alive between jobs, as QThreadPool's do (30 s idle)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.jobs = [queue.Queue(), queue.Queue()]
        self.threads = [threading.Thread(target=self._work, args=(q,)) for q in self.jobs]
        for t in self.threads:
            t.start()

    def _work(self, jobs: queue.Queue) -> None:
        while not self.stop.is_set():
            try:
                job, done = jobs.get(timeout=0.05)
            except queue.Empty:
                continue
            job()
            done.set()

    def run(self, i: int, job) -> None:
        done = threading.Event()
        self.jobs[i].put((job, done))
        assert done.wait(20)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(20)


def test_rounds_on_either_thread_of_a_pool_run_on_one_blas_thread(two_blas_threads):
    """The round's limit, set without a ``with`` block, kept the first pool thread in charge of OpenBLAS for good:
    a round on the pool's other thread ran on two threads (up to 3.4x slower on a loaded 2-core machine)."""
    from core.learning.threads import torch_threads

    seen: list[set[int]] = []

    def round_() -> None:
        with torch_threads(1):
            seen.append(_blas_threads())

    pool = _Pool()
    try:
        for i in (0, 1, 0, 1):
            pool.run(i, round_)
    finally:
        pool.close()
    assert seen == [{1}] * 4 and _blas_threads() == {2}


def test_a_block_that_starts_while_another_holds_the_limit_never_restores_one_thread(two_blas_threads):
    """A Retrain round beside a DEC run's start, the first in leaving first: the count comes back all the same.

    A plain ``with threadpool_limits(1)`` that starts inside another records 1 as the count to restore, and
    leaving last, leaves the process at one BLAS thread for good.
    """
    from core.threads import blas_limit_held, one_blas_thread

    assert _blas_threads() == {2} and not blas_limit_held()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def first() -> None:
        with one_blas_thread():
            a_in.set()
            assert b_in.wait(10)
            seen["a, b inside too"] = _blas_threads()
        a_out.set()

    def second() -> None:
        assert a_in.wait(10)
        with one_blas_thread():
            seen["b, a inside"] = _blas_threads()
            b_in.set()
            assert a_out.wait(10)
            seen["b, after a left"] = _blas_threads()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    # one thread while the holder is inside; the library's own count once it has left, and after both
    assert seen == {"b, a inside": {1}, "a, b inside too": {1}, "b, after a left": {2}}
    assert not blas_limit_held() and _blas_threads() == {2}


def test_start_mixture_and_round_run_on_one_blas_thread_and_give_it_back(two_blas_threads, monkeypatch):
    """The consensus start was 4.7 s on the libraries' threads and 1.6 s on one (771 galaxies, 2 cores)."""
    from sklearn.mixture import GaussianMixture

    from core.clustering.prior import consensus_mixture, prior_mixture
    from core.learning.threads import torch_threads

    seen: list[set[int]] = []
    fit = GaussianMixture.fit

    def spy(self, *args, **kwargs):
        seen.append(_blas_threads())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(GaussianMixture, "fit", spy)
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (120, 6)), rng.normal(3, 1, (60, 6))])
    two = prior_mixture(X, 2, random_state=0)
    assert seen and all(s == {1} for s in seen) and _blas_threads() == {2}
    seen.clear()
    consensus = consensus_mixture(X, 2, seeds=2)
    assert len(seen) >= 6 and all(s == {1} for s in seen) and _blas_threads() == {2}
    # the partition is the blobs' either way (the thread count changes no label: docs/benchmarks.md)
    truth = np.repeat([0, 1], [120, 60])
    for mix in (two, consensus):
        assert min(np.mean(mix.labels == truth), np.mean(mix.labels != truth)) == 0
    with torch_threads(1):
        assert _blas_threads() == {1}
    assert _blas_threads() == {2}
