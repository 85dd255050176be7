"""The retraining loop of issue 12: round stages, the head, the honest estimate, suggestions and threads."""

from __future__ import annotations

import numpy as np
import pytest

from core.clustering.dec import DEC
from core.learning.active import review_moved, soft_from_confidence, suggest, typical_picks, typicality
from core.learning.finetune import estimate_accuracy, finetune_round, fit_head, plan_round, report_round, train_round
from tests.helpers import grid_blobs as _blobs  # the same four blobs as test_finetune

SMALL = {"hidden_dims": (32, 32, 64, 4), "pretrain_epochs": 5, "finetune_epochs": 10, "min_steps": 100, "n_init": 5}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    X, a, b = _blobs()
    dec = DEC(2, random_state=0, **SMALL).fit(X)
    return X, a, b, dec.save_onnx(tmp_path_factory.mktemp("enc") / "dec.onnx")


def _labels(b: np.ndarray, per_class: int, seed: int = 1) -> np.ndarray:
    names = np.array(["round", "disk"], dtype=object)
    labels = np.full(len(b), None, dtype=object)
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(b == c), per_class, replace=False) for c in (0, 1)])
    labels[picked] = names[b[picked]]
    return labels


@pytest.mark.slow
def test_stages_compose_into_the_round(fitted, tmp_path):
    X, a, b, path = fitted
    labels = _labels(b, 10)
    plan = plan_round(X, path, labels, class_order=["round", "disk"])
    assert plan.names == ["round", "disk"] and plan.n_classes == 2 and len(plan.lab_rows) == 20
    trained = train_round(plan, steps=50, random_state=0)
    head = fit_head(X, plan.lab_rows, plan.lab_y, plan.n_classes)
    res = report_round(plan, trained, head, encoder_path=path, out_path=tmp_path / "r.onnx")
    assert res.encoder_path is not None and res.encoder_path.is_file()
    assert res.from_head.any() and res.dec_labels.shape == res.labels.shape
    # the head on the full features finds the one-feature class that the embedding blurs
    free = labels == None  # noqa: E711
    names = np.array(["round", "disk"], dtype=object)
    acc = np.mean(res.predicted_names()[free] == names[b[free]])
    assert acc >= 0.85, acc
    with pytest.raises(ValueError):
        report_round(plan, trained, head, encoder_path=path, out_path=path)


@pytest.mark.slow
def test_early_stopping_keeps_the_step_best_on_held_back_labels(fitted):
    X, a, b, path = fitted
    plan = plan_round(X, path, _labels(b, 10), class_order=["round", "disk"])
    trained = train_round(plan, steps=60, update_interval=20, holdout=0.2, random_state=0)
    assert trained.best_step in (0, 20, 40, 60)
    few = plan_round(X, path, _labels(b, 3), class_order=["round", "disk"])
    assert train_round(few, steps=30, update_interval=10).best_step == 30  # too few labels to hold any back


@pytest.mark.slow
def test_estimated_accuracy_is_not_the_forced_fit(fitted):
    """Labels with no relation to the images: the old report said 100% agreement; the estimate says chance."""
    X, a, b, path = fitted
    rng = np.random.default_rng(3)
    labels = np.full(len(X), None, dtype=object)
    rows = rng.choice(len(X), 40, replace=False)
    labels[rows] = rng.choice(["round", "disk"], 40)
    res = finetune_round(X, path, labels, class_order=["round", "disk"], steps=20)
    assert res.estimated_accuracy < 0.75, res.estimated_accuracy
    assert f"{res.estimated_accuracy:.0%}" in res.summary() and "agreement" not in res.summary()
    acc, bal, how = estimate_accuracy(X, rows[:1], np.array([0]))
    assert np.isnan(acc) and "needs" in how


@pytest.mark.slow
def test_round_trains_with_one_torch_thread_and_restores_the_setting(fitted):
    """On a busy CPU every torch op waits for its slowest thread: the round uses one (issue 12's slow Retrain)."""
    import torch

    X, a, b, path = fitted
    seen = []
    before = torch.get_num_threads()
    finetune_round(X, path, _labels(b, 3), steps=10, update_interval=5,
                   progress=lambda f, m: seen.append(torch.get_num_threads()))
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_typical_picks_cover_the_dense_centres_and_alternate_classes():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    group = np.repeat(np.arange(4), [200, 200, 30, 30])
    Z = centres[group] + rng.normal(size=(460, 2))
    labelled = np.zeros(460, bool)
    picks = typical_picks(Z, labelled, 4, random_state=0)
    assert sorted(group[picks].tolist()) == [0, 1, 2, 3]  # one per blob, however small
    typ = typicality(Z)
    for p in picks:  # each from the dense core of its blob
        assert typ[p] >= np.quantile(typ[group == group[p]], 0.8)
    predicted = (group >= 2).astype(int)  # the rare class: the two small blobs
    plain = typical_picks(Z, labelled, 4, random_state=0)
    assert predicted[plain[:2]].tolist() == [0, 0]  # by cluster size alone the two big blobs come first
    picks = typical_picks(Z, labelled, 4, predicted=predicted, random_state=0)
    assert sorted(predicted[picks[:2]].tolist()) == [0, 1]  # turns: the rare class is asked about at once


