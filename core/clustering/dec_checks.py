"""DEC's known failure modes, checked after fitting (see :mod:`core.clustering.dec`): collapsed clusters, worse than k-means.

``check_result(dec, X)`` is a function of a fitted :class:`~core.clustering.dec.DEC`,
kept apart from the estimator so that each module stays readable.
"""

from __future__ import annotations

import numpy as np

from core.clustering.dec_objective import student_t


def check_result(self, X: np.ndarray) -> None:  # noqa: N803 - the estimator, as in its method
    """Catch DEC's failure modes: empty or collapsed clusters, worse than k-means."""
    from sklearn.metrics import silhouette_score

    n = len(X)
    sizes = np.bincount(self.labels_, minlength=self.n_clusters)
    small = [j for j in range(self.n_clusters) if sizes[j] < max(1, 0.01 * n)]
    self.collapsed_ = bool(small)
    if small:
        self.warnings_.append(
            f"DEC emptied or collapsed cluster(s) {small} (sizes {sizes.tolist()}): DEC favours "
            "balanced clusters and the data may hold fewer groups than asked; try a smaller number "
            "of clusters (see the silhouette suggestion) or k-means.")
    self.silhouette_ = self.silhouette_kmeans_ = float("nan")
    if self.n_clusters >= 2 and len(np.unique(self.labels_)) >= 2:
        from sklearn.cluster import KMeans

        # Judge both on DEC's final embedding: is DEC's partition of it
        # clearly less compact than k-means's partition of the same points?
        rng = np.random.default_rng(0)
        sample = rng.choice(n, size=min(n, 3000), replace=False)
        z = self.transform(X[sample])
        km = KMeans(self.n_clusters, n_init=5, random_state=0).fit_predict(z)
        self.silhouette_ = float(silhouette_score(z, self.labels_[sample]))
        if len(np.unique(km)) >= 2:
            self.silhouette_kmeans_ = float(silhouette_score(z, km))
        if self.silhouette_ < self.silhouette_kmeans_ - 0.05:
            self.warnings_.append(
                f"DEC's clusters separate worse than k-means on the same embedding (silhouette "
                f"{self.silhouette_:.2f} vs {self.silhouette_kmeans_:.2f}); compare with method 'kmeans'.")
    self.fell_back_ = False
    if self.collapsed_ and self.fallback == "kmeans" and getattr(self, "streamed_", False):
        self.warnings_.append("Kept the collapsed result: a streamed fit has no start partition of every row.")
    elif self.collapsed_ and self.fallback == "kmeans":
        self.labels_ = self.kmeans_labels_.copy()
        km_centers = np.stack([self.initial_embedding_[self.labels_ == j].mean(0) if (self.labels_ == j).any()
                               else self.cluster_centers_[j] for j in range(self.n_clusters)])
        self.soft_assignments_ = student_t(self.initial_embedding_, km_centers, self.alpha)
        self.fell_back_ = True
        self.warnings_.append("Kept the k-means clusters of the DEC embedding instead of the collapsed DEC result.")
