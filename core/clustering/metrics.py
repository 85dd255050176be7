"""How well clusters match known labels, and how much two clusterings agree.

Cluster ids are arbitrary, so accuracy needs a matching of clusters to classes:
:func:`cluster_accuracy` uses the optimal one-to-one (Hungarian) matching, the
standard for DEC papers; :func:`purity` uses the seed paper's many-to-one
"dominant label of each cluster" rule, which flatters solutions with many
clusters.  ARI, NMI and AMI need no matching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _encode(values: Sequence) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return codes, uniques


def cluster_sizes(clusters: np.ndarray, confidence: np.ndarray | None = None) -> tuple[list[int], np.ndarray, np.ndarray | None]:
    """The clusters present (sorted), the images of each and, given each image's ``confidence``, each one's mean.

    Counted in one pass (``bincount``), not sorted: a merge's views sorted 200,000 numbers three times
    (``np.unique``) and the Clusters list compared every galaxy with every cluster, 20 ms of the GUI thread.
    Cluster numbers far apart (no method makes them) are sorted after all.
    """
    c = np.asarray(clusters, np.int64).ravel()
    low = int(c.min()) if len(c) else 0
    values, where = (None, c - low) if not len(c) or int(c.max()) - low <= 4 * len(c) + 1024 else np.unique(
        c, return_inverse=True)
    sizes = np.bincount(where.ravel())
    present = np.flatnonzero(sizes)
    ids = (present + low) if values is None else values[present]
    mean = None
    if confidence is not None:
        mean = np.bincount(where.ravel(), np.asarray(confidence, np.float64).ravel(), len(sizes))[present] / sizes[present]
    return ids.tolist(), sizes[present], mean


def contingency(y_true: Sequence, y_pred: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (table, classes, clusters); ``table[i, j]`` counts class i in cluster j."""
    t, classes = _encode(y_true)
    p, clusters = _encode(y_pred)
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table, classes, clusters


def best_matching(y_true: Sequence, y_pred: Sequence) -> dict[str, str]:
    """Return the optimal one-to-one mapping cluster -> class (Hungarian); unmatched clusters are absent."""
    from scipy.optimize import linear_sum_assignment

    table, classes, clusters = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    return {str(clusters[c]): str(classes[r]) for r, c in zip(rows, cols)}


def matched_predictions(y_true: Sequence, y_pred: Sequence) -> np.ndarray:
    """Map each cluster to its matched class; points in unmatched clusters get ``""`` (always wrong)."""
    mapping = best_matching(y_true, y_pred)
    return np.array([mapping.get(str(c), "") for c in y_pred], dtype=object)


def cluster_accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Accuracy under the optimal one-to-one matching of clusters to classes."""
    if len(y_true) == 0:
        return float("nan")
    mapped = matched_predictions(y_true, y_pred)
    return float(np.mean(mapped == np.asarray(y_true, dtype=object).astype(str)))


def balanced_accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Mean per-class recall under the optimal matching (robust to unbalanced classes)."""
    truth = np.asarray(y_true, dtype=object).astype(str)
    mapped = matched_predictions(y_true, y_pred)
    recalls = [np.mean(mapped[truth == c] == c) for c in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else float("nan")


def purity(y_true: Sequence, y_pred: Sequence) -> float:
    """Fraction of points whose cluster's dominant class is their own (the seed paper's metric)."""
    table, _, _ = contingency(y_true, y_pred)
    return float(table.max(axis=0).sum() / table.sum()) if table.size else float("nan")


def evaluate(y_true: Sequence, y_pred: Sequence) -> dict[str, float]:
    """All scores at once: acc, balanced_acc, purity, ari, nmi, ami."""
    from sklearn.metrics import adjusted_mutual_info_score

    t = np.asarray(y_true, dtype=object).astype(str)
    p = np.asarray(y_pred, dtype=object).astype(str)
    table, _, _ = contingency(t, p)
    return {**table_scores(table), "ami": float(adjusted_mutual_info_score(t, p))}


def crosstab_scores(classes: Sequence[object], clusters: Sequence[object], counts: np.ndarray) -> dict[str, float]:
    """:func:`evaluate`'s scores but AMI from counts already made: ``counts[i, j]`` images of ``clusters[i]`` in ``classes[j]``.

    The *Cluster x label* table counts a million galaxies once
    (:func:`core.catalog.montage.crosstab`); scoring those counts costs nothing
    more, where :func:`evaluate` took 6.8 s over the million labels as text.
    Classes and clusters are put in :func:`evaluate`'s order (their text
    sorted) first, so a tie in the optimal matching falls the same way and
    every score is the one :func:`evaluate` gives.
    """
    rows = sorted(range(len(classes)), key=lambda j: str(classes[j]))
    cols = sorted(range(len(clusters)), key=lambda i: str(clusters[i]))
    return table_scores(np.asarray(counts, np.int64).T[np.ix_(rows, cols)])


def table_scores(table: np.ndarray) -> dict[str, float]:
    """acc, balanced_acc, purity, ari, nmi and n of a contingency table (``table[i, j]``: class i in cluster j).

    The same scores as scikit-learn's and the functions above from the labels,
    taken from the table alone: the optimal one-to-one matching (Hungarian),
    ARI from the pair counts, NMI with the arithmetic mean of the two entropies.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import mutual_info_score

    table = np.asarray(table, np.int64)
    n = int(table.sum())
    if n == 0:
        nan = float("nan")
        return {"acc": nan, "balanced_acc": nan, "purity": nan, "ari": 1.0, "nmi": 1.0, "n": 0}
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]  # a label given to no image is no class
    n_c, n_k = table.sum(axis=1), table.sum(axis=0)
    r, c = linear_sum_assignment(-table)
    recall = np.zeros(len(n_c))
    recall[r] = table[r, c] / n_c[r]
    squares = int((table.astype(object) ** 2).sum())
    together = int((table.astype(object) @ n_k.astype(object)).sum()) - squares  # pairs split by the clusters
    apart = int((table.T.astype(object) @ n_c.astype(object)).sum()) - squares
    tp, tn = squares - n, n * n - together - apart - squares
    fp, fn = together, apart
    ari = 1.0 if fn == 0 and fp == 0 else 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    if len(n_c) == len(n_k) == 1:
        nmi = 1.0
    else:
        mi = float(mutual_info_score(None, None, contingency=table.astype(np.float64)))
        nmi = 0.0 if mi == 0 else mi / ((_entropy(n_c) + _entropy(n_k)) / 2)
    return {"acc": float(table[r, c].sum() / n), "balanced_acc": float(recall.mean()),
            "purity": float(table.max(axis=0).sum() / n), "ari": float(ari), "nmi": float(nmi), "n": n}


def _entropy(counts: np.ndarray) -> float:
    """Entropy (nats) of a labelling from its class counts, as scikit-learn's from the labels."""
    pi = np.asarray(counts, np.float64)
    pi = pi[pi > 0]
    total = pi.sum()
    return float(-np.sum((pi / total) * (np.log(pi) - np.log(total))))


def agreement_matrix(labelings: Mapping[str, Sequence]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pairwise ARI and AMI between clusterings of the same points (seed 002's comparison).

    Returns the names in order, the ARI matrix and the AMI matrix.
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    names = list(labelings)
    k = len(names)
    ari = np.eye(k)
    ami = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            a, b = np.asarray(labelings[names[i]]), np.asarray(labelings[names[j]])
            ari[i, j] = ari[j, i] = adjusted_rand_score(a, b)
            ami[i, j] = ami[j, i] = adjusted_mutual_info_score(a, b)
    return names, ari, ami
