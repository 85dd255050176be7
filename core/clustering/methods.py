"""Clustering methods behind one call: DEC and the baselines the seed papers used.

* ``dec``: Deep Embedded Clustering on the CNN features (the product's default);
* ``kmeans``: plain k-means on the features (seeds 002, 003);
* ``pca-kmeans``: k-means after PCA to 50 dimensions (seed 003);
* ``agglomerative``: Ward linkage on PCA-50 features (seed 002);
* ``gmm``: a Gaussian mixture on a PCA view that estimates unequal cluster
  fractions (:mod:`core.clustering.prior`; k-means splits folders near 50/50);
* ``dbscan``: density clustering on PCA-10 features with an eps taken from the
  k-nearest-neighbour distances (seed 002); its noise points form cluster -1.

Raw-pixel DEC (seed 001's "standalone DEC") is ``dec`` applied to
:func:`core.features.extract.raw_pixel_features`; the pipeline offers it as ``dec-raw``.

Each method is one entry of :data:`CLUSTER_METHODS` (name, display name,
function, options); the app, the CLI and the benchmarks list the methods from it.
Every method returns a :class:`ClusterResult` with a confidence per image:
the Student's t soft assignment to the cluster centres (DEC's own ``q`` for DEC,
the same kernel on the cluster means for the others), so "least sure first"
means the same thing whatever the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.clustering.dec import DEC
from core.clustering.dec_objective import student_t
from core.progress import ProgressFn, StopFn
from core.registry import Registry


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


def _dec(X: np.ndarray, n_clusters: int, *, random_state: int, dec_params: dict[str, object] | None,
         progress: ProgressFn | None, should_stop: StopFn | None) -> ClusterResult:
    dec = DEC(n_clusters, random_state=random_state, **dict(dec_params or {}))
    dec.fit(X, progress=progress, should_stop=should_stop)
    soft = dec.soft_assignments_
    params: dict[str, object] = {"n_clusters": n_clusters, "random_state": random_state}
    # The full estimator parameters are the record: get_params() once DEC is a scikit-learn
    # estimator, the parameters listed by hand until then.
    get_params = getattr(dec, "get_params", None)
    params.update(get_params() if callable(get_params) else
                  {k: getattr(dec, k) for k in ("hidden_dims", "alpha", "tol", "batch_size", "pretrain_epochs",
                                                "finetune_epochs", "dropout", "lr", "standardise",
                                                "reconstruction_weight")})
    params["iterations"] = int(dec.n_iter_)
    params["converged"] = bool(dec.history_.converged)
    return ClusterResult("dec", dec.labels_, soft.max(1), soft, list(dec.warnings_), dec, params)


def _from_labels(method: str, Z: np.ndarray, labels: np.ndarray, params: dict[str, object],
                 warnings: list[str] | None = None) -> ClusterResult:
    labels = np.asarray(labels, dtype=np.int64)
    soft = _soft_from_labels(Z, labels)
    confidence = np.where(labels < 0, 0.0, soft.max(1))
    return ClusterResult(method, labels, confidence, soft, list(warnings or []), None, params)


def _kmeans(X: np.ndarray, n_clusters: int, *, random_state: int, **_: object) -> ClusterResult:
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(X)
    return _from_labels("kmeans", X, labels, {"n_clusters": n_clusters, "random_state": random_state})


def _pca_kmeans(X: np.ndarray, n_clusters: int, *, random_state: int, **_: object) -> ClusterResult:
    from sklearn.cluster import KMeans

    Z = _pca(_standardise(X), 50, random_state)
    labels = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(Z)
    params = {"n_clusters": n_clusters, "random_state": random_state, "pca_components": Z.shape[1]}
    return _from_labels("pca-kmeans", Z, labels, params)


def _gmm(X: np.ndarray, n_clusters: int, *, random_state: int, **_: object) -> ClusterResult:
    from core.clustering.prior import prior_mixture

    mix = prior_mixture(X, n_clusters, random_state=random_state)
    params = {"n_clusters": n_clusters, "random_state": random_state, "pca_components": mix.n_components,
              "covariance_type": mix.covariance_type, "weights": [round(float(w), 4) for w in mix.weights]}
    return ClusterResult("gmm", mix.labels, mix.soft.max(1), mix.soft, [], None, params)


def _agglomerative(X: np.ndarray, n_clusters: int, *, random_state: int, **_: object) -> ClusterResult:
    from sklearn.cluster import AgglomerativeClustering

    Z = _pca(_standardise(X), 50, random_state)
    labels = AgglomerativeClustering(n_clusters, linkage="ward").fit_predict(Z)
    params = {"n_clusters": n_clusters, "random_state": random_state, "pca_components": Z.shape[1]}
    return _from_labels("agglomerative", Z, labels, params)


def _dbscan(X: np.ndarray, n_clusters: int, *, random_state: int, **_: object) -> ClusterResult:
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    Z = _pca(_standardise(X), 10, random_state)
    min_samples = max(5, int(np.log(len(Z)) * 2))
    dist = NearestNeighbors(n_neighbors=min_samples).fit(Z).kneighbors(Z)[0][:, -1]
    eps = float(np.quantile(dist, 0.9))
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(Z)
    params = {"n_clusters": n_clusters, "random_state": random_state, "eps": eps, "min_samples": min_samples,
              "pca_components": Z.shape[1]}
    found = len(set(labels) - {-1})
    noise = float(np.mean(labels == -1))
    warning = f"DBSCAN found {found} cluster(s) and left {noise:.0%} of the images as noise (cluster -1)."
    return _from_labels("dbscan", Z, labels, params, [warning])


@dataclass(frozen=True)
class MethodOptions:
    """What callers need to know about a clustering method.

    Attributes
    ----------
    uses_k : bool
        The method clusters into the k asked for; False: it finds its own number
        (the app greys out k, the pipeline does not cap or check it).
    input : {"features", "pixels"}
        What the pipeline feeds it: the model's features, or raw 32x32 grey pixels.
    keeps_encoder : bool
        The run keeps the method's DEC encoder (ONNX), which fine-tuning rounds start from.
    min_images : int
        The fewest images it can work on (DBSCAN: its smallest dense neighbourhood); refused before any work.
    """

    uses_k: bool = True
    input: Literal["features", "pixels"] = "features"
    keeps_encoder: bool = False
    min_images: int = 2


#: The clustering methods: name -> entry whose factory is
#: ``fn(X, n_clusters, *, random_state, dec_params, progress, should_stop) -> ClusterResult``
#: and whose options are a :class:`MethodOptions`.
CLUSTER_METHODS: Registry[MethodOptions] = Registry("clustering method", default="dec", options_type=MethodOptions)
CLUSTER_METHODS.add("dec", _dec, "DEC (deep embedded clustering)",
                    "Deep Embedded Clustering on the CNN features", keeps_encoder=True)
CLUSTER_METHODS.add("kmeans", _kmeans, "k-means", "k-means on the features")
CLUSTER_METHODS.add("pca-kmeans", _pca_kmeans, "PCA + k-means", "k-means on a 50-d PCA of the features")
CLUSTER_METHODS.add("agglomerative", _agglomerative, "agglomerative (Ward)", "Ward linkage on a 50-d PCA")
CLUSTER_METHODS.add("dbscan", _dbscan, "DBSCAN (finds its own number)", "density clustering on a 10-d PCA",
                    uses_k=False, min_images=5)
CLUSTER_METHODS.add("dec-raw", _dec, "DEC on raw pixels (baseline)", "DEC on 32x32 grey pixels", input="pixels")
CLUSTER_METHODS.add("gmm", _gmm, "Gaussian mixture (unequal cluster sizes)",
                    "a Gaussian mixture on a PCA of the features that estimates each cluster's share")
DEFAULT_METHOD = CLUSTER_METHODS.default


def checked_n_clusters(method: str, n_clusters: int, n_images: int) -> tuple[int, list[str]]:
    """The number of clusters a run can really use, and a warning when it differs from the one asked for.

    A method that finds its own number (``uses_k=False``, e.g. DBSCAN) takes
    k as given; every other needs at least one image more than clusters.
    Raises ``ValueError`` when fewer than 2 clusters are asked for, or when
    too few images are readable to make 2.
    """
    entry = CLUSTER_METHODS.get(method)
    if not entry.options.uses_k:
        if n_images < entry.options.min_images:
            raise ValueError(f"{entry.name.upper()} needs at least {entry.options.min_images} readable images (found "
                             f"{n_images}): it calls a group dense only when {entry.options.min_images} images lie "
                             f"close together; use --method kmeans for so few")
        return n_clusters, []
    if n_clusters < 2:
        raise ValueError(f"--clusters must be at least 2 (got {n_clusters})")
    if n_clusters < n_images:
        return n_clusters, []
    used = n_images - 1
    if used < 2:
        raise ValueError(f"{n_images} readable image{'' if n_images == 1 else 's'} cannot be split into "
                         f"{n_clusters} clusters; add images")
    return used, [f"asked for {n_clusters} clusters but only {n_images} images could be read: "
                  f"clustered into {used} instead"]


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
    """Cluster the rows of ``X`` with a method of :data:`CLUSTER_METHODS`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    method : str
        A name in :data:`CLUSTER_METHODS` (``dec-raw`` expects raw-pixel rows).
    n_clusters : int
        Clusters asked for (ignored by DBSCAN, which finds its own number).
    random_state : int
        Seed; same seed, same clusters.
    dec_params : dict, optional
        Extra parameters for :class:`~core.clustering.dec.DEC`.
    progress, should_stop : callables, optional
        Progress report and cancellation (DEC only; the others take seconds).

    Returns
    -------
    ClusterResult
        With ``method`` the name asked for, and ``params["k_used"]`` the number of
        clusters found (noise excluded), which can differ from the number asked for.
    """
    entry = CLUSTER_METHODS.get(method)
    X = np.asarray(X, dtype=np.float32)
    if len(X) < 2:
        raise ValueError("at least two images are needed to cluster")
    n_clusters = int(min(n_clusters, len(X)))
    result = entry.factory(X, n_clusters, random_state=random_state, dec_params=dec_params, progress=progress,
                           should_stop=should_stop)
    result.method = method
    result.params["k_used"] = int(len(set(np.asarray(result.labels).tolist()) - {-1}))
    return result


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


def describe_k_scores(scores: dict[int, float]) -> str:
    """One line per k with its silhouette, the highest marked (the app's wording)."""
    best = max(scores, key=lambda k: scores[k])
    return "\n".join(f"k = {k}: silhouette {s:.3f}{'  <- best' if k == best else ''}" for k, s in scores.items())
