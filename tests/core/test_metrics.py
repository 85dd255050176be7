"""Metric functions against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.clustering.metrics import agreement_matrix, balanced_accuracy, best_matching, cluster_accuracy, evaluate, purity


def test_accuracy_uses_the_optimal_one_to_one_matching():
    truth = ["e", "e", "e", "s", "s", "s", "s", "s"]
    pred = [1, 1, 0, 0, 0, 0, 0, 1]
    # cluster 1 -> e (2 right), cluster 0 -> s (4 right): 6/8
    assert cluster_accuracy(truth, pred) == pytest.approx(6 / 8)
    assert best_matching(truth, pred) == {"1": "e", "0": "s"}
    # recalls: e 2/3, s 4/5
    assert balanced_accuracy(truth, pred) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_extra_clusters_count_as_wrong_under_matching_but_not_under_purity():
    truth = ["a", "a", "b", "b"]
    pred = [0, 1, 2, 3]
    assert cluster_accuracy(truth, pred) == pytest.approx(0.5)
    assert purity(truth, pred) == pytest.approx(1.0)


def test_purity_hand_computed():
    truth = ["a", "a", "b", "b", "b", "a"]
    pred = [0, 0, 0, 1, 1, 1]
    # cluster 0: a,a,b -> 2; cluster 1: b,b,a -> 2
    assert purity(truth, pred) == pytest.approx(4 / 6)


def test_ari_and_nmi_perfect_and_permuted():
    truth = ["x"] * 5 + ["y"] * 5
    pred = [7] * 5 + [3] * 5
    s = evaluate(truth, pred)
    assert s["acc"] == s["ari"] == s["nmi"] == s["ami"] == pytest.approx(1.0)


def test_ari_hand_computed():
    # contingency [[2,1],[0,2]]: sum C(n_ij,2)=1+0+0+1=2; rows C(3,2)+C(2,2)=4; cols C(2,2)+C(3,2)=4; C(5,2)=10
    # expected = 4*4/10 = 1.6; max = 4; ARI = (2-1.6)/(4-1.6) = 1/6
    truth = ["a", "a", "a", "b", "b"]
    pred = [0, 0, 1, 1, 1]
    assert evaluate(truth, pred)["ari"] == pytest.approx(1 / 6)


def test_agreement_matrix_is_symmetric_with_unit_diagonal():
    names, ari, ami = agreement_matrix({"a": [0, 0, 1, 1], "b": [1, 1, 0, 0], "c": [0, 1, 0, 1]})
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(ari, ari.T)
    np.testing.assert_allclose(np.diag(ami), 1.0)
    assert ari[0, 1] == pytest.approx(1.0)
    assert ari[0, 2] < 0.1


def test_the_cluster_tables_scores_from_its_counts_are_the_scores_from_the_labels():
    """The *Cluster x label* table scored a million truth labels as text (6.8 s on the GUI thread); it now scores the
    counts it has made.  Every score must be the labels' own, to the bit, ties in the matching and unlabelled
    galaxies (None) included, and so must :func:`evaluate`'s, which now goes through the same table."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from core.catalog.montage import crosstab
    from core.clustering.metrics import crosstab_scores

    rng = np.random.default_rng(0)
    for _ in range(300):
        n, classes, k = int(rng.integers(2, 80)), int(rng.integers(1, 5)), int(rng.integers(1, 14))
        clusters = rng.integers(0, k, n)
        given = [None if rng.random() < 0.3 else ("spiral", "elliptical", "edge_on", "merger")[c]
                 for c in rng.integers(0, classes, n)]
        counted = [i for i, v in enumerate(given) if v is not None]
        if not counted:
            continue
        truth, pred = np.array([given[i] for i in counted]), clusters[counted].astype(str)
        expected = {"acc": cluster_accuracy(truth, pred), "balanced_acc": balanced_accuracy(truth, pred),
                    "purity": purity(truth, pred), "ari": adjusted_rand_score(truth, pred),
                    "nmi": normalized_mutual_info_score(truth, pred), "n": len(counted)}
        rows, cols, counts = crosstab(clusters, given)
        assert crosstab_scores(cols, rows, counts) == expected
        scores = evaluate(truth, pred)
        assert {k: scores[k] for k in expected} == expected
