"""Fine-tuning as a scikit-learn estimator: ``fit(X, y)`` with ``y == -1`` for the unlabelled rows.

:class:`SemiSupervisedDEC` wraps :func:`core.learning.finetune.finetune_round`
in scikit-learn's semi-supervised convention (as ``SelfTrainingClassifier`` and
``LabelSpreading`` take it): every image is a row of ``X``, the user's labels
are ``y`` with ``-1`` where there is none, and ``fit`` returns ``self`` with the
learned state in attributes ending in ``_``.  The app keeps calling
``finetune_round`` through :meth:`core.project.Project.finetune` (it also hands
over the previous clusters and their names); benchmarks and scripts that think
in ``(X, y)`` use this.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from core.learning.rounds import RoundOptions, RoundResult

UNLABELLED = -1


class SemiSupervisedDEC(ClassifierMixin, BaseEstimator):
    """One fine-tuning round of a DEC encoder on partly labelled rows.

    Parameters
    ----------
    encoder_path : path-like
        The DEC encoder ONNX file the round starts from
        (:meth:`core.clustering.dec.DEC.save_onnx`).
    out_path : path-like, optional
        Where the fine-tuned encoder is written (a new file; the old one is kept).
    options : RoundOptions, optional
        The round's tunables (:class:`core.learning.rounds.RoundOptions`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``y`` (``-1`` excluded), sorted.
    transduction_ : ndarray of shape (n_samples,)
        The label the round gives every row of ``X``: a class of ``classes_``,
        or ``-1`` for a row left in a cluster no label named.
    label_distributions_ : ndarray of shape (n_samples, n_clusters)
        The round's soft assignments, columns in the order of ``result_.class_names``.
    result_ : RoundResult
        The round's full report (moves, confidences, the accuracy estimate).
    """

    def __init__(self, encoder_path: str | os.PathLike[str] = "", *, out_path: str | os.PathLike[str] | None = None,
                 options: RoundOptions | None = None) -> None:
        self.encoder_path = encoder_path
        self.out_path = out_path
        self.options = options

    def fit(self, X: np.ndarray, y: Sequence[object] | np.ndarray, *, prev_clusters: np.ndarray | None = None,
            progress=None, should_stop=None) -> SemiSupervisedDEC:  # noqa: ANN001 (callables, see core.progress)
        """Fine-tune on the labelled rows of ``y`` (``-1``: unlabelled), every row of ``X`` taking part.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Features of every image (the encoder's input).
        y : array-like of shape (n_samples,)
            Class labels (ints or strings), ``-1`` for the unlabelled rows.
        prev_clusters : ndarray of int, optional
            The clusters before this round (default: the encoder's own).
        progress, should_stop : callables, optional

        Returns
        -------
        self
        """
        from core.learning.finetune import finetune_round

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=object)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X of shape (n_samples, n_features) and y of length n_samples are needed; got "
                             f"{X.shape} and {len(y)}")
        known = np.array([not _is_unlabelled(v) for v in y])
        if not known.any():
            raise ValueError("y has no labelled row (every value is -1): label a few galaxies first")
        self.classes_ = np.array(sorted(set(y[known].tolist()), key=str), dtype=object)
        names = {str(c): c for c in self.classes_}
        if len(names) != len(self.classes_):
            raise ValueError("two labels of y have the same text; use distinct labels")
        user_labels = [str(v) if k else None for v, k in zip(y, known)]
        self.result_: RoundResult = finetune_round(
            X, self.encoder_path, user_labels, prev_clusters=prev_clusters, class_order=list(names),
            out_path=self.out_path, options=self.options, progress=progress, should_stop=should_stop)
        row_names = [self.result_.class_names[int(c)] for c in self.result_.labels]
        self.transduction_ = np.array([names.get(n, UNLABELLED) for n in row_names], dtype=object)
        if all(isinstance(c, (int, np.integer)) for c in self.classes_):
            self.classes_ = self.classes_.astype(np.int64)
            self.transduction_ = self.transduction_.astype(np.int64)
        self.label_distributions_ = np.asarray(self.result_.soft)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The label of each row of the data the estimator was fitted on (transductive, as the app uses it).

        The round's labels combine DEC with a head fitted on the training rows, so
        they are defined for those rows only; ``X`` must be them.
        """
        X = np.asarray(X)
        if not hasattr(self, "transduction_"):
            raise AttributeError("fit the estimator first")
        if len(X) != len(self.transduction_):
            raise ValueError(f"this estimator labels the {len(self.transduction_)} rows it was fitted on, "
                             f"not {len(X)} new ones")
        return self.transduction_.copy()


def _is_unlabelled(value: object) -> bool:
    return value is None or (isinstance(value, (int, np.integer)) and int(value) == UNLABELLED)
