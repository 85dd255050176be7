"""Clusters of unequal size: a Gaussian mixture that estimates the class fractions.

k-means puts the boundary half-way between centres, so with two groups it splits
a folder near 50/50 even when the truth is 86:14 (Galaxy Zoo ellipticals vs
spirals) or 25:75 (GALAXY CRUISE non-spirals vs spirals).  A Gaussian mixture
estimates each component's weight together with its mean, so a small class keeps
a small cluster; its posterior probabilities shift the boundary towards the small
class exactly as Bayes' rule with unequal priors does (the same re-weighting
Saerens et al. 2002 apply to a classifier's outputs by EM).

Why a low-dimensional, tied-covariance mixture: a full covariance per component
in hundreds of dimensions has more parameters than a folder has images, and
lets one component swallow the outliers.  Standardised features are projected
by PCA onto a few axes (``n_components``, as many as clusters by default), where the morphology split of a
galaxy-trained embedding lives, and the mixture shares one covariance matrix
between components (a linear boundary, like LDA with estimated priors).  It is
started from k-means on the same projection and from several random starts;
the solution with the highest likelihood wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.threads import one_blas_thread


@dataclass
class MixtureResult:
    """Hard labels, posterior probabilities and the estimated cluster fractions."""

    labels: np.ndarray
    soft: np.ndarray
    weights: np.ndarray
    n_components: int
    covariance_type: str
    log_likelihood: float
    predict_proba: Callable[[np.ndarray], np.ndarray] | None = None
    """The fitted mixture's posteriors for new rows of the same features (clusters in ``labels``' order)."""


#: Single k-means++ runs whose distinct partitions start the mixture's candidates (:func:`kmeans_starts`).
KMEANS_STARTS = 30
#: Most distinct k-means partitions (the lowest inertia first) a mixture is fitted from.
KMEANS_CANDIDATES = 4
#: Rows (a seeded sample) the k-means runs see on a larger folder.
KMEANS_ROWS = 20_000
#: PCA axes the ``n_components="consensus"`` mixture chooses among (:func:`consensus_mixture`).
CONSENSUS_AXES = (2, 3, 4)
#: Mixture seeds (0, 1, ...) the consensus pools on a folder of at most :data:`CONSENSUS_POOL_ROWS` rows.
CONSENSUS_SEEDS = 5
#: Rows up to which the consensus pools :data:`CONSENSUS_SEEDS` seeds (above: one, ``random_state``).
CONSENSUS_POOL_ROWS = 10_000


def kmeans_starts(Z: np.ndarray, k: int, random_state: int = 0) -> list[np.ndarray]:
    """Centres of the distinct partitions that :data:`KMEANS_STARTS` single k-means++ runs on ``Z`` reach.

    Why not the one best of 10 k-means starts, as before: the partition with the
    lowest k-means inertia is not always the one whose Gaussian mixture is most
    likely.  On GALAXY CRUISE's SDSS render in band r (galaxy_trio features) a
    single k-means++ start reaches the better of two basins 44 % of the time, and
    for one seed in ten the best of 10 missed it (DEC 0.775 / ARI 0.147 instead of
    0.89 / 0.50); on four blobs in 40 dimensions (``tests/core/test_dec.py``) the
    lowest inertia of 30 starts is a worse mixture (log-likelihood -4.04 against
    -3.54).  So every distinct partition among the runs, up to
    :data:`KMEANS_CANDIDATES` of them by inertia, starts a mixture, and the most
    likely mixture wins.  Seeded from ``random_state``.  Above :data:`KMEANS_ROWS`
    rows the runs see a seeded sample of that many, so their cost is bounded.
    """
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(random_state)
    seeds = rng.integers(0, 2**31 - 1, KMEANS_STARTS)
    if len(Z) > KMEANS_ROWS:  # starts need the shape of the data, not every row: the mixture then sees them all
        Z = Z[np.sort(rng.choice(len(Z), KMEANS_ROWS, replace=False))]
    found: dict[bytes, tuple[float, np.ndarray]] = {}
    for seed in seeds:
        km = KMeans(k, n_init=1, random_state=int(seed)).fit(Z)
        order = np.lexsort(km.cluster_centers_.T[::-1])
        key = np.round(km.cluster_centers_[order], 3).tobytes()  # the same partition, whatever its numbering
        if key not in found or km.inertia_ < found[key][0]:
            found[key] = (float(km.inertia_), km.cluster_centers_[order])
    ranked = sorted(found.values(), key=lambda item: item[0])
    return [centres for _, centres in ranked[:KMEANS_CANDIDATES]]


def prior_mixture(
    X: np.ndarray,
    n_clusters: int = 2,
    *,
    n_components: int | str | None = None,
    covariance_type: str = "tied",
    n_init: int = 5,
    random_state: int = 0,
) -> MixtureResult:
    """Cluster rows of ``X`` with a Gaussian mixture whose weights are estimated.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Image features.
    n_clusters : int
        Mixture components (clusters).
    n_components : int, "consensus" or None
        PCA axes of the standardised features the mixture is fitted on; by
        default as many as clusters (on the Kaggle *train* split, galaxy CNN
        features, k=2: balanced ACC 0.92 with 2 axes, 0.85 with 8; k=3: 0.68
        with 3 axes, 0.49 with 8; the test split and GC1 were not looked at).
        "consensus": :func:`consensus_mixture` (galaxies small in their frames).
    covariance_type : {"tied", "full", "diag", "spherical"}
        scikit-learn's covariance structure; ``tied`` (one shared matrix) by default.
    n_init : int
        Random starts besides the k-means start; the best likelihood wins.
    random_state : int
        Seed; same seed, same clusters.

    Returns
    -------
    MixtureResult
        ``weights`` are the estimated cluster fractions (they sum to 1).

    Notes
    -----
    Fitted on one BLAS and one OpenMP thread (:func:`core.threads.one_blas_thread`):
    its operations are small, so a second thread costs more than it gives.
    """
    if n_components == "consensus":
        return consensus_mixture(X, n_clusters, covariance_type=covariance_type, n_init=n_init,
                                 random_state=random_state)
    import sklearn.mixture  # noqa: F401  (scikit-learn's OpenMP runtime loaded first, so the limit reaches it)

    with one_blas_thread():
        return _prior_mixture(X, n_clusters, n_components, covariance_type, n_init, random_state)


def _prior_mixture(X: np.ndarray, n_clusters: int, n_components: int | None, covariance_type: str, n_init: int,
                   random_state: int) -> MixtureResult:
    """:func:`prior_mixture`'s fit, run under one BLAS and OpenMP thread."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n < 2:
        raise ValueError("at least two images are needed to cluster")
    k = int(min(n_clusters, n))
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    d = max(1, min(k if n_components is None else n_components, n - 1, X.shape[1]))
    pca = PCA(d, random_state=random_state).fit(Z)
    Z = pca.transform(Z)
    # Whiten the axes by their spread so no single axis's scale decides the start.
    spread = Z.std(axis=0, keepdims=True) + 1e-12
    Z = Z / spread
    reg = 1e-4
    candidates = [GaussianMixture(k, covariance_type=covariance_type, means_init=centres, reg_covar=reg,
                                  max_iter=500, random_state=random_state).fit(Z)
                  for centres in kmeans_starts(Z, k, random_state)]
    if n_init > 0:
        candidates.append(GaussianMixture(k, covariance_type=covariance_type, n_init=n_init, init_params="random_from_data",
                                          reg_covar=reg, max_iter=500, random_state=random_state).fit(Z))
    best = max(candidates, key=lambda g: g.score(Z))
    soft = best.predict_proba(Z)
    labels = soft.argmax(1).astype(np.int64)
    # Renumber clusters by size, largest first, so the numbering is stable across seeds.
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    remap = np.empty(k, np.int64)
    remap[order] = np.arange(k)

    def predict_proba(rows: np.ndarray) -> np.ndarray:
        z = pca.transform(scaler.transform(np.asarray(rows, dtype=np.float64))) / spread
        return best.predict_proba(z)[:, order]

    return MixtureResult(remap[labels], soft[:, order], best.weights_[order], d, covariance_type,
                         float(best.score(Z)), predict_proba)