def test_suggest_with_features_asks_typical_first_then_half_uncertain():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (150, 8)), rng.normal(4, 1, (150, 8))]).astype(np.float32)
    soft = soft_from_confidence((X[:, 0] > 2).astype(int), 0.5 + 0.5 * np.tanh(np.abs(X[:, 0] - 2)))
    labelled = np.zeros(300, bool)
    first = suggest(soft, X[:, :2], labelled, 6, features=X, random_state=0)
    assert len(set(first.tolist())) == 6 and {int(x) for x in (first >= 150)} == {0, 1}
    labelled[rng.choice(300, 60, replace=False)] = True
    later = suggest(soft, X[:, :2], labelled, 10, features=X, random_state=0)
    assert len(later) == 10 and not labelled[later].any()
    unsure = np.sort(np.abs(soft[:, 0] - soft[:, 1]))[len(soft) // 4]
    assert np.sum(np.abs(soft[later, 0] - soft[later, 1]) <= unsure) >= 5  # half the batch near the boundary


def test_review_moved_lists_moved_unlabelled_least_sure_first():
    moved = np.array([True, False, True, True, True])
    conf = np.array([0.9, 0.1, 0.6, 0.99, 0.7])
    labelled = np.array([False, False, False, True, False])
    np.testing.assert_array_equal(review_moved(moved, conf, labelled), [2, 4, 0])


@pytest.mark.slow
def test_dec_and_rounds_share_one_kl_loop(fitted, monkeypatch):
    """Issue 10: DEC's self-training and a fine-tuning round run the same loop (core.clustering.dec.kl_self_training)."""
    import core.clustering.dec
    import core.learning.finetune

    calls: list[str] = []
    real = core.clustering.dec.kl_self_training

    def spy(*args, **kwargs):
        calls.append("dec" if kwargs.get("embed") is not None else "round")
        return real(*args, **kwargs)

    monkeypatch.setattr(core.clustering.dec, "kl_self_training", spy)
    monkeypatch.setattr(core.learning.finetune, "kl_self_training", spy)
    X, a, b, path = fitted
    DEC(2, random_state=0, **SMALL).fit(X)
    train_round(plan_round(X, path, _labels(b, 10), class_order=["round", "disk"]), steps=20, random_state=0)
    assert calls == ["dec", "round"]


def test_the_estimate_comes_with_an_interval_that_narrows_with_labels():
    """Ten labels measure an accuracy to about +-20 points; the report says so (issue 12's honest report)."""
    from core.learning.rounds import RoundResult, wilson_interval

    lo10, hi10 = wilson_interval(0.9, 10)
    lo200, hi200 = wilson_interval(0.9, 200)
    assert 0.55 < lo10 < 0.6 and 0.98 < hi10 <= 1.0  # Wilson, z=1.96: 0.596 .. 0.982
    assert lo10 < lo200 < 0.9 < hi200 < hi10 and hi200 - lo200 < 0.1
    assert wilson_interval(1.0, 10)[1] == 1.0 and wilson_interval(0.0, 10)[0] == 0.0
    assert np.isnan(wilson_interval(float("nan"), 10)[0]) and np.isnan(wilson_interval(0.5, 0)[1])
    res = RoundResult(["a", "b"], np.zeros(3, int), np.ones(3), np.ones((3, 2)) / 2, np.zeros((3, 2)), None,
                      np.zeros(3, bool), {}, {"a": 3, "b": 0}, 1.0, 10, 0.1, estimated_accuracy=0.9,
                      estimated_balanced_accuracy=0.85, estimate_method="5-fold cross-validation on your 10 labels")
    assert "90% (95% interval 60%-98%)" in res.headline() and "90% (95% interval 60%-98%)" in res.summary()
    # the balanced figure carries its interval too: 0.85 on 10 labels is 54%-96%, not a bare 85%
    assert "balanced 85% (95% interval 54%-96%)" in res.summary()
