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
