"""One BLAS and one OpenMP thread for small numerical fits, safe when several jobs ask at once.

Why: the fits that start DEC (:mod:`core.clustering.prior`: PCA, k-means and
Gaussian mixtures on 2-4 axes) and a fine-tuning round's (:mod:`core.learning`)
are many small matrix operations, where waking a second BLAS or OpenMP thread
costs more than it saves.  On the 2-core machine the consensus start of a
771-galaxy folder took 4.4 s with the libraries' own thread counts and 1.5 s
with one thread on the main thread, 3.4 s and 1.5 s on a worker thread
(``benchmarks/start_threads.py``; ``docs/benchmarks.md``, "One thread for the
start mixture"); every partition and, in float32, every posterior DEC starts
from was the same.

OpenMP's thread count belongs to the calling thread, so each caller sets and
restores its own.  OpenBLAS's is one for the whole process, and threadpoolctl
lets one thread at a time change it: the first to set it, until that thread
leaves its ``with`` block (a limit set without one keeps that thread in charge
for good, and every other thread's limit then silently does nothing; the
round's limit did that until this module).  Two jobs of the app can run these
fits at once (a Retrain round beside a DEC run), and a block that starts while
another holds the limit would record one thread as the count to restore.  So
the BLAS limit here is held by one block at a time: a block that finds it held
runs on the holder's single thread, and when the holder leaves, on the
library's own count, which the holder restores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

_lock = threading.Lock()
_held = False


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one OpenMP thread (its own) and one BLAS thread (unless another block holds that limit).

    Call it after importing the libraries whose OpenMP runtime should be
    limited (scikit-learn's): threadpoolctl sees only the libraries already
    loaded.  The thread counts change no result beyond the last bits of a
    float64 sum (see the module's docstring), only the time.
    """
    global _held
    from threadpoolctl import ThreadpoolController

    with _lock:
        mine = not _held
        _held = True
    try:
        with ExitStack() as stack:
            # each limit on its own libraries: a limit restores every library it saw, so an OpenMP-only one made
            # with threadpool_limits(user_api="openmp") would put back the BLAS count it found on leaving
            libraries = ThreadpoolController()
            stack.enter_context(libraries.select(user_api="openmp").limit(limits=1))
            if mine:
                stack.enter_context(libraries.select(user_api="blas").limit(limits=1))
            yield
    finally:
        if mine:
            with _lock:
                _held = False


def blas_limit_held() -> bool:
    """Whether a :func:`one_blas_thread` block holds the BLAS limit now."""
    return _held
