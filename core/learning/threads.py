"""How many torch threads a fine-tuning round uses."""

from __future__ import annotations


class torch_threads:
    """Run a block with at most ``n`` torch intra-op threads, restoring the previous number after.

    A round's matrices are small (a batch of 256 by a few hundred units), so
    extra threads gain little, while on a busy CPU (the app's GUI thread
    repainting, other programs) every operation waits for the slowest thread:
    the 10,000-image round took 1.6-3.4x longer with 2 threads than with 1 on
    this loaded 2-core machine (``benchmarks/label_efficiency.py --timing-only``).
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = 0

    def __enter__(self) -> torch_threads:
        import torch

        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)
