"""The supervised head of a round: logistic regression on the full features, class-balanced while answers are few.

It gives every galaxy class probabilities from the user's labels, and
estimates its own accuracy on the labels it did not see.  The probabilities
are a mixture of two logistic regressions on the same answers
(:func:`fit_head`):

* the class-balanced one, with a few rounds of self-training on the
  confident rest: with ten answers it finds a rare class the plain fit
  misses (ellipticals on Kaggle);
* the plain one, the benchmarks' reference classifier
  (``benchmarks/evaluate.py`` ``linear_classifier``): with a hundred
  answers it is as good a ranking and puts its boundary where plain accuracy
  and ARI want it, where the class-balanced head gave away accuracy and ARI
  for balanced accuracy.

The class-balanced head weighs ``n0 / (n0 + n)`` with ``n`` answers
(:data:`BALANCED_ANSWERS` = n0): it acts as a prior worth n0 answers that
the answers outweigh as they accumulate, so the head's model class holds the
plain classifier and tends to it.
"""

from __future__ import annotations

import numpy as np

#: The class-balanced, self-trained head's weight in a round's head, in answers: it weighs
#: ``BALANCED_ANSWERS / (BALANCED_ANSWERS + n)`` against the plain logistic regression with ``n``
#: answers.  Chosen on Kaggle's training split (the tuning and prior parts, galaxy_cnn and
#: efficientnet_lite0 features), never on the held-out split or GC1 (``docs/benchmarks.md``).
BALANCED_ANSWERS = 20.0


def balanced_weight(balanced_answers: float | None, n_answers: int) -> float:
    """The class-balanced head's weight in the round's head with ``n_answers`` answers (1 with None)."""
    if balanced_answers is None:
        return 1.0
    return float(balanced_answers) / (float(balanced_answers) + n_answers)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def _head_model(C: float, balanced: bool = True):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=C,
                                                              class_weight="balanced" if balanced else None))


def plain_head(X: np.ndarray, lab_rows: np.ndarray, lab_y: np.ndarray, n_classes: int, *,
               C: float = 0.1) -> np.ndarray | None:
    """Class probabilities of every image from the plain logistic regression on the user's labels.

    The benchmarks' reference classifier (features standardised on the
    labelled images, ``C`` = 0.1, no class weights): the part of the round's
    head that makes its labels those of the reference classifier on the same
    answers once the answers are many.  None when fewer than two classes are
    labelled.
    """
    if len(np.unique(lab_y)) < 2:
        return None
    model = _head_model(C, balanced=False).fit(np.asarray(X, np.float32)[lab_rows], lab_y)
    proba = np.zeros((len(X), n_classes))
    proba[:, model.classes_] = model.predict_proba(np.asarray(X, np.float32))
    return proba


def fit_head(X: np.ndarray, lab_rows: np.ndarray, lab_y: np.ndarray, n_classes: int, *,
             C: float = 0.1, self_training: int = 3, pseudo_threshold: float = 0.8, pseudo_weight: float = 0.1,
             max_pseudo: int = 1500, balanced_answers: float | None = BALANCED_ANSWERS,
             random_state: int = 0, plain: np.ndarray | None = None) -> np.ndarray | None:
    """Class probabilities of every image: the class-balanced head mixed with the plain logistic regression.

    The class-balanced head weighs ``balanced_answers / (balanced_answers + n)``
    with ``n`` labels, :func:`plain_head` the rest (see the module's
    docstring; ``balanced_answers=None``: the class-balanced head alone).

    With ``self_training`` > 0 the class-balanced head is refitted that many times on its
    labels plus the unlabelled images it is confident about (top probability
    >= ``pseudo_threshold``), each such image weighing ``pseudo_weight`` of a
    label, classes balanced again (measured in ``benchmarks/label_efficiency.py``:
    a few points better at 10-50 answers on GC1, and steadier across seeds).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    lab_rows, lab_y : ndarray of int
        The labelled rows and their class indices (``0..n_classes-1``).
    n_classes : int
        Columns of the result (classes without labels get probability 0).
    C : float
        Inverse regularisation (0.1, as the benchmarks' reference classifier).
    self_training, pseudo_threshold, pseudo_weight : int, float, float
        Self-training rounds, confidence needed and weight of a pseudo-label.
    max_pseudo : int
        At most this many pseudo-labelled images per refit (a random subset): keeps
        a round in seconds on 10,000 images.
    balanced_answers : float or None
        The class-balanced head's worth in answers (:data:`BALANCED_ANSWERS`); None: it alone.
    random_state : int
    plain : ndarray, optional
        :func:`plain_head`'s probabilities on the same labels, when the caller has them already.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), or None when fewer than two classes are labelled.
    """
    from sklearn.linear_model import LogisticRegression

    present = np.unique(lab_y)
    if len(present) < 2:
        return None
    X = np.asarray(X, np.float32)
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Xs = (X - mean) / scale
    model = LogisticRegression(max_iter=1000, C=C, class_weight="balanced").fit(Xs[lab_rows], lab_y)
    proba = np.zeros((len(X), n_classes))
    proba[:, model.classes_] = model.predict_proba(Xs)
    rng = np.random.default_rng(random_state)
    free = np.ones(len(X), bool)
    free[lab_rows] = False
    for _ in range(self_training):
        cand = np.flatnonzero(free & (proba.max(1) >= pseudo_threshold))
        if len(cand) > max_pseudo:
            cand = np.sort(rng.choice(cand, max_pseudo, replace=False))
        pl = proba[cand].argmax(1)
        if len(cand) == 0 or not np.isin(present, pl).all():
            break
        rows = np.concatenate([lab_rows, cand])
        ys = np.concatenate([lab_y, pl])
        w = np.concatenate([np.ones(len(lab_rows)), np.full(len(cand), pseudo_weight)])
        per_class = np.bincount(ys, weights=w, minlength=n_classes)
        w = w * w.sum() / (len(present) * per_class[ys])  # every class weighs the same in total
        model = LogisticRegression(max_iter=1000, C=C).fit(Xs[rows], ys, sample_weight=w)
        proba = np.zeros((len(X), n_classes))
        proba[:, model.classes_] = model.predict_proba(Xs)
    if balanced_answers is None:
        return proba
    w_bal = balanced_weight(balanced_answers, len(lab_rows))
    if plain is None:
        plain = plain_head(X, lab_rows, lab_y, n_classes, C=C)
    return w_bal * proba + (1.0 - w_bal) * plain


