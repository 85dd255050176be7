"""Temperature scaling of a head's probabilities (Guo et al. 2017): step 2 of :mod:`core.learning.calibration`.

One temperature (and, optionally, one offset per class) fitted on the
user's cross-fitted answers by a damped Newton method on the weighted
negative log-likelihood, with a Gaussian prior on log T.  Kept apart from
the rest of the calibration (cross-fitting, class fractions, the estimate)
because it is the one numerical optimiser of the round.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12
#: The least class fraction :func:`fit_temperature` weighs and moves to (a class the count finds no
#: galaxy of still has answers; they keep a thousandth of the loss).
FRACTION_FLOOR = 1e-3


def log_probabilities(p: np.ndarray) -> np.ndarray:
    """Natural log of probabilities, clipped below so that a zero gives a large negative number, not -inf."""
    return np.log(np.clip(p, _EPS, 1.0))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray, *, bias: bool = True, l2: float = 1.0,
                    prior_t: float = 1.0, prior_weight: float = 0.0,
                    fractions: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Temperature and per-class offsets minimising the weighted NLL of ``softmax(log p / T + b)``.

    By default each class weighs the same in the loss (the head's balanced
    world).  With ``fractions`` each class's answers weigh its fraction, and
    the probabilities are moved to those fractions (Bayes' rule) before the
    loss: the temperature is then the one of the world the catalogue's
    probabilities are in (:func:`core.learning.calibration.calibrate`, the
    counted rule), not one set by a rare class's few, hard answers.

    A small ridge (``l2``, a prior of T = 1, b = 0 worth that many labels)
    keeps a fit on ten labels from running off (ten perfect labels would
    otherwise send T to 0: certainty from nothing).  ``prior_weight`` > 0
    adds a Gaussian prior on log T centred on ``log prior_t`` worth that many
    labels (:data:`core.learning.calibration.TEMPERATURE_PRIOR`): the user's
    answers pull away from it as they accumulate (the labels' NLL grows with
    their number, the prior's weight does not).

    Parameters
    ----------
    proba : ndarray of shape (n_answers, n_classes)
        Out-of-fold probabilities of the answered galaxies, in the class-balanced world.
    y : ndarray of int
        Their classes.
    bias : bool
        Fit one offset per class beside the temperature.
    l2, prior_t, prior_weight : float
    fractions : ndarray of shape (n_classes,), optional
        The class fractions of the galaxies the probabilities will be used on.

    Returns
    -------
    (T, b) : float and ndarray of shape (n_classes,)
    """
    logp = log_probabilities(proba)
    k = proba.shape[1]
    centre = -float(np.log(prior_t))  # theta[0] is log(1 / T)
    counts = np.bincount(y, minlength=k).astype(float)
    # each class's answers weigh its share of the loss (equal, or its fraction); the move to the fractions is Bayes'
    world = np.ones(k) if fractions is None else np.clip(np.asarray(fractions, float), FRACTION_FLOOR, None)
    share = world * (counts > 0)
    share = share / max(share.sum(), _EPS)
    w = share[y] * len(y) / np.maximum(counts[y], 1)
    move = 0.0 if fractions is None else np.log(world)
    rows = np.arange(len(y))

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        inv_t = np.exp(theta[0])
        z = logp * inv_t + (theta[1:] if bias else 0.0) + move
        q = _softmax(z)
        dt = theta[0] - centre
        nll = -(w * log_probabilities(q[rows, y])).sum() + l2 * (theta ** 2).sum() + prior_weight * dt * dt
        g = q
        g[rows, y] -= 1.0
        g *= w[:, None]
        grad = np.concatenate([[(g * logp).sum() * inv_t], g.sum(0) if bias else []]) + 2 * l2 * theta
        grad[0] += 2 * prior_weight * dt
        return float(nll), grad

    # damped Newton on 1 + k parameters (the Hessian by differences of the exact gradient): a few
    # dozen gradient evaluations on the labels, no optimiser library (scipy's L-BFGS-B spent 0.2 s
    # a call in its Fortran driver under load, a round calls this a hundred times)
    theta = np.zeros(1 + (k if bias else 0))
    theta[0] = centre if prior_weight > 0 else 0.0
    lo = np.array([-3.0] + [-5.0] * (len(theta) - 1))
    f, g = loss_grad(theta)
    eye = np.eye(len(theta))
    for _ in range(50):
        h = np.stack([(loss_grad(theta + 1e-5 * e)[1] - g) / 1e-5 for e in eye])
        h = (h + h.T) / 2 + (1e-6 + max(0.0, -np.linalg.eigvalsh((h + h.T) / 2).min())) * eye
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-4:
            cand = np.clip(theta - t * step, lo, -lo)
            fc, gc = loss_grad(cand)
            if fc <= f:
                break
            t /= 2
        if t <= 1e-4 or np.abs(cand - theta).max() < 1e-7:
            break
        theta, f, g = cand, fc, gc
    b = theta[1:] - theta[1:].mean() if bias else np.zeros(k)
    return float(np.exp(-theta[0])), b


def apply_temperature(proba: np.ndarray, T: float, b: np.ndarray) -> np.ndarray:
    """The calibrated probabilities ``softmax(log p / T + b)``."""
    return _softmax(log_probabilities(proba) / T + b)
