"""Probabilities an astronomer can cut on: cross-fitted calibration, the folder's class fractions, the estimate.

The head of a round (:func:`core.learning.head.fit_head`) is trained
class-balanced: its probabilities are those of a folder where every class is
equally common, and, trained on a few dozen labels, they are overconfident.
This module turns them into the probabilities the catalogue writes:

1. **Cross-fitting** (:func:`cross_fit`): the head is refitted k times, each
   time without one fold of the user's labels, and predicts that fold; every
   labelled galaxy so gets a probability from a model that never saw it (no
   galaxy calibrates itself).
2. **Temperature scaling** (:func:`fit_temperature`): one temperature,
   fitted on those out-of-fold probabilities (class-balanced negative
   log-likelihood; under the counted rule at the counted fractions, each
   class's answers weighing its share of the rest, so the hard answers of a
   rare class no longer set the temperature of a folder that is nearly all
   the common one), applied to the head's probabilities of every galaxy (Guo
   et al. 2017).  Under the "accuracy" rule one offset per class too
   (bias-corrected, Alexandari et al. 2020, who show it is what makes step 3
   work); under the "balanced" rule no offsets: fitted class-balanced on the
   answers, they moved every label towards the class-balanced boundary and
   undid what the head's plain part keeps (:mod:`core.learning.head`; on
   Kaggle's training split, with the balanced part worth 30 answers, ARI
   -0.013 at 200 answers against the classifier, -0.001 without them), while a temperature never changes a
   galaxy's most probable class of two.  The temperature has a prior
   (:data:`TEMPERATURE_PRIOR`, worth as many answers as the user has given, up
   to :data:`TEMPERATURE_PRIOR_WEIGHT`: :func:`prior_weight_for`) fitted once
   on Kaggle's training split: the suggestions ask about typical galaxies
   first, so the answers alone under-state how hard the rest is.
3. **The folder's class fractions** (:func:`em_prior`): the EM of Saerens,
   Latinne & Decaestecker (2002) estimates them from the calibrated
   probabilities of the unlabelled galaxies (MAP, with a weak Dirichlet prior
   so a rare class's fraction cannot collapse to 0), and :func:`shift_prior` moves the
   probabilities from the balanced world to the folder.  The label of a
   galaxy is then the class of highest probability: the rule that maximises
   the expected accuracy of the catalogue.  Dividing by the fractions again
   gives the class-balanced view (:func:`balanced_view`).  Which rule the
   round uses is its ``decision``; "balanced" was the default until the
   counted rule (the accuracy rule lost balanced ACC and ARI on Kaggle's
   training split even under the *true* fractions: the user's picks take the
   rare class's typical members, and the rest is not calibrated like them).
   **The counted rule, the round's default since issue 21's sixth pass.**  The
   calibrated head *orders* the unlabelled galaxies at least as well as the
   plain logistic regression on the same answers (ROC AUC equal or higher in
   95 of 100 rounds of ``benchmarks/label_efficiency.py``), but on a 75 : 25
   folder gave the common class too few labels (GC1-HSC: 62-71 % spiral for
   76 %), EM's fractions over-shoot the other way (+0.05 to +0.08), and
   Bayes' rule to any estimate mis-ranks the galaxies the answers do not
   cover.  So the counted rule keeps the head's order and gives the
   unlabelled galaxies the class fractions the plain regression on the same
   answers predicts for them (classify and count): one log-offset per class
   (:func:`match_counts`), so every label is its galaxy's most probable class
   and the class-balanced view stays one shift away (:meth:`Calibrated.under`).
   Chosen on Kaggle's training split; figures in ``docs/benchmarks.md``.
4. **The estimate** (:func:`expected_accuracy`): if the probabilities are
   calibrated, the catalogue's accuracy is the mean of the top probability of
   the galaxies the user did not label; its interval refits steps 2-3 on bootstrap resamples
   of the labels, each with one draw of which galaxies turn out right (:func:`realisation_noise`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# temperature scaling (step 2) lives in its own module; callers may import it from here too
from core.learning.temperature import apply_temperature, fit_temperature, log_probabilities

#: The temperature prior of a round (:func:`fit_temperature`'s ``prior_t`` and ``prior_weight``):
#: fitted once on Kaggle's training split (minus the 800 images settings are chosen on), never on
#: the held-out split or GC1, by ``benchmarks/temperature_prior.py --features F --seeds 3 --centres
#: 0.7,0.8,0.9,1,1.1,1.25`` on galaxy_duo features (see ``docs/benchmarks.md``, issue 21's sixth
#: pass): the centre and weight of lowest mean ECE of the probabilities the counted rule gives (the
#: class-balanced head wants 1.29 there; the counted rule's move to the folder's fractions already
#: sharpens the common class).  Until that pass: 1.46 worth 10 answers, for the class-balanced rule.
#: The weight is a cap since issue 21's thirteenth pass (:func:`prior_weight_for`).  Kept when the
#: fourteenth pass fitted the counted rule's temperature at its fractions: refitted that way the script
#: chose 1.09 up to 50 answers, which lost coverage through the loop.
TEMPERATURE_PRIOR = 1.03
TEMPERATURE_PRIOR_WEIGHT = 100.0
#: The Dirichlet prior's weight in the folder's class-fraction EM, as a share of the unlabelled galaxies.
EM_STRENGTH = 0.05


def prior_weight_for(n_answers: int, cap: float = TEMPERATURE_PRIOR_WEIGHT) -> float:
    """The temperature prior's weight for a round of ``n_answers``: as many, up to ``cap`` (:data:`TEMPERATURE_PRIOR_WEIGHT`).

    Worth 100 from the first answer, the prior hid what ten answers showed: a
    head overconfident on a JWST-like folder (ECE 0.106 at 10 answers on the
    emulated GC1-HSC, 0.081 with this rule; Kaggle's training split and the
    measured sets within 0.002; ``docs/benchmarks.md``, issue 21's thirteenth pass).
    """
    return float(min(max(int(n_answers), 0), cap))


def cross_fit(fit: Callable[[np.ndarray, np.ndarray], np.ndarray | None], lab_rows: np.ndarray, lab_y: np.ndarray,
              n_classes: int, *, folds: int = 5, random_state: int = 0) -> np.ndarray | None:
    """Out-of-fold probabilities of the labelled galaxies: each from a head fitted without its fold.

    Parameters
    ----------
    fit : callable
        ``fit(rows, y)`` returns the probabilities of every galaxy, shape
        (n_samples, n_classes), from a head trained on ``rows`` only (or None).
    lab_rows, lab_y : ndarray of int
        The labelled rows and their classes.
    n_classes : int
    folds : int
        At most this many folds (stratified; fewer when a class has fewer labels).
    random_state : int

    Returns
    -------
    ndarray of shape (len(lab_rows), n_classes), or None when a labelled class has fewer than 2 labels.
    """
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(lab_y)
    counts = counts[counts > 0]
    if len(counts) < 2 or counts.min() < 2:
        return None
    k = int(min(folds, counts.min()))
    out = np.full((len(lab_rows), n_classes), 1.0 / n_classes)
    for train, test in StratifiedKFold(k, shuffle=True, random_state=random_state).split(lab_rows, lab_y):
        proba = fit(lab_rows[train], lab_y[train])
        if proba is not None:
            out[test] = proba[lab_rows[test]]
    return out


def em_prior(proba: np.ndarray, prior_from: np.ndarray | None = None, *, iters: int = 100,
             tol: float = 1e-5, strength: float = 0.0) -> np.ndarray:
    """The class fractions of the galaxies behind ``proba`` (Saerens et al. 2002 EM, optionally MAP).

    ``proba`` are posteriors under the prior ``prior_from`` (default: equal
    fractions, the class-balanced head's).  Each step sets the fractions to
    the mean posterior and re-weighs the posteriors by new / old fractions.

    ``strength`` > 0 makes it the MAP estimate under a Dirichlet prior
    centred on ``prior_from`` worth ``strength`` times the number of galaxies
    (``ROUND_EM_STRENGTH`` in a round).  Plain EM collapses when the user's
    class-balanced picks have taken a rare class's typical members: the rest
    of that class gets low posteriors, EM lowers its fraction, which lowers
    the posteriors again, down to 0 (on part of Kaggle's training split,
    elliptical 0.000 estimated against 0.028 true at 200 answers).  The
    prior's pseudo-counts keep every fraction away from 0 by a margin that
    does not depend on the folder's size.
    """
    k = proba.shape[1]
    p0 = np.full(k, 1.0 / k) if prior_from is None else np.asarray(prior_from, float)
    ratio = np.asarray(proba, float) / np.clip(p0, 1e-12, None)
    prior = p0.copy()
    pseudo = strength * len(proba) * p0
    for _ in range(iters):
        post = ratio * prior
        post /= np.maximum(post.sum(1, keepdims=True), 1e-300)
        new = (post.sum(0) + pseudo) / (len(proba) + pseudo.sum())
        done = np.abs(new - prior).max() < tol
        prior = new
        if done:
            break
    return np.clip(prior, 1e-6, 1.0) / np.clip(prior, 1e-6, 1.0).sum()


def shift_prior(proba: np.ndarray, prior_from: np.ndarray, prior_to: np.ndarray) -> np.ndarray:
    """Posteriors under ``prior_from`` moved to ``prior_to`` (Bayes: multiply by the ratio, renormalise)."""
    p = proba * (np.asarray(prior_to, float) / np.clip(np.asarray(prior_from, float), 1e-12, None))
    return p / np.clip(p.sum(1, keepdims=True), 1e-300, None)


def balanced_view(proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The probabilities as if every class were equally common (the class-balanced decision's)."""
    k = proba.shape[1]
    return shift_prior(proba, prior, np.full(k, 1.0 / k))


def expected_accuracy(proba: np.ndarray) -> tuple[float, float]:
    """Expected accuracy and balanced accuracy of labelling each galaxy with its most probable class.

    Exact when ``proba`` is calibrated: galaxy i is right with probability
    ``max_c p_i(c)``; class c's recall is the probability mass of c that
    lands on galaxies labelled c over all of c's mass.
    """
    if not len(proba):
        return float("nan"), float("nan")
    pred = proba.argmax(1)
    acc = float(proba.max(1).mean())
    mass = proba.sum(0)
    hit = np.array([proba[pred == c, c].sum() for c in range(proba.shape[1])])
    present = mass > 1e-9
    return acc, float(np.mean(hit[present] / mass[present]))


def reliability(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error and the reliability table (mean confidence, accuracy, count) per bin.

    Equal-width bins over [1/2, 1] for top-class confidences of two classes
    (which never fall below 1/2), else over [0, 1].
    """
    correct = np.asarray(correct, float)
    confidence = np.asarray(confidence, float)
    if not len(confidence):
        return float("nan"), []
    edges = np.linspace(0.5 if confidence.min() >= 0.5 else 0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    table, err = [], 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            table.append((float(confidence[m].mean()), float(correct[m].mean()), int(m.sum())))
            err += m.mean() * abs(confidence[m].mean() - correct[m].mean())
    return float(err), table


@dataclass
class Calibrated:
    """A round's calibrated probabilities and what they say about the catalogue."""

    #: Calibrated probabilities of every galaxy under the folder's estimated class fractions.
    proba: np.ndarray
    #: The folder's estimated class fractions (of the galaxies the user did not label).
    prior: np.ndarray
    temperature: float
    bias: np.ndarray
    #: Expected accuracy and balanced accuracy of the unlabelled galaxies' labels, and their 95% intervals.
    accuracy: float
    balanced_accuracy: float
    interval: tuple[float, float]
    balanced_interval: tuple[float, float]
    #: Out-of-fold (cross-fitted) calibrated probabilities of the labelled galaxies, for the reliability diagram.
    oof_proba: np.ndarray
    #: ECE and reliability table of the out-of-fold probabilities on the user's labels.
    ece: float
    table: list[tuple[float, float, int]]
    #: The class fractions ``proba`` are under: equal ("balanced" rule), ``prior`` ("accuracy" rule), or those
    #: that give the unlabelled galaxies the counted fractions ("counted" rule).
    used_prior: np.ndarray | None = None
    #: The decision rule ("counted", "balanced" or "accuracy") and the temperature prior the fit was under.
    decision: str = "balanced"
    prior_t: float = 1.0
    prior_weight: float = 0.0

    def under(self, rule: str) -> np.ndarray:
        """The probabilities under another rule too: "balanced" (equal fractions) or "accuracy" (``prior``).

        The round's own rule gives its own probabilities.  Under the counted rule
        ``prior`` is the counted fractions, so "accuracy" is Bayes' rule to them.
        """
        if rule == self.decision:
            return self.proba
        k = self.proba.shape[1]
        now = self.used_prior if self.used_prior is not None else np.full(k, 1.0 / k)
        return shift_prior(self.proba, now, self.prior if rule == "accuracy" else np.full(k, 1.0 / k))


def integer_counts(fractions: np.ndarray, n: int, keep: np.ndarray | None = None) -> np.ndarray:
    """``n`` galaxies shared out in the proportions ``fractions`` (largest remainders), summing to ``n``.

    ``keep``: classes that get at least one galaxy (when ``n`` allows), so a
    labelled class never vanishes from the catalogue's labels.
    """
    f = np.clip(np.asarray(fractions, float), 0.0, None)
    f = f / f.sum() if f.sum() > 0 else np.full(len(f), 1.0 / len(f))
    raw = f * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts), kind="stable")[:n - int(counts.sum())]] += 1
    for c in (np.flatnonzero(keep) if keep is not None else []):
        if counts[c] == 0 and counts.max() > 1:
            counts[int(counts.argmax())] -= 1
            counts[c] = 1
    return counts


