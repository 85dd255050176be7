"""Semi-supervised fine-tuning and active suggestions on small synthetic data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from core.clustering.dec import DEC
from core.clustering.onnx_mlp import load_encoder, run_encoder
from core.learning.active import margin, suggest
from core.learning.finetune import finetune_round
from tests.helpers import grid_blobs as _grid_blobs

SMALL = {"hidden_dims": (32, 32, 64, 4), "pretrain_epochs": 5, "finetune_epochs": 10, "min_steps": 100, "n_init": 5}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    X, a, b = _grid_blobs()
    dec = DEC(2, random_state=0, **SMALL).fit(X)
    path = dec.save_onnx(tmp_path_factory.mktemp("enc") / "dec.onnx")
    return X, a, b, dec, path


@pytest.mark.slow
def test_supervised_term_pulls_labelled_points_to_their_class(fitted, tmp_path):
    X, a, b, dec, path = fitted
    names = np.array(["round", "disk"], dtype=object)
    labels = np.full(len(X), None, dtype=object)
    rng = np.random.default_rng(1)
    picked = np.concatenate([rng.choice(np.flatnonzero(b == c), 10, replace=False) for c in (0, 1)])
    labels[picked] = names[b[picked]]
    res = finetune_round(X, path, labels, class_order=["round", "disk"], out_path=tmp_path / "r1.onnx",
                         random_state=0)
    assert res.class_names == ["round", "disk"]
    assert res.agreement == 1.0  # every labelled galaxy ends in its class's cluster
    free = labels == None  # noqa: E711
    acc = np.mean(res.predicted_names()[free] == names[b[free]])
    before = max(np.mean(dec.labels_ == b), np.mean(dec.labels_ != b))
    assert acc > before + 0.2, (acc, before)  # the labels teach the unlabelled galaxies too
    assert res.moved.sum() > 0 and sum(res.sizes.values()) == len(X)
    # the report estimates accuracy on labels the head did not see, not the forced fit to them
    assert "agreement" not in res.summary()
    assert "calibrated on your 20 labels" in res.summary()
    assert 0.5 < res.estimated_accuracy <= 1.0 and res.from_head is not None


@pytest.mark.slow
def test_round_writes_a_new_onnx_and_keeps_the_old_one(fitted, tmp_path):
    X, a, b, dec, path = fitted
    before = path.read_bytes()
    labels = np.full(len(X), None, dtype=object)
    labels[:3] = "round"
    labels[-3:] = "disk"
    res = finetune_round(X, path, labels, out_path=tmp_path / "r.onnx", steps=20)
    assert path.read_bytes() == before
    # the new file alone reproduces the round's embedding and assignments, exactly
    emb, q = run_encoder(res.encoder_path, X)
    np.testing.assert_allclose(emb, res.embedding, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(q, res.soft, rtol=1e-5, atol=1e-6)
    encoder, *_ = load_encoder(res.encoder_path)
    with pytest.raises(ValueError):
        finetune_round(X, path, labels, out_path=path, steps=5)


@pytest.mark.slow
def test_new_class_becomes_a_new_cluster_and_unsure_teaches_nothing(fitted, tmp_path):
    X, a, b, dec, path = fitted
    labels = np.full(len(X), None, dtype=object)
    labels[np.flatnonzero((a == 0) & (b == 0))[:4]] = "round"
    labels[np.flatnonzero((a == 0) & (b == 1))[:4]] = "disk"
    labels[np.flatnonzero((a == 1) & (b == 0))[:4]] = "merger"
    labels[np.flatnonzero((a == 1) & (b == 1))[:4]] = "unsure"
    res = finetune_round(X, path, labels, class_order=["round", "disk", "merger"], steps=20)
    assert res.class_names == ["round", "disk", "merger"]
    assert res.n_labelled == 12
    assert res.soft.shape == (len(X), 3)


def test_suggestions_are_unsure_diverse_and_unlabelled():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(500, 3))
    soft = np.column_stack([1 / (1 + np.exp(-4 * emb[:, 0])), np.zeros(500)])
    soft[:, 1] = 1 - soft[:, 0]
    labelled = np.zeros(500, bool)
    labelled[np.argsort(np.abs(emb[:, 0]))[:5]] = True  # the five most unsure are already labelled
    picks = suggest(soft, emb, labelled, 10, random_state=0)
    assert len(picks) == 10 and len(set(picks.tolist())) == 10
    assert not labelled[picks].any()
    # unsure: near the boundary (x=0) compared with the whole set
    assert np.median(margin(soft[picks])) < np.median(margin(soft)) / 3
    # diverse: farther apart than the 10 most unsure ones
    most_unsure = np.flatnonzero(~labelled)[np.argsort(margin(soft[~labelled]))[:10]]

    def spread(rows):
        d = np.sqrt(((emb[rows, None] - emb[None, rows]) ** 2).sum(-1))
        return d[np.triu_indices(len(rows), 1)].min()

    assert spread(picks) >= spread(most_unsure)
    assert np.array_equal(picks, suggest(soft, emb, labelled, 10, random_state=0))  # seeded


def test_suggestions_cover_clusters_with_no_label_yet():
    soft = np.array([[0.9, 0.1]] * 50 + [[0.2, 0.8]] * 50)
    soft[0] = [0.95, 0.05]
    soft[60] = [0.05, 0.95]
    emb = np.random.default_rng(0).normal(size=(100, 2))
    picks = suggest(soft, emb, np.zeros(100, bool), 2)
    assert set(picks.tolist()) == {0, 60}  # the most typical member of each cluster first


@pytest.mark.slow
def test_the_estimator_takes_minus_one_for_unlabelled_and_matches_a_round(fitted, tmp_path):
    from sklearn.base import clone

    from core.learning.estimator import SemiSupervisedDEC
    from core.learning.rounds import RoundOptions

    X, a, b, dec, path = fitted
    y = np.full(len(X), -1)
    rng = np.random.default_rng(1)
    picked = np.concatenate([rng.choice(np.flatnonzero(b == c), 10, replace=False) for c in (0, 1)])
    y[picked] = b[picked]
    opts = RoundOptions(steps=40, random_state=0)
    est = SemiSupervisedDEC(path, out_path=tmp_path / "e.onnx", options=opts)
    assert clone(est).get_params() == {"encoder_path": path, "out_path": tmp_path / "e.onnx", "options": opts}
    assert est.fit(X, y) is est
    assert list(est.classes_) == [0, 1] and est.transduction_.dtype == np.int64
    # the same round through the function, with the labels as text and None for unlabelled
    labels = np.array([str(v) if v >= 0 else None for v in y], dtype=object)
    res = finetune_round(X, path, labels, class_order=["0", "1"], out_path=tmp_path / "f.onnx", options=opts)
    np.testing.assert_array_equal(est.transduction_.astype(str), res.predicted_names())
    np.testing.assert_array_equal(est.predict(X), est.transduction_)
    assert est.score(X, b) > max(np.mean(dec.labels_ == b), np.mean(dec.labels_ != b))  # labels taught the rest
    assert est.label_distributions_.shape == (len(X), len(est.result_.class_names))
    with pytest.raises(ValueError, match="no labelled row"):
        SemiSupervisedDEC(path).fit(X, np.full(len(X), -1))
    with pytest.raises(TypeError):  # a misspelt option is refused, not ignored
        finetune_round(X, path, labels, out_path=tmp_path / "g.onnx", stepz=5)


@pytest.mark.slow
def test_a_second_round_reuses_the_fixed_layers_and_gives_the_same_result(fitted, tmp_path):
    """The plan stage's fixed layers are computed once per (features, encoder): the round after reuses them."""
    from core.learning import finetune
    from core.learning.finetune import plan_round

    X, a, b, dec, path = fitted
    labels = np.full(len(X), None, dtype=object)
    labels[:3] = "round"
    labels[-3:] = "disk"
    finetune._FIXED.clear()
    first = plan_round(X, path, labels)
    again = plan_round(X, path, labels)
    assert again.H is first.H  # reused, not recomputed
    finetune._FIXED.clear()
    fresh = plan_round(X, path, labels)
    assert fresh.H is not first.H
    np.testing.assert_array_equal(fresh.H, first.H)
    np.testing.assert_array_equal(fresh.z0, again.z0)
    # other features miss the cache; a round's result does not depend on whether it hit
    other = plan_round(X + 1.0, path, labels)
    assert other.H is not first.H and not np.allclose(other.H, first.H)
    r1 = finetune_round(X, path, labels, out_path=tmp_path / "a.onnx", steps=20)
    r2 = finetune_round(X, path, labels, out_path=tmp_path / "b.onnx", steps=20)
    finetune._FIXED.clear()
    r3 = finetune_round(X, path, labels, out_path=tmp_path / "c.onnx", steps=20)
    np.testing.assert_array_equal(r1.labels, r2.labels)
    np.testing.assert_allclose(r2.embedding, r3.embedding, rtol=1e-6, atol=1e-6)
