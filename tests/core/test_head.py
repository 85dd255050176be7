"""The round's head (issue 21): class-balanced while answers are few, the plain logistic regression as they accumulate."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.evaluate import linear_classifier
from core.learning.head import BALANCED_ANSWERS, balanced_weight, calibrated_head, fit_head, plain_head


def _folder(n: int = 1500, rare: float = 0.12, seed: int = 0):
    """A folder with a rare class 0 (12%) that overlaps the common one on a few features."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) > rare).astype(int)
    X = rng.normal(size=(n, 10)).astype(np.float32)
    X[:, 0] += 2.0 * y
    X[:, 1] += 1.0 * y
    return X, y


def _balanced_acc(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def test_plain_part_is_the_benchmarks_reference_classifier():
    """The head's model class holds the classifier it is measured against: same answers, same labels."""
    X, y = _folder()
    rows = np.random.default_rng(1).choice(len(y), 60, replace=False)
    plain = plain_head(X, rows, y[rows], 2)
    ref = linear_classifier().fit(X[rows], y[rows])
    np.testing.assert_allclose(plain, ref.predict_proba(X), atol=1e-6)
    assert plain_head(X, rows[:3], np.zeros(3, int), 2) is None  # one class: nothing to fit


def test_head_is_the_balanced_head_worth_n0_answers_mixed_with_the_plain_one():
    X, y = _folder()
    rows = np.random.default_rng(2).choice(len(y), 40, replace=False)
    bal = fit_head(X, rows, y[rows], 2, balanced_answers=None)  # the head before issue 21's mixture
    plain = plain_head(X, rows, y[rows], 2)
    w = balanced_weight(BALANCED_ANSWERS, 40)
    assert w == pytest.approx(BALANCED_ANSWERS / (BALANCED_ANSWERS + 40)) and balanced_weight(None, 40) == 1.0
    np.testing.assert_allclose(fit_head(X, rows, y[rows], 2), w * bal + (1 - w) * plain, atol=1e-9)


def test_few_answers_find_the_rare_class_many_answers_keep_the_plain_boundary():
    """Ten answers with two of the rare class: the class-balanced part finds more of it than the plain fit.
    Four hundred random answers: the head's labels are (nearly) the plain classifier's, so it gives away no
    accuracy for balanced accuracy where the class-balanced head alone did."""
    X, y = _folder()
    rng = np.random.default_rng(3)
    few = np.concatenate([rng.choice(np.flatnonzero(y == 0), 2, replace=False),
                          rng.choice(np.flatnonzero(y == 1), 8, replace=False)])
    free = np.setdiff1d(np.arange(len(y)), few)
    head = fit_head(X, few, y[few], 2).argmax(1)
    plain = plain_head(X, few, y[few], 2).argmax(1)
    assert _balanced_acc(y[free], head[free]) > _balanced_acc(y[free], plain[free]) + 0.05

    many = rng.choice(len(y), 400, replace=False)
    free = np.setdiff1d(np.arange(len(y)), many)
    head = fit_head(X, many, y[many], 2).argmax(1)
    plain = plain_head(X, many, y[many], 2).argmax(1)
    alone = fit_head(X, many, y[many], 2, balanced_answers=None).argmax(1)
    assert np.mean(head[free] == plain[free]) >= 0.98
    acc = {name: np.mean(p[free] == y[free]) for name, p in (("head", head), ("plain", plain), ("alone", alone))}
    assert acc["head"] >= acc["plain"] - 0.005 and acc["alone"] < acc["plain"] - 0.01, acc


def test_calibrated_head_keeps_the_mixtures_labels_and_its_estimate_holds_the_truth():
    """50 answers per class, as the app's suggestions take turns over the classes (the temperature is fitted
    class-balanced, so it assumes such answers)."""
    X, y = _folder(seed=4)
    rng = np.random.default_rng(5)
    rows = np.concatenate([rng.choice(np.flatnonzero(y == c), 50, replace=False) for c in (0, 1)])
    # the class-balanced rule (the round's default until the counted rule, tests/core/test_calibration.py)
    raw, cal = calibrated_head(X, rows, y[rows], 2, decision="balanced", random_state=0, prior_weight=0.0)
    np.testing.assert_allclose(raw, fit_head(X, rows, y[rows], 2), atol=1e-9)
    np.testing.assert_array_equal(cal.proba.argmax(1), raw.argmax(1))  # a temperature keeps the labels of two classes
    free = np.setdiff1d(np.arange(len(y)), rows)
    truth = np.mean(cal.proba[free].argmax(1) == y[free])
    # the interval holds the truth (the point estimate, of a class-balanced world, under-states an 88% folder)
    assert cal.interval[0] <= truth <= cal.interval[1] and cal.accuracy <= truth
