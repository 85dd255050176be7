"""DEC streamed from a memory-mapped feature file (issue 22), the torch thread setting, and the mixture's predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from core.clustering.dec import DEC
from core.clustering.prior import prior_mixture

SMALL = {"hidden_dims": (32, 32, 64, 4), "finetune_epochs": 5, "max_iter": 300, "stream_sample": 1500}


@pytest.fixture(scope="module")
def unequal_blobs():
    """6,000 rows, 40 features, two groups of 80 % and 20 %."""
    X, y = make_blobs([4800, 1200], n_features=40, cluster_std=3.0, random_state=5)
    return X.astype(np.float32), y


def test_a_memory_mapped_file_is_streamed_and_every_row_gets_a_cluster(tmp_path, unequal_blobs):
    X, y = unequal_blobs
    path = tmp_path / "features.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    dec = DEC(2, random_state=0, **SMALL).fit(mapped)
    assert dec.streamed_
    assert len(dec.sample_rows_) == 1500 and dec.initial_embedding_.shape == (1500, 4)  # the start saw the sample only
    assert dec.labels_.shape == (6000,) and dec.soft_assignments_.shape == (6000, 2)
    assert adjusted_rand_score(y, dec.labels_) > 0.95
    # The small group keeps its share (not pulled towards 50:50 by DEC's target).
    assert abs(np.bincount(dec.labels_).min() / 6000 - 0.2) < 0.03
    # The saved encoder gives the streamed labels.
    np.testing.assert_array_equal(dec.predict(X), dec.labels_)
    assert "self-training" in dec.timings_ and "assign" in dec.timings_


def test_streaming_is_seeded_and_starts_above_the_threshold_for_arrays_in_memory(unequal_blobs):
    X, _ = unequal_blobs
    a = DEC(2, random_state=3, stream_above=5000, **SMALL).fit(X)
    b = DEC(2, random_state=3, stream_above=5000, **SMALL).fit(X)
    assert a.streamed_ and b.streamed_
    np.testing.assert_array_equal(a.labels_, b.labels_)
    below = DEC(2, random_state=3, stream_above=10_000, **SMALL)
    below.fit(X[:600])
    assert not below.streamed_


def test_dec_fits_on_one_torch_thread_and_gives_the_callers_setting_back(unequal_blobs):
    import torch

    X, _ = unequal_blobs
    before = torch.get_num_threads()
    seen = []
    DEC(2, random_state=0, **SMALL).fit(X[:500], progress=lambda f, m: seen.append(torch.get_num_threads()))
    assert len(seen) > 1 and set(seen[:-1]) == {1}  # every report while training; the last comes after
    assert torch.get_num_threads() == before


def test_the_mixture_predicts_new_rows_as_it_labelled_its_own(unequal_blobs):
    X, _ = unequal_blobs
    mix = prior_mixture(X[:3000], 2, random_state=0)
    np.testing.assert_allclose(mix.predict_proba(X[:3000]), mix.soft, atol=1e-6)
    assert (mix.predict_proba(X[3000:]).argmax(1) == prior_mixture(X, 2, random_state=0).labels[3000:]).mean() > 0.99


def test_the_pipelines_clustering_call_streams_above_the_threshold(unequal_blobs):
    """``cluster_features`` (what the pipeline, the CLI and the app call) streams DEC above ``stream_above`` rows."""
    from core.clustering.methods import cluster_features

    X, y = unequal_blobs
    result = cluster_features(X, "dec", 2, random_state=0, dec_params={**SMALL, "stream_above": 5000})
    assert result.model.streamed_ and result.labels.shape == (6000,)
    assert adjusted_rand_score(y, result.labels) > 0.95
    assert result.confidence.shape == (6000,) and np.all((result.confidence >= 0.5) & (result.confidence <= 1.0))
