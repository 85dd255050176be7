"""DEC's clustering objective: Student's t soft assignments, the sharpened target and KL self-training.

Shared by :class:`core.clustering.dec.DEC` and a fine-tuning round
(:mod:`core.learning.finetune`): one self-training loop for both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def student_t(z, centers, alpha: float = 1.0):
    """Soft assignment of each embedded point to each centre (torch or numpy).

    Parameters
    ----------
    z : tensor or ndarray of shape (n_samples, n_dims)
    centers : tensor or ndarray of shape (n_clusters, n_dims)
    alpha : float
        Degrees of freedom of the Student's t kernel (1 in the paper).

    Returns
    -------
    q : same type, shape (n_samples, n_clusters); rows sum to 1.
    """
    if isinstance(z, np.ndarray):
        d2 = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
        q = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
        return q / q.sum(axis=1, keepdims=True)
    d2 = ((z.unsqueeze(1) - centers.unsqueeze(0)) ** 2).sum(-1)
    q = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q):
    """The sharpened self-training target P of DEC (eq. 3), torch or numpy."""
    weight = q**2 / q.sum(0)
    return weight / weight.sum(1, keepdims=True) if isinstance(q, np.ndarray) else weight / weight.sum(1, keepdim=True)


def kl_self_training(
    encoder,
    centers,
    Xt,
    *,
    steps: int,
    interval: int,
    batch_size: int,
    optimizer,
    generator,
    alpha: float,
    refresh: Callable,
    embed: Callable | None = None,
    extra_loss: Callable | None = None,
    kl_weight: float = 1.0,
    after_step: Callable | None = None,
) -> int:
    """DEC's self-training loop (Xie et al. 2016, eq. 2-3), shared by :meth:`DEC.fit` and fine-tuning rounds.

    Every ``interval`` steps, and at ``steps``, the soft assignments Q of every
    row are recomputed and ``refresh(step, Q)`` returns the sharpened target P
    (a caller may overwrite rows of it, as a round does for the user's labels),
    or None to stop (assignments settled, say).  In between, each step takes a
    minibatch (a fresh permutation of the rows each pass) and minimises
    ``kl_weight * KL(P || Q)`` plus the terms ``extra_loss(idx, z, q)`` returns
    (DEC's reconstruction term, a round's cross-entropy and pair constraints).

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps rows of ``Xt`` to the embedding.
    centers : torch.Tensor
        Cluster centres in the embedding (a trained parameter).
    Xt : torch.Tensor of shape (n_samples, n_features)
    steps, interval, batch_size : int
        Optimiser steps, steps between target updates, rows per step.
    optimizer : torch.optim.Optimizer
    generator : torch.Generator
        The minibatch order (seeded: same seed, same clusters).
    alpha : float
        Student-t degrees of freedom.
    refresh : callable(step, Q) -> P or None
    embed : callable() -> torch.Tensor, optional
        Embedding of every row without gradients (default ``encoder(Xt)``).
    extra_loss : callable(idx, z, q) -> sequence of torch.Tensor, optional
        Further loss terms of the minibatch, added in order.
    kl_weight : float
    after_step : callable(step, loss), optional
        Called after each optimiser step with the step's loss (history, progress, cancel).

    Returns
    -------
    int
        The step at which the loop stopped.
    """
    import torch

    n = len(Xt)
    order = torch.randperm(n, generator=generator)
    cursor = 0
    target = None
    step = 0
    for step in range(steps + 1):
        if step % interval == 0 or step == steps:
            with torch.no_grad():
                z_all = embed() if embed is not None else encoder(Xt)
                target = refresh(step, student_t(z_all, centers.detach(), alpha))
            if target is None or step == steps:
                break
        if cursor + batch_size > n:
            order = torch.randperm(n, generator=generator)
            cursor = 0
        idx = order[cursor : cursor + batch_size].to(Xt.device)
        cursor += batch_size
        z = encoder(Xt[idx])
        q = student_t(z, centers, alpha)
        p = target[idx]
        loss = kl_weight * torch.sum(p * torch.log((p + 1e-12) / (q + 1e-12))) / len(idx)
        for term in extra_loss(idx, z, q) if extra_loss is not None else ():
            loss = loss + term  # term by term, in order: the same sums to the last bit as one expression
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step(step, float(loss.detach()))
    return step


def count_matching_offsets(log_q: np.ndarray, counts: np.ndarray, sweeps: int = 20) -> np.ndarray:
    """Per-cluster log-offsets ``b`` so that ``argmax_j(log_q[:, j] + b[j])`` gives each cluster ``counts[j]`` rows.

    The cluster sizes of a partition and the order of the rows within it are
    two different things: on galaxy features DEC's order (which rows are most
    surely in the small cluster) is the same from seed to seed, while where the
    argmax cuts it moved by tens of galaxies (issue 24).  Shifting each
    cluster's log-probability by a constant is Bayes' rule with other priors
    (Saerens et al. 2002), so the assignment stays DEC's own and only the sizes
    are set.  Each cluster's offset in turn is set to the midpoint between the
    rows it takes and the next one (exact in one sweep for two clusters).

    Parameters
    ----------
    log_q : ndarray of shape (n_samples, n_clusters)
    counts : ndarray of int, shape (n_clusters,)
        Rows wanted in each cluster; must sum to ``n_samples``.
    sweeps : int
        Most passes over the clusters (more than two clusters only).

    Returns
    -------
    ndarray of shape (n_clusters,)
        Offsets with maximum 0.
    """
    n, k = log_q.shape
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != n or k < 2:
        raise ValueError(f"counts {counts.tolist()} must sum to the {n} rows over at least two clusters")
    b = np.zeros(k)
    for _ in range(sweeps):
        for j in range(k):
            others = np.delete(log_q + b, j, axis=1).max(1)
            margin = np.sort(log_q[:, j] - others)[::-1]  # row j wins where margin + b_j > 0
            m = int(counts[j])
            upper = margin[m - 1] if m > 0 else margin[0] + 1.0
            lower = margin[m] if m < n else margin[-1] - 1.0
            b[j] = -(upper + lower) / 2.0
        if (np.bincount((log_q + b).argmax(1), minlength=k) == counts).all():
            break
    return b - b.max()
