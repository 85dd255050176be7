"""Which galaxies to label next: the ones each answer teaches the most.

With the image features at hand (what the app passes), :func:`suggest` asks
for *typical and diverse* galaxies first and for *uncertain* ones later,
because pure uncertainty sampling collapses at small budgets (a model trained
on ten answers is unsure about the wrong things), while typical galaxies
first gained 2-4 points (TypiClust, Hacohen et al. 2022;
``benchmarks/label_efficiency.py``):

* typical: k-means on the (standardised, PCA-reduced) features with one more
  cluster per question than there are labels; from the largest clusters that
  hold no label yet, the densest member (highest typicality, the inverse
  mean distance to its nearest neighbours).  The picks take turns over the
  classes the model predicts, so a rare class (ellipticals) is asked about as
  often as a common one.
* uncertain (once ``typical_until`` labels exist, for half of each batch):
  the unlabelled images with the smallest margin between the two largest soft
  assignments, spread out greedily (k-centre) so one batch does not ask about
  ten near-identical galaxies.

Without features it ranks by uncertainty alone (plus the most typical member
of each cluster that holds no label yet).  :func:`review_moved` lists the
galaxies the last round moved, least sure first.

On a survey (more than :data:`SAMPLE_ROWS` galaxies) the PCA, the k-means and
the neighbours a density is measured among come from a seeded sample of that
many rows, and only the :data:`CONTENDERS` members of each cluster nearest its
centre are weighed: the exact neighbour search is quadratic in the rows (8.3-14.5 s
on 60,000 galaxies on the 2-core machine, hours on a million;
``docs/benchmarks.md``, "Suggest on a survey").  A survey's rows are also
standardised with the sample's scale and projected a block at a time, and only
the rows a distance is measured on are standardised again, so a press never
holds a second copy of the features.  Smaller folders, every set the loop is
measured on, take the exact path.
"""

from __future__ import annotations

import numpy as np

#: Above this many rows the suggestions measure on a seeded sample of this many (see the module's docstring).
SAMPLE_ROWS = 20_000
#: On a survey, the members of each cluster nearest its centre whose density is measured.
CONTENDERS = 64
#: On a survey, the most k-means clusters the typical picks come from (one per label and question below it).
SURVEY_CLUSTERS = 256
#: On a survey whose clusters all hold a label, the free sample rows the densest are chosen among.
FALLBACK_ROWS = 2_000


#: A survey's rows are standardised and projected this many at a time (a few MB of temporaries).
_BLOCK = 16_384


def _sample(n: int, random_state: int) -> np.ndarray:
    """The seeded rows a survey's suggestions measure on, sorted (all rows up to :data:`SAMPLE_ROWS`)."""
    if n <= SAMPLE_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, SAMPLE_ROWS, replace=False))