def consensus_mixture(
    X: np.ndarray,
    n_clusters: int = 2,
    *,
    axes: tuple[int, ...] = CONSENSUS_AXES,
    covariance_type: str = "tied",
    n_init: int = 5,
    random_state: int = 0,
    seeds: int = CONSENSUS_SEEDS,
) -> MixtureResult:
    """The :func:`prior_mixture` on 2, 3 or 4 PCA axes whose partition the others agree with most.

    Why: when galaxies are small in their frames, the two leading axes of the
    features need not hold the morphology split.  On Kaggle's *training* split
    (galaxy_duo features, 700-image draws at 85 : 15 and 75 : 25) with each
    galaxy shrunk to 1/3 of its size, the 2-axis mixture gave balanced ACC
    0.883 / 0.888 while 3 and 4 axes gave 0.915-0.952.  The number of axes
    cannot be chosen by likelihood (each is a different space), and the
    mixtures' entropy falls with the axes whatever the partition; agreement
    can: a partition other projections also find is the folder's main split,
    not one projection's.  The sum of adjusted Rand indices with the other
    mixtures picks the winner; a tie goes to fewer axes, then the lower seed.

    Why several seeds: one mixture seed made the start a lottery on some
    folders.  GC1-SDSS with its galaxies shrunk to 1/4 of their size
    (``benchmarks/robustness.py``): the 3-axis mixture ended in one of two
    solutions depending on the seed, and DEC's balanced accuracy spread over
    5 seeds was 0.078 (issue 24 asks for 0.02).  So on a folder of at most
    :data:`CONSENSUS_POOL_ROWS` rows the candidates are the mixtures on every entry of
    ``axes`` for the fixed seeds ``0 .. seeds - 1``, and the partition they
    agree on most wins: the start no longer depends on ``random_state`` (DEC's
    own training still does), at 5-7 times the cost: 4.4 s against 0.8 s at
    771 rows, 7.5 s against 1.1 s at 10,000 (one run each on the quiet 2-core
    CPU, 128 features).  Above :data:`CONSENSUS_POOL_ROWS` rows, one seed,
    ``random_state``, as before: 20,000 rows would take 18 s against 3.4 s,
    and every mixture is fitted on every row.  Since the fits run on one BLAS
    and OpenMP thread (:mod:`core.threads`) the pooled start of 771 rows takes
    1.3-1.5 s and of 7,704 rows 3.5-3.6 s (the 2-axis start 0.1 s and 0.2 s;
    ``benchmarks/start_threads.py``), with the same partitions.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_clusters : int
    axes : tuple of int
        The PCA axes of each candidate mixture (:data:`CONSENSUS_AXES`).
    covariance_type, n_init :
        As :func:`prior_mixture`'s.
    random_state : int
        The one mixture seed above :data:`CONSENSUS_POOL_ROWS` rows or with ``seeds=1``; unused otherwise.
    seeds : int
        Mixture seeds pooled (:data:`CONSENSUS_SEEDS`); 1 is the single-seed consensus at any size.

    Returns
    -------
    MixtureResult
        The chosen mixture (``n_components`` says how many axes it used).
    """
    from sklearn.metrics import adjusted_rand_score

    pooled = range(seeds) if seeds > 1 and len(X) <= CONSENSUS_POOL_ROWS else (random_state,)
    with one_blas_thread():
        found = [prior_mixture(X, n_clusters, n_components=d, covariance_type=covariance_type, n_init=n_init,
                               random_state=s) for s in pooled for d in axes]
        # the adjusted Rand index is symmetric: each pair once (the same sums, half the calls)
        pair = np.zeros((len(found), len(found)))
        for i in range(len(found)):
            for j in range(i + 1, len(found)):
                pair[i, j] = pair[j, i] = adjusted_rand_score(found[i].labels, found[j].labels)
    agreement = [sum(pair[i, j] for j in range(len(found)) if j != i) for i in range(len(found))]
    best = max(range(len(found)), key=lambda i: (round(agreement[i], 6), -found[i].n_components, -i))
    return found[best]
