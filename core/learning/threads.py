"""How many torch and BLAS threads a fine-tuning round uses."""

from __future__ import annotations


class torch_threads:
    """Run a block with at most ``n`` torch intra-op threads and BLAS threads, restoring both after.

    The BLAS limit (threadpoolctl, which scikit-learn already depends on)
    covers the head's logistic regressions and the calibration's numpy work.

    A round's matrices are small (a batch of 256 by a few hundred units), so
    extra threads gain little, while on a busy CPU (the app's GUI thread
    repainting, other programs) every operation waits for the slowest thread:
    the 10,000-image round took 1.6-3.4x longer with 2 threads than with 1 on
    this loaded 2-core machine (``benchmarks/label_efficiency.py --timing-only``).
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = 0
        self.blas = None

    def __enter__(self) -> torch_threads:
        import torch

        self.before = torch.get_num_threads()
        if self.n:
            from threadpoolctl import threadpool_limits

            torch.set_num_threads(int(self.n))
            self.blas = threadpool_limits(int(self.n))
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)
        if self.blas is not None:
            self.blas.restore_original_limits()
            self.blas = None
