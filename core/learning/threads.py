"""How many torch and BLAS threads a fine-tuning round uses."""

from __future__ import annotations

from contextlib import ExitStack

from core.threads import one_blas_thread


class torch_threads:
    """Run a block with at most ``n`` torch intra-op threads and BLAS threads, restoring both after.

    The BLAS limit (threadpoolctl, which scikit-learn already depends on)
    covers the head's logistic regressions and the calibration's numpy work.
    One thread, the round's default, goes through :func:`core.threads.one_blas_thread`:
    set without a ``with`` block, the limit kept the first pool thread in charge
    of OpenBLAS, and a round on the pool's other thread ran on two threads.

    A round's matrices are small (a batch of 256 by a few hundred units), so
    extra threads gain little, while on a busy CPU (the app's GUI thread
    repainting, other programs) every operation waits for the slowest thread:
    the 10,000-image round took 1.6-3.4x longer with 2 threads than with 1 on
    this loaded 2-core machine (``benchmarks/label_efficiency.py --timing-only``).
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = 0
        self.blas = ExitStack()

    def __enter__(self) -> torch_threads:
        import torch

        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))
            if int(self.n) == 1:  # the round's default: the limit one block holds at a time, safe beside a DEC start
                self.blas.enter_context(one_blas_thread())
            else:
                from threadpoolctl import threadpool_limits

                self.blas.enter_context(threadpool_limits(int(self.n)))
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)
        self.blas.close()