def margin(soft: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 soft assignment per row (0: on a boundary; 1: certain)."""
    soft = np.asarray(soft, np.float64)
    if soft.shape[1] < 2:
        return np.ones(len(soft))
    part = np.sort(soft, axis=1)
    return part[:, -1] - part[:, -2]


def soft_from_confidence(labels: np.ndarray, confidence: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Soft assignments from hard labels and their confidence (the rest shared evenly by the other classes)."""
    labels = np.asarray(labels, np.int64)
    k = max(2, int(labels.max()) + 1 if len(labels) else 2, n_classes or 0)
    conf = np.clip(np.asarray(confidence, np.float64), 1.0 / k, 1.0)
    soft = np.repeat(((1 - conf) / (k - 1))[:, None], k, axis=1)
    soft[np.arange(len(labels)), labels] = conf
    return soft


def reduce_features(features: np.ndarray, n_components: int = 50, random_state: int = 0) -> np.ndarray:
    """Standardised features reduced by PCA: the space where typicality and diversity are measured.

    Distances in 1,000-2,000 raw CNN channels are dominated by a few loud ones
    and are slow to compute; 50 principal components of the standardised
    features keep the structure k-means and nearest neighbours need.
    """
    from sklearn.decomposition import PCA

    X = np.asarray(features, np.float32)
    k = int(min(n_components, X.shape[0] - 1, X.shape[1]))
    pca = PCA(max(k, 1), random_state=random_state, svd_solver="randomized")
    if len(X) <= SAMPLE_ROWS or k < 1:
        X = (X - X.mean(0)) / (X.std(0) + 1e-6)
        return X if k < 1 else pca.fit_transform(X).astype(np.float32)
    # a survey: the scale and the axes from a seeded sample, every row standardised and projected a block at a time
    # (the whole array's mean, spread and standardised copy took 1.5-2 s of a press on a million rows)
    S = X[_sample(len(X), random_state)]
    mean, scale = S.mean(0), S.std(0) + 1e-6
    pca.fit((S - mean) / scale)
    Z = np.empty((len(X), k), np.float32)
    for i in range(0, len(X), _BLOCK):
        Z[i:i + _BLOCK] = pca.transform((X[i:i + _BLOCK] - mean) / scale)
    return Z


def typicality(Z: np.ndarray, k: int = 20, *, rows: np.ndarray | None = None,
               among: np.ndarray | None = None) -> np.ndarray:
    """Inverse mean distance of each row to its ``k`` nearest neighbours (TypiClust's density).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
    k : int
    rows : ndarray of int, optional
        Only these rows' densities (default: every row's).
    among : ndarray of int, optional
        The rows the neighbours are looked for among (default: every row); a
        row never counts as its own neighbour.
    """
    from sklearn.neighbors import NearestNeighbors

    if rows is None and among is None:
        k = int(min(k, len(Z) - 1))
        if k < 1:
            return np.ones(len(Z))
        dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)
        return 1.0 / (dist[:, 1:].mean(1) + 1e-12)
    rows = np.arange(len(Z)) if rows is None else np.asarray(rows, np.int64)
    among = np.arange(len(Z)) if among is None else np.asarray(among, np.int64)
    k = int(min(k, len(among) - 1))
    if k < 1 or not len(rows):
        return np.ones(len(rows))
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(Z[among]).kneighbors(Z[rows])
    own = among[idx] == rows[:, None]  # a row found among the neighbours it is measured against
    keep = np.where(own.any(1, keepdims=True), ~own, np.arange(k + 1)[None, :] < k)  # else the k nearest
    return 1.0 / (dist[keep].reshape(len(rows), k).mean(1) + 1e-12)


