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
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

    t = np.asarray(y_true, dtype=object).astype(str)
    p = np.asarray(y_pred, dtype=object).astype(str)
    return {
        "acc": cluster_accuracy(t, p),
        "balanced_acc": balanced_accuracy(t, p),
        "purity": purity(t, p),
        "ari": float(adjusted_rand_score(t, p)),
        "nmi": float(normalized_mutual_info_score(t, p)),
        "ami": float(adjusted_mutual_info_score(t, p)),
        "n": int(len(t)),
    }


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
