"""2-D maps of the features for display: PCA, t-SNE, and LDA once labels exist.

UMAP is not offered: it would add numba and llvmlite (about 150 MB to the
packaged app) for a map that t-SNE already gives on a few thousand galaxies.
t-SNE runs on a 50-d PCA of the standardised features (the usual
practice; it is much faster and removes noise dimensions).  With two classes
LDA has a single discriminant axis, so the second axis is the first principal
component of what LDA leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.registry import Registry


def _pca_map(Z: np.ndarray, labels: Sequence | None, random_state: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(2, random_state=random_state).fit_transform(Z)


def _tsne_map(Z: np.ndarray, labels: Sequence | None, random_state: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(Z)
    reduced = PCA(min(50, Z.shape[1], n - 1), random_state=random_state).fit_transform(Z)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(reduced)


def _lda_map(Z: np.ndarray, labels: Sequence | None, random_state: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    if labels is None:
        raise ValueError("LDA needs labels")
    n = len(Z)
    lab = np.array(["" if v is None else str(v) for v in labels], dtype=object)
    known = lab != ""
    if len(set(lab[known])) < 2:
        raise ValueError("LDA needs at least two labelled classes")
    reduced = PCA(min(50, Z.shape[1], n - 1), random_state=random_state).fit_transform(Z)
    lda = LinearDiscriminantAnalysis(n_components=min(2, len(set(lab[known])) - 1))
    lda.fit(reduced[known], lab[known])
    axes = lda.transform(reduced)
    if axes.shape[1] < 2:
        direction = lda.scalings_[:, 0] / np.linalg.norm(lda.scalings_[:, 0])
        residual = reduced - np.outer(reduced @ direction, direction)
        axes = np.column_stack([axes[:, 0], PCA(1, random_state=random_state).fit_transform(residual)[:, 0]])
    return axes


#: The map projections: name -> entry whose factory is ``fn(Z, labels, random_state) -> (n, 2)`` on
#: standardised features.  Option ``needs_labels``: the map is fitted on the user's labels (the pipeline
#: then maps with PCA, and the app asks for labels first).
PROJECTION_METHODS = Registry("projection", default="pca")
PROJECTION_METHODS.add("pca", _pca_map, "PCA", "first two principal components")
PROJECTION_METHODS.add("tsne", _tsne_map, "t-SNE", "t-SNE on a 50-d PCA")
PROJECTION_METHODS.add("lda", _lda_map, "LDA (needs labels)", "linear discriminants of the labelled classes",
                       needs_labels=True)


def project(
    X: np.ndarray, method: str = "pca", *, labels: Sequence | None = None, random_state: int = 0
) -> np.ndarray:
    """Return 2-D coordinates of the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    method : str
        A name in :data:`PROJECTION_METHODS` (``"pca"``, ``"tsne"``, ``"lda"``).
    labels : sequence of length n_samples, optional
        Class of each row for LDA; ``None`` or ``""`` marks unlabelled rows,
        which are projected with the axes fitted on the labelled ones.
    random_state : int

    Returns
    -------
    ndarray of shape (n_samples, 2), float32
    """
    from sklearn.preprocessing import StandardScaler

    entry = PROJECTION_METHODS.get(method)
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
    Z = StandardScaler().fit_transform(X)
    return np.asarray(entry.factory(Z, labels, random_state), dtype=np.float32)