def typical_picks(
    Z: np.ndarray,
    labelled: np.ndarray,
    n: int,
    *,
    predicted: np.ndarray | None = None,
    typ: np.ndarray | None = None,
    random_state: int = 0,
) -> list[int]:
    """``n`` typical, diverse unlabelled rows (TypiClust), taking turns over the predicted classes.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
        Where clusters and densities are measured (see :func:`reduce_features`).
    labelled : ndarray of bool
    n : int
    predicted : ndarray of int, optional
        The model's class of each row; the picks alternate over these classes.
    typ : ndarray, optional
        Precomputed :func:`typicality`.
    random_state : int

    Returns
    -------
    list of int
    """
    from sklearn.cluster import KMeans

    labelled = np.asarray(labelled, bool)
    free = np.flatnonzero(~labelled)
    n = min(n, len(free))
    if n <= 0:
        return []
    survey = typ is None and len(Z) > SAMPLE_ROWS
    if survey:  # the module's docstring: a sample's k-means and neighbours, CONTENDERS weighed a cluster
        sample = _sample(len(Z), random_state)
        k = int(min(SAMPLE_ROWS, labelled.sum() + n, SURVEY_CLUSTERS))
        km = KMeans(k, n_init=1, random_state=random_state).fit(Z[sample])
        cl = km.predict(Z)
    else:
        typ = typicality(Z) if typ is None else typ
        k = int(min(len(Z), labelled.sum() + n))
        cl = KMeans(k, n_init=1, random_state=random_state).fit_predict(Z)
    covered = set(cl[labelled].tolist())
    sizes = np.bincount(cl, minlength=k)
    groups = []  # each uncovered cluster's free members (on a survey, its CONTENDERS nearest the centre)
    by_cluster = free[np.argsort(cl[free], kind="stable")]  # free rows grouped by cluster, in row order within one
    bounds = np.searchsorted(cl[by_cluster], np.arange(k + 1))
    for c in np.argsort(-sizes, kind="stable"):
        if c in covered:
            continue
        members = by_cluster[bounds[c]:bounds[c + 1]]
        if not len(members):
            continue
        if survey:
            near = ((Z[members] - km.cluster_centers_[c]) ** 2).sum(1)
            members = members[np.sort(np.argsort(near, kind="stable")[:CONTENDERS])]
        groups.append(members)
    if survey and groups:  # every contender's density in one neighbour search against the sample
        weighed = np.concatenate(groups)
        typ = np.zeros(len(Z))
        typ[weighed] = typicality(Z, rows=weighed, among=sample)
    cand = [int(members[np.argmax(typ[members])]) for members in groups]
    picks: list[int] = []
    if predicted is not None:
        predicted = np.asarray(predicted)
        queues = [[i for i in cand if predicted[i] == c] for c in np.unique(predicted[cand])] if cand else []
        while len(picks) < n and any(queues):
            for q in queues:
                if q and len(picks) < n:
                    picks.append(q.pop(0))
    else:
        picks = cand[:n]
    if len(picks) < n:  # every cluster covered: the densest free rows (on a survey, of the sample)
        taken = set(picks)
        if survey:  # at most FALLBACK_ROWS of the sample's free rows, seeded: 20,000 would take seconds a press
            free = np.intersect1d(free, sample)
            if len(free) > FALLBACK_ROWS:
                free = np.sort(np.random.default_rng(random_state).choice(free, FALLBACK_ROWS, replace=False))
            typ_free = typicality(Z, rows=free, among=sample)
        else:
            typ_free = typ[free]
        picks += [int(i) for i in free[np.argsort(-typ_free, kind="stable")] if int(i) not in taken][:n - len(picks)]
    return picks


def suggest(
    soft: np.ndarray,
    embedding: np.ndarray,
    labelled: np.ndarray,
    n: int = 10,
    *,
    features: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    typical_until: int = 50,
    pool_factor: int = 5,
    random_state: int = 0,
) -> np.ndarray:
    """Indices of ``n`` unlabelled images worth labelling next, most useful first.

    Parameters
    ----------
    soft : ndarray of shape (n_samples, n_clusters)
        Soft assignments (DEC's q, or the round's class probabilities).
    embedding : ndarray of shape (n_samples, n_dims)
        Where diversity is measured without features (DEC's embedding, or the 2-D map).
    labelled : ndarray of bool, shape (n_samples,)
        Images that already have a user label.
    n : int
        How many to suggest.
    features : ndarray of shape (n_samples, n_features), optional
        The image features: turns on typical-first picks (see the module's doc).
    predicted : ndarray of int, optional
        The model's class of each image, for class-balanced picks (default: ``soft.argmax(1)``).
    typical_until : int
        Below this many labels every pick is typical; from it on, half of each
        batch is uncertain.
    pool_factor : int
        The uncertain picks come from the ``pool_factor * n`` most unsure images.
    random_state : int
        Breaks ties (same seed, same suggestions).

    Returns
    -------
    ndarray of int
    """
    labelled = np.asarray(labelled, bool)
    free = np.flatnonzero(~labelled)
    if n <= 0 or len(free) == 0:
        return np.zeros(0, np.int64)
    n = min(n, len(free))
    if features is None:
        return _uncertain_diverse(soft, embedding, labelled, n, pool_factor=pool_factor,
                                  random_state=random_state)
    Z = reduce_features(features, random_state=random_state)
    if predicted is None:
        predicted = np.asarray(soft).argmax(1)
    n_typical = n if labelled.sum() < typical_until else n - n // 2
    picks = typical_picks(Z, labelled, n_typical, predicted=predicted, random_state=random_state)
    if len(picks) < n:
        taken = labelled.copy()
        taken[picks] = True
        more = _uncertain_diverse(soft, Z, taken, n - len(picks), pool_factor=pool_factor,
                                  random_state=random_state, cover_clusters=False)
        picks += more.tolist()
    return np.asarray(picks[:n], np.int64)


