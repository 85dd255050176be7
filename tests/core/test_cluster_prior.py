"""The imbalance-aware mixture: unequal cluster fractions are estimated, not assumed equal."""

from __future__ import annotations

import numpy as np
import pytest

from core.clustering.methods import CLUSTER_METHODS, cluster_features
from core.clustering.metrics import balanced_accuracy
from core.clustering.prior import prior_mixture


def _unequal_blobs(n_big: int = 850, n_small: int = 150, dim: int = 30, seed: int = 0):
    """Two Gaussian groups 85:15 that differ along 3 axes, plus noise dimensions."""
    rng = np.random.default_rng(seed)
    big = rng.normal(0, 1, (n_big, dim))
    small = rng.normal(0, 1, (n_small, dim))
    small[:, :3] += 3.0
    X = np.vstack([big, small])
    y = np.array([0] * n_big + [1] * n_small)
    return X, y


@pytest.mark.slow
def test_mixture_estimates_unequal_fractions():
    X, y = _unequal_blobs()
    mix = prior_mixture(X, 2, random_state=0)
    assert abs(mix.weights.sum() - 1.0) < 1e-9
    np.testing.assert_allclose(mix.weights, [0.85, 0.15], atol=0.05)
    assert balanced_accuracy(y, mix.labels) > 0.9
    np.testing.assert_allclose(mix.soft.sum(1), 1.0, atol=1e-9)
    # Largest cluster first.
    assert np.sum(mix.labels == 0) > np.sum(mix.labels == 1)


@pytest.mark.slow
def test_mixture_beats_kmeans_on_unequal_groups():
    # A broad majority and a compact minority (spirals and ellipticals): k-means
    # puts its boundary half-way between the means and cuts into the broad group.
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (600, 10))
    X[90:, :3] *= 2.0
    X[:90, :3] = X[:90, :3] * 0.5 + 3.5
    y = (np.arange(600) < 90).astype(int)
    km = cluster_features(X, "kmeans", 2, random_state=0)
    gm = cluster_features(X, "gmm", 2, random_state=0)
    assert balanced_accuracy(y, gm.labels) > balanced_accuracy(y, km.labels)
    # The estimated minority fraction is nearer the truth (0.15) than k-means's split.
    small_gm = min(gm.sizes.values()) / len(y)
    small_km = min(km.sizes.values()) / len(y)
    assert abs(small_gm - 0.15) < abs(small_km - 0.15)
    assert small_gm < 0.25


def test_gmm_is_a_method_and_seeded():
    assert "gmm" in CLUSTER_METHODS.names()
    X, _ = _unequal_blobs(200, 40, 10, seed=3)
    a = cluster_features(X, "gmm", 2, random_state=5)
    b = cluster_features(X, "gmm", 2, random_state=5)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.soft.shape == (240, 2)
    assert np.all((a.confidence >= 0.5) & (a.confidence <= 1.0))
    assert abs(sum(a.params["weights"]) - 1.0) < 1e-3


def test_mixture_handles_few_images_and_features():
    X = np.random.default_rng(0).normal(size=(5, 2))
    mix = prior_mixture(X, 3, random_state=0)
    assert mix.labels.shape == (5,)
    assert mix.n_components <= 2
