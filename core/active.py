"""Which galaxies to label next: the ones each answer teaches the most.

:func:`suggest` ranks the unlabelled images by how unsure the model is (the
margin between the two largest soft assignments: small near a boundary
between clusters), takes a pool of the most unsure, and picks from that pool
greedily the images farthest from each other and from what is already
labelled in the embedding (k-centre), so one batch of questions does not ask
about ten near-identical galaxies.  Until every cluster holds a labelled
image, the first picks also include the most typical member of each
unlabelled cluster (near its centre), because a class the model has never
been shown cannot be learnt from boundary cases alone.
"""

from __future__ import annotations

import numpy as np


def margin(soft: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 soft assignment per row (0: on a boundary; 1: certain)."""
    soft = np.asarray(soft, np.float64)
    if soft.shape[1] < 2:
        return np.ones(len(soft))
    part = np.sort(soft, axis=1)
    return part[:, -1] - part[:, -2]


def suggest(
    soft: np.ndarray,
    embedding: np.ndarray,
    labelled: np.ndarray,
    n: int = 10,
    *,
    pool_factor: int = 5,
    random_state: int = 0,
) -> np.ndarray:
    """Indices of ``n`` unlabelled images worth labelling next, most useful first.

    Parameters
    ----------
    soft : ndarray of shape (n_samples, n_clusters)
        Soft assignments (DEC's q).
    embedding : ndarray of shape (n_samples, n_dims)
        Where diversity is measured (DEC's embedding, or the 2-D map).
    labelled : ndarray of bool, shape (n_samples,)
        Images that already have a user label.
    n : int
        How many to suggest.
    pool_factor : int
        The diverse picks come from the ``pool_factor * n`` most unsure images.
    random_state : int
        Breaks ties (same seed, same suggestions).

    Returns
    -------
    ndarray of int
    """
    soft = np.asarray(soft, np.float64)
    emb = np.asarray(embedding, np.float64)
    labelled = np.asarray(labelled, bool)
    free = np.flatnonzero(~labelled)
    if n <= 0 or len(free) == 0:
        return np.zeros(0, np.int64)
    n = min(n, len(free))
    rng = np.random.default_rng(random_state)
    scale = emb.std(0) + 1e-12
    emb = (emb - emb.mean(0)) / scale
    picks: list[int] = []
    # one typical image from each cluster that has no labelled member yet
    hard = soft.argmax(1)
    for c in range(soft.shape[1]):
        members = free[hard[free] == c]
        if len(members) and not (labelled & (hard == c)).any() and len(picks) < n:
            picks.append(int(members[np.argmax(soft[members, c])]))
    tie = rng.random(len(free)) * 1e-9
    order = free[np.argsort(margin(soft[free]) + tie, kind="stable")]
    pool = np.array([i for i in order[: max(n * pool_factor, n)] if i not in picks], np.int64)
    anchors = np.flatnonzero(labelled).tolist() + picks
    if len(pool):
        if anchors:
            d = np.min(((emb[pool, None, :] - emb[None, anchors, :]) ** 2).sum(-1), axis=1)
        else:
            d = np.full(len(pool), np.inf)
        chosen = np.zeros(len(pool), bool)
        while len(picks) < n and not chosen.all():
            if np.isinf(d).all():
                j = 0  # nothing labelled yet: start from the most unsure
            else:
                j = int(np.argmax(np.where(chosen, -np.inf, d)))
            chosen[j] = True
            picks.append(int(pool[j]))
            d = np.minimum(d, ((emb[pool] - emb[pool[j]]) ** 2).sum(-1))
            d[chosen] = -np.inf
    return np.asarray(picks[:n], np.int64)