def review_moved(moved: np.ndarray, confidence: np.ndarray, labelled: np.ndarray | None = None) -> np.ndarray:
    """The galaxies a round moved to another cluster, least sure first (for a quick check by eye).

    Parameters
    ----------
    moved : ndarray of bool
        :attr:`core.learning.finetune.RoundResult.moved`.
    confidence : ndarray of float
        The round's confidence of each image.
    labelled : ndarray of bool, optional
        Images the user labelled (left out: their label stands whatever the model says).

    Returns
    -------
    ndarray of int
    """
    moved = np.asarray(moved, bool).copy()
    if labelled is not None:
        moved &= ~np.asarray(labelled, bool)
    rows = np.flatnonzero(moved)
    return rows[np.argsort(np.asarray(confidence)[rows], kind="stable")].astype(np.int64)


def _uncertain_diverse(
    soft: np.ndarray,
    embedding: np.ndarray,
    labelled: np.ndarray,
    n: int,
    *,
    pool_factor: int = 5,
    random_state: int = 0,
    cover_clusters: bool = True,
) -> np.ndarray:
    """Unsure and spread out: k-centre over the most unsure; first a typical member of each unlabelled cluster."""
    soft = np.asarray(soft, np.float64)
    emb = np.asarray(embedding)
    labelled = np.asarray(labelled, bool)
    free = np.flatnonzero(~labelled)
    if n <= 0 or len(free) == 0:
        return np.zeros(0, np.int64)
    n = min(n, len(free))
    rng = np.random.default_rng(random_state)
    # the standardised embedding of the rows a distance is measured on only (a survey's whole array in float64,
    # standardised, took 2-3 s of a press on a million rows); the scale from every row, or a survey's sample
    ref = np.asarray(emb if len(emb) <= SAMPLE_ROWS else emb[_sample(len(emb), random_state)], np.float64)
    centre, scale = ref.mean(0), ref.std(0) + 1e-12

    def standard(rows: np.ndarray | list[int]) -> np.ndarray:
        return (np.asarray(emb[np.asarray(rows, np.int64)], np.float64) - centre) / scale

    picks: list[int] = []
    # one typical image from each cluster that has no labelled member yet
    hard = soft.argmax(1)
    for c in range(soft.shape[1] if cover_clusters else 0):
        members = free[hard[free] == c]
        if len(members) and not (labelled & (hard == c)).any() and len(picks) < n:
            picks.append(int(members[np.argmax(soft[members, c])]))
    tie = rng.random(len(free)) * 1e-9
    order = free[np.argsort(margin(soft[free]) + tie, kind="stable")]
    pool = np.array([i for i in order[: max(n * pool_factor, n)] if i not in picks], np.int64)
    anchors = np.flatnonzero(labelled).tolist() + picks
    if len(pool):
        at = standard(pool)
        if anchors:
            d = np.min(((at[:, None, :] - standard(anchors)[None, :, :]) ** 2).sum(-1), axis=1)
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
            d = np.minimum(d, ((at - at[j]) ** 2).sum(-1))
            d[chosen] = -np.inf
    return np.asarray(picks[:n], np.int64)
