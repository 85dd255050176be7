"""A fine-tuning round's options, what it reports (its result record) and the honest interval of its accuracy estimate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


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
    self_training : the head's self-training rounds
    estimate : cross-validate the head on the user's labels for the report
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
    estimate: bool = True
    threads: int | None = 1
    random_state: int = 0


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` measured on ``n`` trials (NaNs when undefined).

    Used for the round's accuracy estimate: it stays inside [0, 1] and is
    honest at small ``n`` and at proportions near 1, where the normal
    approximation is not.
    """
    if not np.isfinite(p) or n <= 0:
        return float("nan"), float("nan")
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


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

    def predicted_names(self) -> np.ndarray:
        """The class name the model gives each image."""
        return np.asarray(self.class_names, dtype=object)[self.labels]

    def estimate_interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the estimated accuracy, given how many labels measured it.

        Ten labels measure an accuracy to within about +-20 points; the user
        should see that, not just the point estimate (on the Kaggle held-out
        set, 10 answers estimated 0.99 where the truth was 0.92).
        """
        return wilson_interval(self.estimated_accuracy, self.n_labelled)

    def _estimate_text(self) -> str:
        lo, hi = self.estimate_interval()
        return f"{self.estimated_accuracy:.0%} (95% interval {lo:.0%}-{hi:.0%})"

    def headline(self) -> str:
        """One line for the status bar: labels used, time, moves, and the honest accuracy estimate.

        Never the agreement with the user's own labels, which training forces to
        nearly 100% and so says nothing about the rest of the catalogue.
        """
        text = f"Retrained on {self.n_labelled} labels in {self.seconds:.1f} s: {int(self.moved.sum())} moved"
        if np.isfinite(self.estimated_accuracy):
            return text + f"; estimated accuracy {self._estimate_text()}, cross-validated on your labels"
        return text + "; accuracy not yet measurable (label a few galaxies of each class)"

    def summary(self) -> str:
        """A few lines for the user: estimated accuracy, moves and sizes."""
        lines = []
        if self.n_labelled:
            if np.isfinite(self.estimated_accuracy):
                lines.append(f"estimated accuracy on the galaxies you did not label: {self._estimate_text()}; "
                             f"balanced {self.estimated_balanced_accuracy:.0%}; {self.estimate_method}")
            else:
                lines.append(f"estimated accuracy: not yet measurable ({self.estimate_method})")
        lines.append(f"{int(self.moved.sum())} galaxies changed cluster")
        for (a, b), c in sorted(self.transitions.items(), key=lambda t: -t[1])[:8]:
            lines.append(f"  {c} from '{a}' to '{b}'")
        lines.append("sizes: " + ", ".join(f"{k} {v}" for k, v in self.sizes.items()))
        return "\n".join(lines)