def match_counts(proba: np.ndarray, fractions: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities moved by one log-offset per class so that their argmax gives the classes ``fractions``.

    The same move as :func:`shift_prior` (Bayes' rule with other class
    fractions), with the fractions set so the labels come out in the wanted
    proportions, the order of the galaxies within each class staying the
    probabilities' own (:func:`core.clustering.dec_objective.count_matching_offsets`).

    Returns
    -------
    (moved probabilities, the equivalent prior) : the prior is what
        :func:`shift_prior` from equal fractions would take to give the same move.
    """
    from core.clustering.dec_objective import count_matching_offsets

    k = proba.shape[1]
    if len(proba) < 2:
        return proba, np.full(k, 1.0 / k)
    b = count_matching_offsets(log_probabilities(proba), integer_counts(fractions, len(proba), keep))
    prior = np.exp(b) / np.exp(b).sum()
    return shift_prior(proba, np.full(k, 1.0 / k), prior), prior


def calibrate(head_proba: np.ndarray, oof: np.ndarray, lab_rows: np.ndarray, lab_y: np.ndarray, *,
              decision: str = "balanced", n_boot: int = 100, random_state: int = 0,
              prior_t: float = TEMPERATURE_PRIOR, prior_weight: float | None = None,
              em_strength: float = EM_STRENGTH, offsets: bool | None = None,
              fractions: np.ndarray | None = None) -> Calibrated:
    """Calibrate the head's probabilities on its out-of-fold ones and estimate the catalogue's accuracy.

    Parameters
    ----------
    head_proba : ndarray of shape (n_samples, n_classes)
        The class-balanced head fitted on all labels.
    oof : ndarray of shape (len(lab_rows), n_classes)
        From :func:`cross_fit`.
    lab_rows, lab_y : ndarray of int
    decision : {"counted", "balanced", "accuracy"}
        The probabilities (and labels) the round gives: "counted", the
        calibrated class-balanced probabilities moved so that the unlabelled
        galaxies' labels come out in ``fractions`` (the class fractions the
        plain classifier on the same answers counts, see the module's
        docstring; the round's default); "balanced", the calibrated
        class-balanced probabilities; "accuracy", moved to the folder's
        EM-estimated class fractions (the rule of highest expected accuracy
        when those fractions are right; once the user's picks have taken most
        of a rare class's typical members, EM under-estimates it).
    n_boot : int
        Bootstrap resamples of the labels for the interval (each refits the
        temperature and the class fractions: a fraction of a second in all).
    random_state : int
    prior_t, prior_weight : float
        The temperature prior (:data:`TEMPERATURE_PRIOR`, fitted on Kaggle's
        training split) and its weight in answers (None: :func:`prior_weight_for`
        the number of answers, as many up to 100); ``prior_weight=0`` fits the
        temperature on the answers alone.
    em_strength : float
        The Dirichlet prior of the class-fraction EM (:func:`em_prior`'s ``strength``).
    offsets : bool or None
        Fit a per-class offset beside the temperature; None: only under the
        "accuracy" rule (see the module's docstring, step 2).
    fractions : ndarray of shape (n_classes,), optional
        The unlabelled galaxies' class fractions the "counted" rule gives the
        labels (required by it, unused by the others).

    Returns
    -------
    Calibrated
    """
    if decision not in ("counted", "balanced", "accuracy"):
        raise ValueError(f"unknown decision rule {decision!r} (counted, balanced or accuracy)")
    if decision == "counted" and fractions is None:
        raise ValueError("the counted rule needs the class fractions to give the labels")
    if offsets is None:
        offsets = decision == "accuracy"
    if prior_weight is None:
        prior_weight = prior_weight_for(len(lab_y))
    n, k = head_proba.shape
    free = np.ones(n, bool)
    free[lab_rows] = False
    rng = np.random.default_rng(random_state)
    labelled = np.bincount(lab_y, minlength=k) > 0

    def fit(idx: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Temperature, offsets, the fractions, the probabilities of ``rows`` and the prior they are under."""
        # under the counted rule the temperature is fitted where the catalogue's probabilities will be: at the
        # counted fractions, each class's answers weighing its share of the rest (issue 21's fourteenth pass)
        T, b = fit_temperature(oof[idx], lab_y[idx], bias=offsets, prior_t=prior_t, prior_weight=prior_weight,
                               fractions=fractions if decision == "counted" else None)
        bal = apply_temperature(head_proba[rows], T, b)
        if decision == "counted":
            moved, used = match_counts(bal, fractions, labelled)
            return T, b, np.asarray(fractions, float), moved, used
        prior = em_prior(bal, strength=em_strength)
        used = prior if decision == "accuracy" else np.full(k, 1.0 / k)
        return T, b, prior, shift_prior(bal, np.full(k, 1.0 / k), used), used

    # on the unlabelled galaxies; the prior they end under (for the counted rule: the offsets that give
    # them their counted fractions) moves every galaxy
    T, b, prior, _, used = fit(np.arange(len(lab_y)), np.flatnonzero(free))
    proba = shift_prior(apply_temperature(head_proba, T, b), np.full(k, 1.0 / k), used)
    acc, bacc = expected_accuracy(proba[free])
    # the bootstrap refits on 1,000 of the unlabelled galaxies (their sampling error, ~0.005, is
    # far below the labels'): keeps a round on 10,000 galaxies within its time
    some = np.flatnonzero(free)
    some = np.sort(rng.choice(some, 1000, replace=False)) if len(some) > 1000 else some
    boots = []
    # the accuracy the interval is about is a realisation: which of the unlabelled galaxies turn out right
    shrink = np.sqrt(len(some) / max(1, int(free.sum())))  # the subsample's realisation noise, scaled to the folder's
    for _ in range(n_boot):
        idx = rng.integers(0, len(lab_y), len(lab_y))
        if len(np.unique(lab_y[idx])) < len(np.unique(lab_y)):
            continue
        p_b = fit(idx, some)[3]
        boots.append(np.add(expected_accuracy(p_b), shrink * np.asarray(realisation_noise(p_b, rng))))
    boots_a = np.array(boots) if boots else np.full((1, 2), np.nan)
    oof_cal = apply_temperature(oof, T, b)  # the user's picks are class-balanced, so is this view
    err, table = reliability(oof_cal.argmax(1) == lab_y, oof_cal.max(1))
    lo, hi = np.nanpercentile(boots_a, [2.5, 97.5], axis=0)
    # The calibration is checked on n labels only: a miscalibration within their binomial noise goes
    # unseen, so the interval is at least the Wilson interval of n trials around the estimate.
    w_acc, w_bal = wilson(acc, len(lab_y)), wilson(bacc, len(lab_y))
    interval = (min(float(lo[0]), w_acc[0]), max(float(hi[0]), w_acc[1]))
    balanced_interval = (min(float(lo[1]), w_bal[0]), max(float(hi[1]), w_bal[1]))
    return Calibrated(proba, prior, T, b, acc, bacc, interval, balanced_interval, oof_cal, err, table, used,
                      decision, prior_t, prior_weight)


def realisation_noise(proba: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """One draw of how far the realised accuracy and balanced accuracy fall from their expectation.

    Why: the estimate is the *expected* accuracy of the unlabelled galaxies' labels; what the user
    finds is one realisation (which galaxies turn out right), scattered around it even when every
    probability is exact.  Once a large share of a small folder is labelled, the bootstrap over the
    labels and the Wilson interval no longer hold that scatter (Kaggle's held-out split, 200 answers,
    428 galaxies left: the interval covered the truth in 2 of 5 seeds).  Returns realised minus
    expected (accuracy, balanced accuracy), each galaxy's class drawn from its probabilities.
    """
    proba = np.asarray(proba, np.float64)
    if not len(proba):
        return 0.0, 0.0
    pred, cum = proba.argmax(1), np.cumsum(proba / proba.sum(1, keepdims=True), axis=1)
    truth = np.minimum((rng.random((len(proba), 1)) > cum).sum(1), proba.shape[1] - 1)
    acc, bacc = expected_accuracy(proba)
    real_bacc = float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))
    return float(np.mean(pred == truth)) - acc, real_bacc - bacc


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` seen on ``n`` trials (NaNs when undefined)."""
    if not np.isfinite(p) or n <= 0:
        return float("nan"), float("nan")
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
