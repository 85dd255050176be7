"""A fine-tuning round's options, what it reports (its result record) and the honest interval of its accuracy estimate."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.learning.head import BALANCED_ANSWERS
from core.vocabulary import cluster_name

if TYPE_CHECKING:
    from core.learning.calibration import Calibrated
    from core.learning.finetune import RoundPlan, TrainedRound


@dataclass(frozen=True)
class RoundOptions:
    """Every tunable of a fine-tuning round, written once (``finetune_round(..., options=)`` or keywords).

    Attributes
    ----------
    steps, update_interval, lr, batch_size : the training schedule (Adam; targets refreshed every ``update_interval``)
    ce_weight, pair_weight, kl_weight : the class-balanced cross-entropy, the must/cannot-link pairs, DEC's KL term
    train_layers : how many of the encoder's last linear layers the round trains (the rest are fixed)
    holdout : the share of the user's labels held back to choose the stopping step
    head : train the supervised head on the full features (False: DEC alone)
    head_threshold : the head's confidence above which its class replaces DEC's cluster
    head_C : the head's inverse regularisation
    self_training : the class-balanced head's self-training rounds
    balanced_answers : the class-balanced head's worth in answers against the plain logistic regression (its
        weight is ``balanced_answers / (balanced_answers + n)`` with n answers; None: the class-balanced head alone;
        :mod:`core.learning.head`)
    estimate : calibrate the head on its cross-fitted probabilities and estimate the catalogue's accuracy
        (False: the raw class-balanced head, no estimate)
    decision : ``"counted"`` (the default: the calibrated head's order, the unlabelled galaxies given the class
        fractions the plain logistic regression on the same answers counts), ``"balanced"`` (the calibrated
        class-balanced probabilities' most probable class) or ``"accuracy"`` (probabilities moved to the
        folder's EM-estimated class fractions); the others are in ``RoundResult.labels_under``
        (:mod:`core.learning.calibration`)
    threads : torch threads for the round (None: leave torch's setting)
    random_state : the seed; same seed, same round
    """

    steps: int = 150
    update_interval: int = 25
    lr: float = 1e-3
    batch_size: int = 256
    ce_weight: float = 1.0
    pair_weight: float = 0.5
    kl_weight: float = 0.1
    train_layers: int = 1
    holdout: float = 0.2
    head: bool = True
    head_threshold: float = 0.0
    head_C: float = 0.1
    self_training: int = 3
    balanced_answers: float | None = BALANCED_ANSWERS
    estimate: bool = True
    decision: str = "counted"
    threads: int | None = 1
    random_state: int = 0


#: How a round's summary names its decision rule (:mod:`core.learning.calibration`).
RULE_TEXT = {"counted": "in the class fractions the plain logistic regression on your labels counts",
             "accuracy": "for the highest expected accuracy", "balanced": "class-balanced"}


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` measured on ``n`` trials (NaNs when undefined).

    Used for the round's accuracy estimate: it stays inside [0, 1] and is
    honest at small ``n`` and at proportions near 1, where the normal
    approximation is not.
    """
    from core.learning.calibration import wilson

    return wilson(p, n, z)


@dataclass
class RoundResult:
    """What a fine-tuning round produced and what it changed.

    ``labels``/``confidence`` are the final ones (head where confident, DEC
    otherwise); ``dec_labels`` are DEC's clusters alone; ``from_head`` marks
    the images whose label came from the head.  ``estimated_accuracy`` and
    ``estimated_balanced_accuracy`` are the head's accuracy cross-validated on
    the user's labels (NaN when too few labels per class).
    """

    class_names: list[str]
    labels: np.ndarray
    confidence: np.ndarray
    soft: np.ndarray
    embedding: np.ndarray
    encoder_path: Path | None
    moved: np.ndarray
    transitions: dict[tuple[str, str], int]
    sizes: dict[str, int]
    agreement: float
    n_labelled: int
    seconds: float
    history: list[float] = field(default_factory=list)
    dec_labels: np.ndarray | None = None
    from_head: np.ndarray | None = None
    estimated_accuracy: float = float("nan")
    estimated_balanced_accuracy: float = float("nan")
    estimate_method: str = ""
    best_step: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: The head's calibration: per-class probabilities, the folder's class fractions, the estimate's interval.
    calibration: Calibrated | None = None
    #: The class-balanced head's weight in the head (the plain logistic regression has the rest); NaN: no head.
    balanced_weight: float = float("nan")

    def class_probabilities(self) -> np.ndarray | None:
        """Calibrated probability of each labelled class for every image (columns: ``class_names[:k]``), or None.

        Under the folder's estimated class fractions: of the galaxies given
        p(spiral) = 0.9, nine in ten are spirals (the catalogue's columns).
        """
        return None if self.calibration is None else self.calibration.proba

    def labels_under(self, rule: str) -> np.ndarray:
        """The labels under a decision rule: "balanced" (classes equally common), "accuracy" (the
        folder's estimated class fractions) or "counted"; the round's own labels use its ``decision``."""
        if self.calibration is None or self.from_head is None:
            return self.labels
        out = self.labels.copy()
        other = self.calibration.under(rule).argmax(1)
        out[self.from_head] = other[self.from_head]  # the catalogue keeps the user's own labels anyway
        return out

    def predicted_names(self) -> np.ndarray:
        """The class name the model gives each image."""
        return np.asarray(self.class_names, dtype=object)[self.labels]

    def estimate_interval(self) -> tuple[float, float]:
        """The 95% interval of the estimated accuracy.

        With a calibrated head: the bootstrap interval over the user's labels,
        each draw with one realisation of which unlabelled galaxies turn out
        right (:func:`core.learning.calibration.calibrate`); else the Wilson interval
        for the number of labels.  Ten labels measure an accuracy to within
        about +-20 points; the user should see that, not just the point estimate.
        """
        if self.calibration is not None:
            return self.calibration.interval
        return wilson_interval(self.estimated_accuracy, self.n_labelled)

    def balanced_interval(self) -> tuple[float, float]:
        """The 95% interval of the estimated balanced accuracy, made as :meth:`estimate_interval`'s.

        Why shown: a class-balanced figure without its interval read as exact, and ten
        labels measure it no better than the accuracy (on the three measured sets it
        held the truth in 71 of 75 (seed, budget) pairs; ``docs/benchmarks.md``, issue 21).
        """
        if self.calibration is not None:
            return self.calibration.balanced_interval
        return wilson_interval(self.estimated_balanced_accuracy, self.n_labelled)

    def _estimate_text(self) -> str:
        lo, hi = self.estimate_interval()
        return f"{self.estimated_accuracy:.0%} (95% interval {lo:.0%}-{hi:.0%})"

    def _balanced_text(self) -> str:
        lo, hi = self.balanced_interval()
        return f"{self.estimated_balanced_accuracy:.0%} (95% interval {lo:.0%}-{hi:.0%})"

    def headline(self) -> str:
        """One line for the status bar: labels used, time, moves, and the honest accuracy estimate.

        Never the agreement with the user's own labels, which training forces to
        nearly 100% and so says nothing about the rest of the catalogue.
        """
        text = f"Retrained on {self.n_labelled} labels in {self.seconds:.1f} s: {int(self.moved.sum())} moved"
        if np.isfinite(self.estimated_accuracy):
            return text + f"; estimated accuracy {self._estimate_text()}, calibrated on your labels"
        return text + "; accuracy not yet measurable (label a few galaxies of each class)"

    def summary(self) -> str:
        """A few lines for the user: estimated accuracy, moves and sizes."""
        lines = []
        if self.n_labelled:
            if np.isfinite(self.estimated_accuracy):
                lines.append(f"estimated accuracy on the galaxies you did not label: {self._estimate_text()}; "
                             f"balanced {self._balanced_text()}; {self.estimate_method}")
            else:
                lines.append(f"estimated accuracy: not yet measurable ({self.estimate_method})")
        if self.calibration is not None:
            from core.learning.calibration import TEMPERATURE_PRIOR_WEIGHT

            cal = self.calibration
            fractions = ", ".join(f"{n} {f:.0%}" for n, f in zip(self.class_names, cal.prior))
            # how the answers weigh in the fit (issue 21's fourteenth pass): at the counted fractions, or equally per class
            weighing = ("each class weighing its share of the galaxies you did not label" if cal.decision == "counted"
                        else "each class weighing the same")
            lines.append(f"calibration: temperature {cal.temperature:.2f} fitted on your labels ({weighing}) under a prior of "
                         f"{cal.prior_t:.2f} worth {cal.prior_weight:g} labels (as many as yours, up to "
                         f"{TEMPERATURE_PRIOR_WEIGHT:g}; from Kaggle's training split); "
                         f"labels {RULE_TEXT.get(cal.decision, cal.decision)}"
                         f"; estimated class fractions of the rest: {fractions}")
        if np.isfinite(self.balanced_weight):
            lines.append(f"head: the class-balanced fit weighs {self.balanced_weight:.0%}, the plain logistic "
                         f"regression {1 - self.balanced_weight:.0%} (the plain one gains weight with every answer)")
        lines.append(f"{int(self.moved.sum())} galaxies changed cluster")
        for (a, b), c in sorted(self.transitions.items(), key=lambda t: -t[1])[:8]:
            lines.append(f"  {c} from '{a}' to '{b}'")
        lines.append("sizes: " + ", ".join(f"{k} {v}" for k, v in self.sizes.items()))
        return "\n".join(lines)


def report_round(
    plan: RoundPlan,
    trained: TrainedRound,
    head_proba: np.ndarray | None,
    *,
    head_threshold: float = 0.0,
    estimate: tuple[float, float, str] = (float("nan"), float("nan"), ""),
    encoder_path: str | os.PathLike[str] | None = None,
    out_path: str | os.PathLike[str] | None = None,
    prev_names: Sequence[str] | None = None,
    seconds: float = 0.0,
    timings: dict[str, float] | None = None,
    calibration: Calibrated | None = None,
) -> RoundResult:
    """Combine DEC and the head into final labels, save the encoder and say what changed.

    Parameters
    ----------
    plan, trained : from :func:`plan_round` and :func:`train_round`
    head_proba : ndarray of shape (n_samples, n_classes) or None
        From :func:`fit_head`.
    head_threshold : float
        The head decides an image when its top probability reaches this and
        the image's DEC cluster is one of the labelled classes (clusters no one
        labelled stay DEC's).  0 lets the head decide every such image.
    estimate : tuple
        From :func:`estimate_accuracy`.
    encoder_path, out_path : path-like, optional
        The round's input encoder and where to write the new one (never the same file).
    prev_names : sequence of str, optional
        Name of each previous cluster (for the "what changed" report).
    seconds : float
        Time the round took so far.
    timings : dict, optional
        Seconds per stage, kept in the result.
    calibration : Calibrated, optional
        The head's calibration (:func:`core.learning.head.calibrated_head`), kept in the result.

    Returns
    -------
    RoundResult
    """
    t0 = time.perf_counter()
    dec, names = plan.dec, plan.names
    dec_labels = trained.soft.argmax(1).astype(np.int64)
    labels = dec_labels.copy()
    confidence = trained.soft.max(1).astype(np.float64)
    from_head = np.zeros(len(labels), bool)
    if head_proba is not None:
        top = head_proba.max(1)
        from_head = (dec_labels < plan.n_classes) & (top >= head_threshold)
        labels[from_head] = head_proba[from_head].argmax(1)
        confidence[from_head] = top[from_head]
    # A labelled galaxy belongs to its class's cluster (its label stands in the catalogue anyway).
    labels[plan.lab_rows] = plan.lab_y
    saved = None
    if out_path is not None:
        out_path = Path(out_path)
        if encoder_path is not None and out_path.resolve() == Path(encoder_path).resolve():
            raise ValueError("write the new encoder to a new file; the previous one is kept for undo")
        dec.cluster_centers_ = trained.centers
        saved = dec.save_onnx(out_path)
    prev = plan.prev
    before = [(prev_names[c] if prev_names is not None and 0 <= c < len(prev_names) else cluster_name(c)) for c in prev]
    after = [names[c] for c in labels]
    # A galaxy moved when its new cluster does not continue its old one (a cluster
    # that only took a class's name is not a move).
    moved = np.array([int(o) not in plan.origin[int(c)] for o, c in zip(prev, labels)])
    transitions: dict[tuple[str, str], int] = {}
    for a, b, m in zip(before, after, moved):
        if m:
            transitions[(a, b)] = transitions.get((a, b), 0) + 1
    sizes = {nm: int((labels == i).sum()) for i, nm in enumerate(names)}
    agreement = float(np.mean(labels[plan.lab_rows] == plan.lab_y)) if len(plan.lab_rows) else float("nan")
    timings = dict(timings or {})
    timings["report"] = time.perf_counter() - t0
    return RoundResult(names, labels, confidence, trained.soft, trained.embedding, saved, moved, transitions, sizes,
                       agreement, len(plan.lab_rows), seconds + timings["report"], trained.history, dec_labels,
                       from_head, estimate[0], estimate[1], estimate[2], trained.best_step, timings, calibration)
