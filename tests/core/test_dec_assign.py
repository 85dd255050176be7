"""DEC's final assignment with the start mixture's cluster sizes (issue 24, ``DEC(assign="start-fractions")``).

On galaxy features the seed moved where DEC's argmax cut its order of the
galaxies (GC1-HSC: the small cluster 257-277 galaxies, ARI 0.500-0.567), not
the order itself; the default now gives each cluster the start mixture's size
with one weight per cluster on ``q``, and the saved model applies the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from core.clustering.dec import DEC
from core.clustering.dec_objective import count_matching_offsets, student_t
from core.clustering.onnx_mlp import run_encoder

SMALL = {"hidden_dims": (64, 64, 128, 10), "pretrain_epochs": 5, "finetune_epochs": 10}


@pytest.mark.parametrize("k", [2, 3])
def test_offsets_give_each_cluster_its_count_and_keep_the_order(k):
    rng = np.random.default_rng(k)
    log_q = np.log(rng.dirichlet(np.ones(k) * 0.5, size=500))
    counts = np.array([300, 200] if k == 2 else [250, 150, 100])
    b = count_matching_offsets(log_q, counts)
    labels = (log_q + b).argmax(1)
    np.testing.assert_array_equal(np.bincount(labels, minlength=k), counts)
    assert b.max() == 0.0
    if k == 2:  # the 200 rows most surely in cluster 1 by DEC's own ratio, nothing else
        top = np.argsort(-(log_q[:, 1] - log_q[:, 0]))[:200]
        assert set(np.flatnonzero(labels == 1)) == set(top.tolist())
    with pytest.raises(ValueError, match="sum"):
        count_matching_offsets(log_q, counts + 1)


@pytest.fixture(scope="module")
def overlapping():
    """600 rows, 75:25, the groups overlapping (so the cut between them is a matter of degree)."""
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(450, int), np.ones(150, int)]
    X = rng.normal(size=(600, 20)).astype(np.float32)
    X[:, :5] += 1.6 * y[:, None]
    return X, y


@pytest.mark.slow
def test_the_default_keeps_the_start_sizes_and_the_saved_model_agrees(overlapping, tmp_path):
    X, _ = overlapping
    dec = DEC(2, random_state=0, **SMALL).fit(X)
    assert not dec.collapsed_
    np.testing.assert_array_equal(np.bincount(dec.labels_, minlength=2), np.bincount(dec.kmeans_labels_, minlength=2))
    np.testing.assert_array_equal(dec.predict(X), dec.labels_)
    np.testing.assert_allclose(dec.soft_assignments_.sum(1), 1.0, rtol=1e-5)
    # The ONNX file carries the weights: the app's q and its argmax are the fit's.
    path = dec.save_onnx(tmp_path / "dec.onnx")
    _, q = run_encoder(path, X)
    np.testing.assert_allclose(q, dec.soft_assignments_, atol=1e-5)
    np.testing.assert_array_equal(q.argmax(1), dec.labels_)
    loaded = DEC.load_onnx(path)
    np.testing.assert_array_equal(loaded.cluster_weights_, dec.cluster_weights_)
    np.testing.assert_array_equal(loaded.predict(X), dec.labels_)
    # assign="argmax" trains the same network and only assigns by the largest unweighted q.
    paper = DEC(2, random_state=0, assign="argmax", **SMALL).fit(X)
    assert (paper.cluster_weights_ == 1).all()
    unweighted = student_t(dec.transform(X), dec.cluster_centers_, dec.alpha).argmax(1)
    np.testing.assert_array_equal(paper.labels_, unweighted)
    # On this toy the argmax cuts elsewhere than the start's sizes (so the weights did something).
    assert (np.bincount(unweighted, minlength=2) != np.bincount(dec.kmeans_labels_, minlength=2)).any()
    with pytest.raises(ValueError, match="assign"):
        DEC(2, assign="median", **SMALL).fit(X)


@pytest.mark.slow
def test_a_streamed_fit_gives_its_sample_the_start_sizes():
    X, _ = make_blobs([4800, 1200], n_features=40, cluster_std=3.0, random_state=5)
    X = X.astype(np.float32)
    dec = DEC(2, random_state=0, stream_above=5000, stream_sample=1500, hidden_dims=(32, 32, 64, 4),
              finetune_epochs=5, max_iter=300).fit(X)
    assert dec.streamed_ and not dec.collapsed_
    sample = dec.labels_[dec.sample_rows_]
    np.testing.assert_array_equal(np.bincount(sample, minlength=2), np.bincount(dec.kmeans_labels_, minlength=2))
    np.testing.assert_array_equal(dec.predict(X[:2000]), dec.labels_[:2000])
