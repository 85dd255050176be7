"""2-D maps of the features for display: PCA, t-SNE, and LDA once labels exist.

UMAP is not offered: it would add numba and llvmlite (about 150 MB to the
packaged app) for a map that t-SNE already gives on a few thousand galaxies.
t-SNE runs on a 50-d PCA of the standardised features (the usual
practice; it is much faster and removes noise dimensions), with openTSNE's
FFT-accelerated gradient (Linderman et al. 2019) past a few thousand points:
60,000 galaxies in about a minute on two cores where scikit-learn's
Barnes-Hut takes many, and a callback every few iterations that reports
progress and can stop it.  With two classes
LDA has a single discriminant axis, so the second axis is the first principal
component of what LDA leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.progress import Cancelled, ProgressFn, StopFn
from core.registry import Registry

#: t-SNE's PCA step fits its axes on at most this many rows (a seeded subsample), then maps every row.
PCA_FIT_ROWS = 10_000
#: Above this many points t-SNE maps a seeded sample of :data:`TSNE_SAMPLE` and places the rest on that map
#: with openTSNE's transform (issue 22: a million galaxies); below it every point is in the t-SNE.
TSNE_SAMPLE_ABOVE = 100_000
TSNE_SAMPLE = 50_000
#: The rest is placed this many points at a time (progress and cancel between and within chunks).
PLACE_CHUNK = 50_000


def _pca_map(Z: np.ndarray, labels: Sequence | None, random_state: int, **_: object) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(2, random_state=random_state).fit_transform(Z)


def _tsne_map(Z: np.ndarray, labels: Sequence | None, random_state: int, *, progress: ProgressFn | None = None,
              should_stop: StopFn | None = None) -> np.ndarray:
    from sklearn.decomposition import PCA

    if progress:
        progress(0.0, f"t-SNE: reducing {len(Z)} points to 50 dimensions (PCA)")
    # The axes from at most 10,000 rows (seeded) are the axes of all: at 60,000 x 2,048 the full
    # fit took 21 s of a ~60 s budget, and 10,000 rows pin 50 components down well.
    fit_rows = Z
    if len(Z) > PCA_FIT_ROWS:
        fit_rows = Z[np.sort(np.random.default_rng(random_state).choice(len(Z), PCA_FIT_ROWS, replace=False))]
    pca = PCA(min(50, Z.shape[1], len(fit_rows) - 1), random_state=random_state).fit(fit_rows)
    return tsne(pca.transform(Z), random_state=random_state, progress=progress, should_stop=should_stop)


def _lda_map(Z: np.ndarray, labels: Sequence | None, random_state: int, **_: object) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    if labels is None:
        raise ValueError("LDA needs labels")
    n = len(Z)
    lab = ["" if v is None else str(v) for v in labels]
    classes = sorted(set(lab) - {""})  # the order np.unique gives them, without sorting 200,000 texts in one call
    if len(classes) < 2:
        raise ValueError("LDA needs at least two labelled classes")
    code = {name: i for i, name in enumerate(classes)}
    y = np.fromiter((code.get(v, -1) for v in lab), np.int64, count=n)
    known = y >= 0
    reduced = PCA(min(50, Z.shape[1], n - 1), random_state=random_state).fit_transform(Z)
    # The eigen solver: two 50 x 50 scatter matrices, not scikit-learn's default SVD of every labelled row
    # (scipy.linalg.svd of 200,000 x 50 in a survey kept the interpreter lock 0.35-0.9 s, the window frozen
    # while the map's job ran; this fit's longest hold is 12-16 ms).  Ledoit-Wolf shrinkage keeps the
    # within-class scatter invertible when a few dozen answers span 50 dimensions, where the SVD solver
    # worked and the plain eigen solver fails.
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto", n_components=min(2, len(classes) - 1))
    lda.fit(reduced[known], y[known])
    axes = lda.transform(reduced)
    if axes.shape[1] < 2:
        direction = lda.scalings_[:, 0] / np.linalg.norm(lda.scalings_[:, 0])
        residual = reduced - np.outer(reduced @ direction, direction)
        axes = np.column_stack([axes[:, 0], PCA(1, random_state=random_state).fit_transform(residual)[:, 0]])
    return axes


def tsne(
    X: np.ndarray,
    *,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    n_jobs: int | None = None,
    early_exaggeration_iter: int = 250,
    n_iter: int = 250,
    sample_above: int = TSNE_SAMPLE_ABOVE,
    sample: int = TSNE_SAMPLE,
    place_iter: int = 250,
) -> np.ndarray:
    """2-D t-SNE of ``X`` with openTSNE, reporting progress and cancellable.

    The schedule is openTSNE's, shortened: PCA initialisation,
    ``early_exaggeration_iter`` iterations with exaggeration 12, then ``n_iter``
    at exaggeration 1 (openTSNE's default is 500; on the 6,507 Kaggle images'
    Lite0 features 250 kept the same share of 10-nearest neighbours, 0.329,
    and the same 10-NN morphology accuracy in 2-D, 0.670 against 0.669, in
    70% of the time); perplexity 30 (less for tiny sets).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Usually a 50-d PCA of the standardised features (see :func:`project`).
    random_state : int
    progress : callable(fraction, message), optional
        Called after the neighbour search and every 10 iterations.
    should_stop : callable() -> bool, optional
        Polled at the same points; True raises :class:`~core.progress.Cancelled`.
    n_jobs : int or None
        Threads for the neighbour search and the gradient (-1: all cores).  None
        (default): one thread below 10,000 points, where synchronising threads
        costs more than it saves (on a busy 2-core machine a 12-point map took
        100 s with all cores and under a second with one), all cores above.
    sample_above, sample : int
        Above ``sample_above`` points (100,000), t-SNE maps a seeded sample of
        ``sample`` (50,000) and the rest are placed on that map by openTSNE's
        ``transform`` (each starts at the median of its 25 nearest sample points,
        then ``place_iter`` iterations move it against the fixed map), 50,000 at
        a time: a million galaxies then cost one 50,000-point t-SNE plus a
        placing that grows linearly, with progress and cancel throughout.
    place_iter : int
        Iterations of the placing (openTSNE's default, 250).

    Returns
    -------
    ndarray of shape (n_samples, 2), float32
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n <= sample_above or sample >= n:
        return np.asarray(_tsne_embedding(X, random_state, progress, should_stop, n_jobs, early_exaggeration_iter,
                                          n_iter), dtype=np.float32)
    rows = np.sort(np.random.default_rng(random_state).choice(n, sample, replace=False))
    share = 0.6  # of the progress bar: the sample's t-SNE, then the placing of the rest

    def first(fraction: float, message: str) -> None:
        if progress:
            progress(share * fraction, f"{message} (a sample of {sample:,} of {n:,} points)")

    embedding = _tsne_embedding(X[rows], random_state, first, should_stop, n_jobs, early_exaggeration_iter, n_iter)
    embedding -= (np.max(embedding, axis=0) + np.min(embedding, axis=0)) / 2  # as openTSNE's transform does
    out = np.empty((n, 2), np.float32)
    out[rows] = embedding
    rest = np.setdiff1d(np.arange(n), rows)
    chunks = [rest[i : i + PLACE_CHUNK] for i in range(0, len(rest), PLACE_CHUNK)]
    for c, chunk in enumerate(chunks):
        out[chunk] = _place(embedding, X[chunk], place_iter, should_stop, lambda f, m, c=c: progress and progress(
            share + (1 - share) * (c + f) / len(chunks), f"t-SNE: placing {len(rest):,} points on the sample's map, "
            f"part {c + 1}/{len(chunks)}: {m}"))
    if progress:
        progress(1.0, "t-SNE done")
    return out


def _tsne_embedding(X: np.ndarray, random_state: int, progress: ProgressFn | None, should_stop: StopFn | None,
                    n_jobs: int | None, early_exaggeration_iter: int, n_iter: int):
    """openTSNE's embedding of all of ``X`` (see :func:`tsne`), reporting progress and cancellable."""
    from openTSNE import TSNE, TSNEEmbedding
    from openTSNE.tsne import OptimizationInterrupt

    n = len(X)
    if n_jobs is None:
        n_jobs = 1 if n < 10_000 else -1
    early, late, every = early_exaggeration_iter, n_iter, 10
    total = early + late

    def stop() -> bool:
        return bool(should_stop and should_stop())

    if progress:
        progress(0.0, f"t-SNE: finding neighbours of {n} points")
    perplexity = float(min(30.0, (n - 1) / 3.0))  # openTSNE needs 3 x perplexity < n
    init = TSNE(2, perplexity=perplexity, random_state=random_state, n_jobs=n_jobs, verbose=False)
    embedding: TSNEEmbedding = init.prepare_initial(X)
    if stop():
        raise Cancelled("t-SNE cancelled")
    done = 0

    def callback(iteration: int, error: float, _embedding) -> bool:
        if progress:
            progress(0.05 + 0.95 * (done + iteration) / total,
                     f"t-SNE iteration {done + iteration}/{total}: KL {error:.3f}")
        return stop()

    try:
        embedding = embedding.optimize(early, exaggeration=12, momentum=0.5, callbacks=callback,
                                       callbacks_every_iters=every, propagate_exception=True)
        done = early
        embedding = embedding.optimize(late, exaggeration=1, momentum=0.8, callbacks=callback,
                                       callbacks_every_iters=every, propagate_exception=True)
    except OptimizationInterrupt:
        raise Cancelled("t-SNE cancelled") from None
    if progress:
        progress(1.0, "t-SNE done")
    return embedding


def _place(embedding, X: np.ndarray, n_iter: int, should_stop: StopFn | None,
           progress: ProgressFn) -> np.ndarray:
    """Positions of the new rows ``X`` on the fixed map ``embedding``: openTSNE's ``transform``, with its
    defaults (median of the 25 nearest sample points, perplexity 5, exaggeration 1.5, learning rate 0.1),
    in steps of 10 iterations that report progress and can stop."""
    from openTSNE.tsne import OptimizationInterrupt

    if should_stop and should_stop():
        raise Cancelled("t-SNE cancelled")
    progress(0.0, "finding the nearest sample points")
    partial = embedding.prepare_partial(X, initialization="median", k=25, perplexity=5)

    def callback(iteration: int, error: float, _embedding) -> bool:
        progress(iteration / n_iter, f"iteration {iteration}/{n_iter}")
        return bool(should_stop and should_stop())

    try:
        partial.optimize(n_iter, learning_rate=0.1, exaggeration=1.5, momentum=0.8, max_grad_norm=0.25,
                         inplace=True, propagate_exception=True, callbacks=callback, callbacks_every_iters=10)
    except OptimizationInterrupt:
        raise Cancelled("t-SNE cancelled") from None
    return np.asarray(partial, dtype=np.float32)


@dataclass(frozen=True)
class ProjectionOptions:
    """What callers need to know about a map projection.

    Attributes
    ----------
    needs_labels : bool
        The map is fitted on the user's labels (the pipeline then maps with PCA, and the app asks
        for labels first).
    reports_progress : bool
        The factory also takes ``progress`` and ``should_stop`` keywords (t-SNE); the pipeline shows
        a PCA preview meanwhile.
    """

    needs_labels: bool = False
    reports_progress: bool = False


#: The map projections: name -> entry whose factory is ``fn(Z, labels, random_state) -> (n, 2)`` on
#: standardised features, with :class:`ProjectionOptions`.
PROJECTION_METHODS: Registry[ProjectionOptions] = Registry("projection", default="pca",
                                                         options_type=ProjectionOptions)
PROJECTION_METHODS.add("pca", _pca_map, "PCA", "first two principal components")
PROJECTION_METHODS.add("tsne", _tsne_map, "t-SNE", "t-SNE (openTSNE) on a 50-d PCA, with progress and cancel",
                       reports_progress=True)
PROJECTION_METHODS.add("lda", _lda_map, "LDA (needs labels)", "linear discriminants of the labelled classes",
                       needs_labels=True)


def project(
    X: np.ndarray,
    method: str = "pca",
    *,
    labels: Sequence | None = None,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
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
    progress, should_stop : callables, optional
        Progress and cancellation of t-SNE (the other projections take a second).

    Returns
    -------
    ndarray of shape (n_samples, 2), float32
    """
    from sklearn.preprocessing import StandardScaler

    entry = PROJECTION_METHODS.get(method)
    # float32 (the features' own type): a float64 copy of 60,000 x 2,048 features is 1 GB, twice over
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
    Z = StandardScaler().fit_transform(X)
    # Only long projections take the callbacks (option ``reports_progress``); a plain entry stays a
    # three-argument function.
    extra = {"progress": progress, "should_stop": should_stop} if entry.options.reports_progress else {}
    return np.asarray(entry.factory(Z, labels, random_state, **extra), dtype=np.float32)
