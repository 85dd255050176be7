"""Clustering methods behind one call: DEC and the baselines the seed papers used.

* ``dec``: Deep Embedded Clustering on the CNN features (the product's default);
* ``kmeans``: plain k-means on the features (seeds 002, 003);
* ``pca-kmeans``: k-means after PCA to 50 dimensions (seed 003);
* ``agglomerative``: Ward linkage on PCA-50 features (seed 002);
* ``gmm``: a Gaussian mixture on a PCA view that estimates unequal cluster
  fractions (:mod:`core.cluster_prior`; k-means splits folders near 50/50);
* ``dbscan``: density clustering on PCA-10 features with an eps taken from the
  k-nearest-neighbour distances (seed 002); its noise points form cluster -1.

Raw-pixel DEC (seed 001's "standalone DEC") is ``dec`` applied to
:func:`core.features.raw_pixel_features`; the pipeline offers it as ``dec-raw``.

Every method returns a :class:`ClusterResult` with a confidence per image:
the Student's t soft assignment to the cluster centres (DEC's own ``q`` for DEC,
the same kernel on the cluster means for the others), so "least sure first"
means the same thing whatever the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.dec import DEC, student_t
from core.progress import ProgressFn, StopFn

METHODS = ("dec", "kmeans", "pca-kmeans", "gmm", "agglomerative", "dbscan", "dec-raw")
DEFAULT_METHOD = "dec"


@dataclass
class ClusterResult:
    """Labels, confidences and what the user should know about them."""

    method: str
    labels: np.ndarray
    confidence: np.ndarray
    soft: np.ndarray
    warnings: list[str] = field(default_factory=list)
    model: object | None = None
    params: dict[str, object] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[int, int]:
        """Images per cluster."""
        ids, counts = np.unique(self.labels, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts)}


def _standardise(X: np.ndarray) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(X)


def _pca(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n = max(1, min(n, X.shape[0] - 1, X.shape[1]))
    return PCA(n, random_state=seed).fit_transform(X)


def _soft_from_labels(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    ids = [c for c in np.unique(labels) if c >= 0]
    if not ids:
        return np.ones((len(Z), 1))
    centers = np.stack([Z[labels == c].mean(0) for c in ids])
    # Scale distances so the kernel is not flat in high dimensions.
    scale = np.sqrt(np.mean(((Z - centers.mean(0)) ** 2).sum(1))) + 1e-12
    return student_t(Z / scale * 3.0, centers / scale * 3.0)


def cluster_features(
    X: np.ndarray,
    method: str = DEFAULT_METHOD,
    n_clusters: int = 2,
    *,
    random_state: int = 0,
    dec_params: dict[str, object] | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> ClusterResult:
    """Cluster the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    method : str
        One of :data:`METHODS` (``dec-raw`` expects raw-pixel rows).
    n_clusters : int
        Clusters asked for (ignored by DBSCAN, which finds its own number).
    random_state : int
        Seed; same seed, same clusters.
    dec_params : dict, optional
        Extra parameters for :class:`~core.dec.DEC`.
    progress, should_stop : callables, optional
        Progress report and cancellation (DEC only; the others take seconds).

    Returns
    -------
    ClusterResult
    """
    from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float32)
    if len(X) < 2:
        raise ValueError("at least two images are needed to cluster")
    n_clusters = int(min(n_clusters, len(X)))
    params: dict[str, object] = {"n_clusters": n_clusters, "random_state": random_state}
    warnings: list[str] = []
    if method in ("dec", "dec-raw"):
        extra = dict(dec_params or {})
        dec = DEC(n_clusters, random_state=random_state, **extra)
        dec.fit(X, progress=progress, should_stop=should_stop)
        soft = dec.soft_assignments_
        params.update({k: getattr(dec, k) for k in ("hidden_dims", "alpha", "tol", "batch_size",
                                                     "pretrain_epochs", "finetune_epochs", "dropout", "lr",
                                                     "standardise", "reconstruction_weight")})
        params["iterations"] = int(dec.n_iter_)
        params["converged"] = bool(dec.history_.converged)
        return ClusterResult(method, dec.labels_, soft.max(1), soft, list(dec.warnings_), dec, params)
    if method == "gmm":
        from core.cluster_prior import prior_mixture

        mix = prior_mixture(X, n_clusters, random_state=random_state)
        params.update({"pca_components": mix.n_components, "covariance_type": mix.covariance_type,
                       "weights": [round(float(w), 4) for w in mix.weights]})
        return ClusterResult(method, mix.labels, mix.soft.max(1), mix.soft, warnings, None, params)
    if method == "kmeans":
        labels = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(X)
        Z = X
    elif method == "pca-kmeans":
        Z = _pca(_standardise(X), 50, random_state)
        labels = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(Z)
        params["pca_components"] = Z.shape[1]
    elif method == "agglomerative":
        Z = _pca(_standardise(X), 50, random_state)
        labels = AgglomerativeClustering(n_clusters, linkage="ward").fit_predict(Z)
        params["pca_components"] = Z.shape[1]
    elif method == "dbscan":
        Z = _pca(_standardise(X), 10, random_state)
        min_samples = max(5, int(np.log(len(Z)) * 2))
        dist = NearestNeighbors(n_neighbors=min_samples).fit(Z).kneighbors(Z)[0][:, -1]
        eps = float(np.quantile(dist, 0.9))
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(Z)
        params.update({"eps": eps, "min_samples": min_samples, "pca_components": Z.shape[1]})
        found = len(set(labels) - {-1})
        noise = float(np.mean(labels == -1))
        warnings.append(f"DBSCAN found {found} cluster(s) and left {noise:.0%} of the images as noise (cluster -1).")
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    labels = np.asarray(labels, dtype=np.int64)
    soft = _soft_from_labels(Z, labels)
    confidence = soft.max(1)
    if method == "dbscan":
        confidence = np.where(labels < 0, 0.0, confidence)
    return ClusterResult(method, labels, confidence, soft, warnings, None, params)


def suggest_n_clusters(
    X: np.ndarray, k_range: range = range(2, 9), random_state: int = 0, sample: int = 3000
) -> dict[int, float]:
    """Silhouette score of k-means for each k on a PCA-10 view of standardised features.

    A rough guide to the number of groups the features support, cheap enough
    to run before DEC (DEC's own embedding is not known until it is trained).
    Higher is better.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = np.asarray(X, dtype=np.float32)
    Z = _pca(_standardise(X), 10, random_state)
    rng = np.random.default_rng(random_state)
    idx = rng.choice(len(Z), size=min(sample, len(Z)), replace=False)
    out: dict[int, float] = {}
    for k in k_range:
        if k >= len(idx):
            break
        labels = KMeans(k, n_init=5, random_state=random_state).fit_predict(Z[idx])
        out[k] = float(silhouette_score(Z[idx], labels))
    return out
