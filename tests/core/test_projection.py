"""2-D projections: t-SNE reports progress per iteration and can be cancelled."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from core.clustering.projection import project, tsne
from core.progress import Cancelled

SHORT = {"early_exaggeration_iter": 50, "n_iter": 100, "n_jobs": 1}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(300, n_features=30, centers=3, cluster_std=1.0, random_state=1)


def test_tsne_keeps_clusters_apart_and_reports_progress(blobs):
    X, y = blobs
    seen: list[tuple[float, str]] = []
    out = project(X, "tsne", random_state=0, progress=lambda f, m: seen.append((f, m)))
    assert out.shape == (300, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    found = KMeans(3, n_init=5, random_state=0).fit_predict(out)
    assert adjusted_rand_score(y, found) > 0.95
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([m for _, m in seen if "iteration" in m]) == 50  # every 10 of the 500 iterations (250 + 250)


def test_tsne_same_seed_same_map(blobs):
    X, _ = blobs
    np.testing.assert_allclose(tsne(X, random_state=3, **SHORT), tsne(X, random_state=3, **SHORT), atol=1e-4)


def test_tsne_stops_when_asked(blobs):
    X, _ = blobs
    polls = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) >= 3

    with pytest.raises(Cancelled):
        tsne(X, should_stop=should_stop, **SHORT)
    assert len(polls) == 3  # stopped at the first poll that said yes


@pytest.mark.parametrize("n", [3, 5, 12])
def test_tsne_on_tiny_sets(n):
    X = np.random.default_rng(0).normal(size=(n, 8))
    out = project(X, "tsne")
    assert out.shape == (n, 2) and np.isfinite(out).all()


def test_tsne_above_the_threshold_maps_a_sample_and_places_the_rest():
    """Issue 22: past ``sample_above`` points t-SNE maps a seeded sample (the same map as t-SNE of those
    rows alone) and places the rest with openTSNE's transform, next to their own cluster, with progress."""
    X, y = make_blobs(1200, n_features=20, centers=3, cluster_std=1.0, random_state=2)
    seen: list[tuple[float, str]] = []
    small = {"early_exaggeration_iter": 50, "n_iter": 100, "n_jobs": 1, "place_iter": 50}
    out = tsne(X, random_state=0, progress=lambda f, m: seen.append((f, m)), sample_above=1000, sample=400, **small)
    assert out.shape == (1200, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    rows = np.sort(np.random.default_rng(0).choice(1200, 400, replace=False))
    alone = tsne(X[rows], random_state=0, **{k: v for k, v in small.items() if k != "place_iter"})
    # the sample's coordinates are its own t-SNE, centred as openTSNE's transform centres it
    np.testing.assert_allclose(out[rows], alone - (alone.max(0) + alone.min(0)) / 2, atol=1e-3)
    rest = np.setdiff1d(np.arange(1200), rows)
    # each placed point's nearest sample point on the map is of its own cluster
    d = ((out[rest, None, :] - out[None, rows, :]) ** 2).sum(-1)
    assert (y[rows][d.argmin(1)] == y[rest]).mean() > 0.98
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("sample of 400 of 1,200" in m for _, m in seen) and any("placing 800 points" in m for _, m in seen)


def test_placing_the_rest_stops_when_asked():
    X, _ = make_blobs(600, n_features=10, centers=3, random_state=3)
    placing: list[str] = []

    def should_stop() -> bool:
        return bool(placing)  # stop as soon as the placing has begun

    with pytest.raises(Cancelled):
        tsne(X, sample_above=500, sample=300, should_stop=should_stop, progress=lambda f, m: "placing" in m and
             placing.append(m), **SHORT)
    assert placing
