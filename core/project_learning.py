"""Learning from the user's labels: suggestions, fine-tuning rounds and their undo; part of :class:`core.project.Project`.

:class:`LearningFromLabels` is a mixin of ``Project``: its methods use the
project's features, clusters, labels, undo stack and events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.undo import Command as _Command
from core.vocabulary import ROUND_METHOD, SPECIAL, is_default_cluster_name

if TYPE_CHECKING:
    from core.learning.rounds import RoundResult


class LearningFromLabels:
    """The model's view of the project, Suggest, Retrain and a round's undo (mixed into ``Project``)."""

    # ------------------------------------------------------------ learning from labels
    def encoder_path(self, base: bool = False) -> Path | None:
        """The DEC encoder ONNX file of the current run (``base``: of the DEC run it came from), if any."""
        if self.run is None:
            return None
        return self.store.model_path(self.run.base_encoder if base else self.run.encoder)

    def model_view(self) -> tuple[np.ndarray, np.ndarray]:
        """Soft assignments and an embedding of every image, for suggestions.

        From the DEC encoder when the run has one (its q and 10-d embedding),
        else the run's stored soft assignments with the 2-D map; only runs
        stored before soft assignments were kept fall back to an approximation
        from the confidences.
        """
        enc = self.encoder_path()
        if enc is not None and self.features is not None:
            from core.clustering.onnx_mlp import run_encoder

            emb, q = run_encoder(enc, self.features)
            return q, emb
        stored = self.store.load_soft(self.run.soft if self.run else None, self.db_ids)
        if stored is not None:
            return stored.astype(np.float64), self.coords.astype(np.float64)
        k = max(2, len(self.cluster_ids()))
        soft = np.zeros((len(self), k))
        conf = np.clip(self.confidence.astype(np.float64), 1.0 / k, 1.0)
        soft[:, 0] = conf
        soft[:, 1:] = ((1 - conf) / (k - 1))[:, None]
        return soft, self.coords.astype(np.float64)

    def unlabelled_in(self, rows: np.ndarray) -> int:
        """How many of ``rows`` the user has not labelled yet: the count the status line and classify mode show.

        In numpy: a per-row Python loop over the strip cost 5-12 ms of every key at 200,000 galaxies.
        """
        rows = np.asarray(rows, np.int64)
        return int(np.count_nonzero(np.equal(self.user_labels[rows], None))) if len(rows) else 0

    def suggest(self, n: int = 10, random_state: int = 0, mode: str = "next") -> np.ndarray:
        """Rows worth labelling next (see :func:`core.learning.active.suggest`), or with ``mode="moved"``
        the galaxies the last round moved, least sure first (:func:`core.learning.active.review_moved`).
        """
        from core.learning.active import review_moved, soft_from_confidence, suggest

        labelled = np.array([u is not None for u in self.user_labels], bool)
        if mode == "moved":
            last = self.last_round
            if last is None:
                return np.zeros(0, np.int64)
            return review_moved(last.moved, last.confidence, labelled)[:n]
        if mode != "next":
            raise ValueError(f"unknown suggestion mode {mode!r} (next or moved)")
        if self.run is not None and self.run.is_round:
            # the round's own classes and confidences (head and DEC combined)
            soft, emb = soft_from_confidence(self.clusters, self.confidence), self.coords.astype(np.float64)
        else:
            soft, emb = self.model_view()
        return suggest(soft, emb, labelled, n, features=self.features, predicted=self.clusters,
                       random_state=random_state)

    def finetune(
        self,
        progress: Callable[[float, str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        **params: object,
    ) -> RoundResult:
        """Run one semi-supervised round on the user's labels (off the GUI thread); returns a RoundResult.

        The result is not applied: call :meth:`apply_round` on the GUI side.
        """
        from core.learning.finetune import finetune_round

        # Every round starts from the DEC run's own encoder with all the labels so far:
        # rounds built on rounds drift (benchmarks/label_efficiency.py), and undo stays exact.
        enc = self.encoder_path(base=True)
        if enc is None:
            raise RuntimeError("Learning from labels needs a DEC run: cluster with the DEC algorithm first.")
        if self.features is None:
            raise RuntimeError("The features are still loading; try again in a moment.")
        if not any(u is not None for u in self.user_labels):
            raise RuntimeError("Label a few galaxies first (number keys), then retrain.")
        out = self.store.new_model_path("dec_encoder_round")
        return finetune_round(
            self.features, enc, list(self.user_labels), prev_clusters=self.clusters,
            prev_names=[self.cluster_name(c) for c in range(int(self.clusters.max()) + 1)],
            cluster_names=dict(self.cluster_names), class_order=self.class_names(), out_path=out,
            progress=progress, should_stop=should_stop, **params)

    def learning_curve(self) -> list[tuple[int, float, float, float]]:
        """(labels, estimated accuracy, 95% low, high) of each round leading to the current run, oldest first.

        Read from the runs' records (each round's run keeps its estimate and its
        parent), so an undone round leaves the curve with its run.
        """
        points, run_id, seen = [], self.run_id, set()
        while run_id is not None and run_id not in seen:
            seen.add(run_id)
            run = self.store.run(int(run_id))
            if run is None:
                break
            if run.params.get("estimate"):
                points.append(tuple(run.params["estimate"]))
            run_id = run.params.get("parent_run")
        return points[::-1]

    def _state(self) -> tuple:
        return (self.run_id, self.run, self.clusters.copy(), self.confidence.copy(), dict(self.cluster_names))

    def _restore(self, state: tuple) -> None:
        self.run_id, self.run, self.clusters, self.confidence, self.cluster_names = \
            state[0], state[1], state[2].copy(), state[3].copy(), dict(state[4])
        self.store.set_setting("current_run", self.run_id)
        self.events.clusters_changed.emit()
        self.events.round_changed.emit()

    def apply_round(self, result: RoundResult) -> None:
        """Make a fine-tuning round's clusters the current run (stored; undoable, back to the previous run)."""
        for name in result.class_names:
            if not is_default_cluster_name(name) and name not in self.class_names() and name not in SPECIAL:
                self.add_class(name)
        current = self.run
        params = dict(current.params) if current is not None else {}
        params.update({"encoder": result.encoder_path.name if result.encoder_path else None,
                       "base_encoder": current.base_encoder if current is not None else None,
                       "parent_run": self.run_id, "user_labels": result.n_labelled,
                       "soft": self.store.save_soft(self.db_ids, result.soft),
                       # The round keeps the map shown, which may not be the parent's run projection
                       # (reprojected since): recorded as it is, or a reopen names PCA over t-SNE points.
                       "projection": self.projection()})
        lo, hi = result.estimate_interval()
        params.pop("estimate", None)
        if np.isfinite([result.estimated_accuracy, lo, hi]).all():  # the learning curve's point of this round
            params["estimate"] = [result.n_labelled, float(result.estimated_accuracy), float(lo), float(hi)]
        proba = result.class_probabilities()
        if proba is not None:  # the catalogue's p_<class> columns (core/catalog/export.py)
            params.update({"proba": self.store.save_soft(self.db_ids, proba),
                           "proba_classes": list(result.class_names[:proba.shape[1]])})
        else:
            params.pop("proba", None)
            params.pop("proba_classes", None)
        names = {i: n for i, n in enumerate(result.class_names) if not is_default_cluster_name(n)}
        model = current.model if current is not None else ""
        run_id = self.store.save_run(ROUND_METHOD, model, len(result.class_names),
                                     params, [], self.db_ids, result.labels, result.confidence, self.coords, names)
        self.store.set_setting(f"timings/{run_id}", {"retrain": float(result.seconds)})
        before = self._state()
        after = (run_id, self.store.run(run_id), result.labels.astype(np.int64), result.confidence.astype(np.float32), names)
        self.last_round = result
        self._run(_Command(f"retrain round ({result.n_labelled} labels)", lambda: self._restore(after),
                           lambda: self._restore(before)))
