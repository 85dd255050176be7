"""What DEC does to its input before the autoencoder: scaling, a PCA projection, and the torch thread count.

Functions of a :class:`core.clustering.dec.DEC` being fitted (they read its
parameters and set its fitted attributes), shared by the in-memory fit and the
streaming one (:mod:`core.clustering.streaming`); every pass over ``X`` goes in
chunks, so ``X`` may be a memory-mapped file larger than the memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

CHUNK = 8192
AUTO_COMPONENTS = 64
"""PCA components ``n_components="auto"`` keeps when there are more than twice as many features (issue 22)."""


def fit_input_scaling(dec, X: np.ndarray) -> None:
    """Set ``dec.input_mean_``/``input_scale_``: per-feature standardisation, or one global scale.

    Per feature when ``dec.standardise`` is True, or "auto" with at least as many
    rows as features (with fewer, per-feature variances are mostly noise).
    Column sums in float64, chunk by chunk, without a float64 copy of ``X``.
    """
    per_feature = dec.standardise is True or (dec.standardise == "auto" and len(X) >= X.shape[1])
    dec.standardised_ = bool(per_feature)
    if per_feature:
        mean = np.zeros(X.shape[1])
        for s in range(0, len(X), CHUNK):
            mean += np.asarray(X[s : s + CHUNK], dtype=np.float64).sum(0)
        mean /= len(X)
        var = np.zeros(X.shape[1])
        for s in range(0, len(X), CHUNK):
            var += ((np.asarray(X[s : s + CHUNK], dtype=np.float64) - mean) ** 2).sum(0)
        std = np.sqrt(var / len(X))
        dec.input_mean_ = mean.astype(np.float32)
        # Constant features stay at zero instead of being blown up.
        dec.input_scale_ = np.where(std > 1e-6 * (std.max() + 1e-12), 1.0 / (std + 1e-12), 0.0).astype(np.float32)
    else:
        ms = sum(float((np.asarray(X[s : s + CHUNK], dtype=np.float64) ** 2).sum()) for s in range(0, len(X), CHUNK))
        dec.input_mean_ = np.zeros(X.shape[1], np.float32)
        dec.input_scale_ = np.full(X.shape[1], 1.0 / np.sqrt(ms / X.size + 1e-12), np.float32)


def n_projected(dec, n: int, d: int) -> int | None:
    """Components the input is projected on (None: no projection).

    ``n_components="auto"`` keeps :data:`AUTO_COMPONENTS` when there are more than
    twice as many features and at least 1,000 rows (below, the paper's schedule
    stays as the quality gate measured it, issue 24): the first layer of a
    1,280-wide input was most of the autoencoder's arithmetic.  On 3,194 x
    1,280 Lite0 features DEC gave balanced ACC 0.554 / ARI 0.050 with 64
    components against 0.584 / 0.038 with 256 in the issue-13 table, both near
    chance (``docs/benchmarks.md``, DEC speed).
    """
    m = dec.n_components
    if m == "auto":
        m = AUTO_COMPONENTS if d > 2 * AUTO_COMPONENTS and n >= 1000 else None
    if m is None or int(m) >= d:
        return None
    return int(m)


def fit_projection(dec, scaled: np.ndarray, seed: int) -> None:
    """Set ``dec.projection_`` (d, m): the top right singular vectors of the scaled input, or None.

    Uncentred (the scaling already centres); fitted on at most 20,000 rows drawn with ``seed``.
    """
    n, d = scaled.shape
    dec.projection_ = None
    m = n_projected(dec, n, d)
    if m is None:
        return
    from sklearn.utils.extmath import randomized_svd

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=20_000, replace=False)) if n > 20_000 else slice(None)
    _, _, vt = randomized_svd(np.asarray(scaled[rows]), m, n_iter=4, random_state=seed)
    dec.projection_ = np.ascontiguousarray(vt.T, dtype=np.float32)  # (d, m), orthonormal columns


@contextmanager
def torch_threads(setting: int | str | None, n_rows: int) -> Iterator[int]:
    """Run the block with torch's intra-op thread count set for a fit of ``n_rows``, then restore it.

    "auto": one thread, whatever ``n_rows``.  The autoencoder's matrices are
    small: on the shared 2-core CPU one training step of the default network
    (batch 256) took 20 ms on one thread and 130 ms on two (the machine
    loaded), and one thread sums in the same order on every CPU, so a seed gives
    the same clusters on a laptop and on a busy server.  None: torch's own setting.
    """
    import torch

    before = torch.get_num_threads()
    if setting == "auto":
        setting = 1
    if setting is not None:
        torch.set_num_threads(max(1, int(setting)))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
