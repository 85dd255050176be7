"""Suggest on a survey: more rows than SAMPLE_ROWS measure on a seeded sample (core.learning.active).

The exact neighbour search was quadratic in the rows: 8.7 s for one press of Suggest on 60,000 galaxies on the
2-core machine, hours on a million.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import core.learning.active as active
from core.learning.active import suggest, typical_picks, typicality


@pytest.fixture
def blobs():
    """Four blobs, two large and two small, and which blob each row is in."""
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    group = np.repeat(np.arange(4), [2000, 2000, 300, 300])
    return centres[group] + rng.normal(size=(len(group), 2)), group


def test_typicality_among_a_sample_is_the_exact_one_when_the_sample_is_every_row(blobs):
    Z, _ = blobs
    rows = np.array([0, 5, 2500, 4100, 4599])
    exact = typicality(Z)
    assert np.allclose(typicality(Z, rows=rows, among=np.arange(len(Z))), exact[rows])  # no row its own neighbour
    # among a sample that leaves some of the rows out, every row still gets k neighbours, none of them itself
    sample = np.arange(0, len(Z), 3)
    inside = typicality(Z, rows=sample[:50], among=sample)
    assert inside.shape == (50,) and np.isfinite(inside).all()
    outside = typicality(Z, rows=np.array([1, 2, 4]), among=sample)
    assert outside.shape == (3,) and np.isfinite(outside).all()


def test_a_survey_gets_one_typical_pick_per_blob_from_its_dense_core(blobs, monkeypatch):
    """The survey path, forced on 4,600 rows: the same picks' shape as the exact path's test (test_loop)."""
    monkeypatch.setattr(active, "SAMPLE_ROWS", 1000)
    Z, group = blobs
    labelled = np.zeros(len(Z), bool)
    predicted = (group >= 2).astype(int)  # the rare class: the two small blobs
    picks = typical_picks(Z, labelled, 4, predicted=predicted, random_state=0)
    assert sorted(group[picks].tolist()) == [0, 1, 2, 3]  # one per blob, however small
    assert sorted(predicted[picks[:2]].tolist()) == [0, 1]  # turns over the predicted classes, as before
    typ = typicality(Z)
    for p in picks:  # each from the dense core of its blob, though only 64 of its members were weighed
        assert typ[p] >= np.quantile(typ[group == group[p]], 0.8)
    again = typical_picks(Z, labelled, 4, predicted=predicted, random_state=0)
    assert again == picks  # same seed, same suggestions
    # every cluster holds a label (at most 4 clusters here, one label in each blob): the densest free rows among
    # 100 of the sample's
    monkeypatch.setattr(active, "SURVEY_CLUSTERS", 4)
    monkeypatch.setattr(active, "FALLBACK_ROWS", 100)
    labelled[picks] = True
    more = typical_picks(Z, labelled, 3, predicted=predicted, random_state=0)
    assert len(set(more)) == 3 and not labelled[more].any()
    assert min(typ[more]) >= np.quantile(typ, 0.5)  # dense rows, though a tenth of the sample was weighed


def test_suggest_on_more_rows_than_the_sample_asks_typical_then_uncertain(monkeypatch):
    monkeypatch.setattr(active, "SAMPLE_ROWS", 500)
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (1500, 8)), rng.normal(4, 1, (1500, 8))]).astype(np.float32)
    soft = np.stack([1 / (1 + np.exp(X[:, 0] - 2)), 1 - 1 / (1 + np.exp(X[:, 0] - 2))], 1)
    labelled = np.zeros(3000, bool)
    first = suggest(soft, X[:, :2], labelled, 6, features=X, random_state=0)
    assert len(set(first.tolist())) == 6 and {int(x) for x in (first >= 1500)} == {0, 1}  # both groups
    labelled[rng.choice(3000, 60, replace=False)] = True
    later = suggest(soft, X[:, :2], labelled, 10, features=X, random_state=0)
    assert len(later) == 10 and not labelled[later].any()
    unsure = np.sort(np.abs(soft[:, 0] - soft[:, 1]))[len(soft) // 4]
    assert np.sum(np.abs(soft[later, 0] - soft[later, 1]) <= unsure) >= 5  # half the batch near the boundary


def test_a_press_on_a_survey_never_copies_the_whole_feature_array(monkeypatch):
    """Ctrl+G on a survey allocates less than the features take (the projection it needs, a block at a time).

    The press used to standardise a copy of every row, then hold the projection in float64 twice over: on a
    million galaxies a peak of 1,359 MiB beside their 488 MiB of features, 276 MiB now (measured with
    tracemalloc; ``docs/benchmarks.md``, "Suggest on a survey").  Here 200,000 rows: 57 MiB now, the old
    code far over the 98 MiB the features take.
    """
    monkeypatch.setattr(active, "SAMPLE_ROWS", 2000)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200_000, 128)).astype(np.float32)
    soft = rng.dirichlet([1, 1], len(X))
    labelled = np.zeros(len(X), bool)
    labelled[rng.choice(len(X), 100, replace=False)] = True
    first = suggest(soft, soft, labelled, 10, features=X)  # imports and first-call allocations out of the count
    tracemalloc.start()
    try:
        picks = suggest(soft, soft, labelled, 10, features=X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert picks.tolist() == first.tolist()  # same seed, same suggestions
    assert len(set(picks.tolist())) == 10 and not labelled[picks].any()
    assert peak < X.nbytes, f"{peak / 2**20:.0f} MiB allocated beside {X.nbytes / 2**20:.0f} MiB of features"