def counted_fractions(plain: np.ndarray, lab_rows: np.ndarray) -> np.ndarray:
    """The class fractions of the unlabelled galaxies under the plain classifier's labels (classify and count).

    The "counted" decision rule's fractions (:mod:`core.learning.calibration`):
    on the measured folders closer to the truth than the class-balanced
    head's labels (too even on a 75 : 25 folder) and than EM's estimate
    (too uneven).
    """
    free = np.ones(len(plain), bool)
    free[lab_rows] = False
    if not free.any():
        return np.full(plain.shape[1], 1.0 / plain.shape[1])
    return np.bincount(plain[free].argmax(1), minlength=plain.shape[1]) / float(free.sum())


def estimate_needs(lab_y: np.ndarray, names: list[str] | None = None) -> str:
    """What the labels still lack for the round's accuracy to be estimated; the empty string when nothing.

    The estimate (and the catalogue's calibrated ``p_<class>`` columns) needs
    two classes and 2 labels of *every* class labelled, since each answer is
    predicted without itself.  The message names the classes short of 2 (it
    said "2 labels in each of 2 classes", which read as met with two classes
    at 2 or more and a third at 1).
    """
    counts = np.bincount(np.asarray(lab_y, np.int64))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        return "needs labels of 2 classes, 2 of each"
    short = [c for c in present if counts[c] < 2]
    if not short:
        return ""
    named = ", ".join(f"{names[c] if names is not None and c < len(names) else f'class {c}'} has {counts[c]}"
                      for c in short)
    return f"needs 2 labels of every class you labelled ({named})"


def estimate_accuracy(X: np.ndarray, lab_rows: np.ndarray, lab_y: np.ndarray, *, C: float = 0.1,
                      folds: int = 5, random_state: int = 0) -> tuple[float, float, str]:
    """The head's accuracy and balanced accuracy on labels it did not see (stratified k-fold).

    Returns ``(accuracy, balanced accuracy, how it was measured)``; NaN when a
    labelled class has fewer than 2 labels.  The user's picks are not a
    random sample (suggestions favour typical galaxies first), so this
    estimate can flatter the catalogue; it is still the honest number the
    labels allow, unlike the fit to the labels themselves.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    needs = estimate_needs(lab_y)
    if needs:
        return float("nan"), float("nan"), needs
    counts = np.bincount(lab_y)
    counts = counts[counts > 0]
    k = int(min(folds, counts.min()))
    cv = StratifiedKFold(k, shuffle=True, random_state=random_state)
    pred = cross_val_predict(_head_model(C), np.asarray(X, np.float32)[lab_rows], lab_y, cv=cv)
    return (float(np.mean(pred == lab_y)), _balanced_accuracy(lab_y, pred),
            f"{k}-fold cross-validation on your {len(lab_y)} labels")


def calibrated_head(X: np.ndarray, lab_rows: np.ndarray, lab_y: np.ndarray, n_classes: int, *, C: float = 0.1,
                    self_training: int = 3, folds: int = 5, decision: str = "counted",
                    balanced_answers: float | None = BALANCED_ANSWERS, random_state: int = 0,
                    **calibration: float):
    """The head fitted on all labels, calibrated on its cross-fitted probabilities (see :mod:`core.learning.calibration`).

    Each cross-fitted head is the same mixture as the final one
    (:func:`fit_head` with ``balanced_answers``), its weights set by the
    answers it was fitted on.

    decision : {"counted", "balanced", "accuracy"}
        The decision rule (:func:`core.learning.calibration.calibrate`); "counted"
        gives the unlabelled galaxies the class fractions :func:`plain_head` counts.
    **calibration
        Passed to :func:`core.learning.calibration.calibrate` (``prior_t``,
        ``prior_weight``, ``em_strength``).

    Returns
    -------
    (head probabilities, Calibrated or None) : the raw head's probabilities
        (None when fewer than two classes are labelled) and the calibrated ones
        with the estimate (None when a class has fewer than 2 labels).
    """
    from core.learning.calibration import calibrate, cross_fit

    def fit(rows: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        return fit_head(X, rows, y, n_classes, C=C, self_training=self_training, balanced_answers=balanced_answers,
                        random_state=random_state)

    plain = plain_head(X, lab_rows, lab_y, n_classes, C=C)
    if plain is None:
        return None, None
    proba = fit_head(X, lab_rows, lab_y, n_classes, C=C, self_training=self_training,
                     balanced_answers=balanced_answers, random_state=random_state, plain=plain)
    oof = cross_fit(fit, lab_rows, lab_y, n_classes, folds=folds, random_state=random_state)
    if oof is None:
        return proba, None
    fractions = counted_fractions(plain, lab_rows) if decision == "counted" else None
    return proba, calibrate(proba, oof, lab_rows, lab_y, decision=decision, random_state=random_state,
                            fractions=fractions, **calibration)
