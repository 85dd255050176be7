"""Property test of the project state: random label, undo, redo, class edits, rounds and reopen.

A plain model (a dict of labels and the cluster array, with a stack of
snapshots for undo) says what must be there; after every step the open
project, its SQLite store and (after a reopen) a fresh project must agree
with it, and every label in use must name a class.  Derandomized, so CI
runs the same sequences every time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.clustering.methods import ClusterResult
from core.learning.rounds import RoundResult
from core.pipeline import PipelineResult
from core.project import Project
from core.vocabulary import EXCLUDE, SPECIAL, UNSURE

N = 8
NAMES = ["spiral", "elliptical", "irregular", "ring", UNSURE, EXCLUDE]
rows_st = st.lists(st.integers(0, N - 1), min_size=1, max_size=4)


class ProjectState(RuleBasedStateMachine):
    """Drive a Project and a plain model side by side."""

    @initialize()
    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="gs-state-"))
        folder = self.tmp / "images"
        folder.mkdir()
        paths = []
        for i in range(N):
            p = folder / f"g{i}.png"
            p.write_bytes(bytes([i]))
            paths.append(p)
        self.project = Project.open(folder, store_dir=self.tmp / "store")
        store = self.project.store
        ids = store.add_images(paths)
        clusters = np.arange(N) % 2
        conf = np.full(N, 0.7)
        run_id = store.save_run("kmeans", "efficientnet_lite0", 2, {"prep": {}, "projection": "pca", "seed": 0}, [],
                                [ids[str(p)] for p in paths], clusters, conf, np.zeros((N, 2)))
        result = ClusterResult("kmeans", clusters, conf, np.column_stack([conf, 1 - conf]))
        self.project.apply_result(PipelineResult(paths, np.zeros((N, 3), np.float32), result, np.zeros((N, 2)), [],
                                                 "CPUExecutionProvider", run_id, store, {}, ""))
        self.labels: dict[int, str] = {}
        self.clusters = clusters.astype(np.int64)
        self.undo_stack: list[tuple[dict[int, str], np.ndarray]] = []
        self.redo_stack: list[tuple[dict[int, str], np.ndarray]] = []

    def teardown(self) -> None:
        if hasattr(self, "project"):
            self.project.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _snapshot(self) -> tuple[dict[int, str], np.ndarray]:
        return dict(self.labels), self.clusters.copy()

    def _did(self, before: tuple[dict[int, str], np.ndarray]) -> None:
        self.undo_stack.append(before)
        self.redo_stack.clear()

    def _did_if_changed(self, before: tuple[dict[int, str], np.ndarray]) -> None:
        """A label or a clear that changes no galaxy's label is no undo step (a key pressed twice undoes nothing)."""
        if self.labels != before[0]:
            self._did(before)

    @rule(rows=rows_st, name=st.sampled_from(NAMES))
    def label(self, rows: list[int], name: str) -> None:
        before = self._snapshot()
        self.project.set_labels(rows, name)
        for r in rows:
            self.labels[r] = name
        self._did_if_changed(before)

    @rule(rows=rows_st)
    def clear(self, rows: list[int]) -> None:
        before = self._snapshot()
        self.project.set_labels(rows, None)
        for r in rows:
            self.labels.pop(r, None)
        self._did_if_changed(before)

    @precondition(lambda self: self.undo_stack)
    @rule()
    def undo(self) -> None:
        self.project.undo()
        self.redo_stack.append(self._snapshot())
        self.labels, self.clusters = self.undo_stack.pop()

    @precondition(lambda self: self.redo_stack)
    @rule()
    def redo(self) -> None:
        self.project.redo()
        self.undo_stack.append(self._snapshot())
        self.labels, self.clusters = self.redo_stack.pop()

    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        classes = self.project.class_names()
        old = data.draw(st.sampled_from(classes))
        new = data.draw(st.sampled_from(["renamed", "other", "spiral2"]))
        if new in classes or new in SPECIAL:
            return
        before = self._snapshot()
        self.project.rename_class(old, new)
        self.labels = {r: (new if v == old else v) for r, v in self.labels.items()}
        self._did(before)

    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        classes = self.project.class_names()
        if len(classes) < 2:
            return
        target = data.draw(st.sampled_from(classes))
        sources = data.draw(st.lists(st.sampled_from(classes), min_size=1, max_size=2, unique=True))
        sources = [s for s in sources if s != target]
        if not sources:
            return
        before = self._snapshot()
        self.project.merge_classes(sources, target)
        self.labels = {r: (target if v in sources else v) for r, v in self.labels.items()}
        self._did(before)

    @rule(seed=st.integers(0, 1000))
    def fine_tuning_round(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        new = rng.integers(0, 2, N)
        conf = rng.uniform(0.5, 1.0, N).astype(np.float32)
        result = RoundResult(["cluster 0", "cluster 1"], new, conf, np.column_stack([conf, 1 - conf]),
                             np.zeros((N, 2)), None, np.zeros(0, np.int64), {}, {}, 1.0, len(self.labels), 0.0)
        before = self._snapshot()
        self.project.apply_round(result)
        self.clusters = new.astype(np.int64)
        self._did(before)

    @rule()
    def reopen(self) -> None:
        folder, store_dir = self.project.folder, self.project.store.folder
        self.project.close()
        self.project = Project.open(folder, store_dir=store_dir)
        self.undo_stack.clear()  # the undo history lives with the window, not on disk
        self.redo_stack.clear()

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "project"):
            return
        p = self.project
        got = {int(r): v for r, v in enumerate(p.user_labels) if v is not None}
        assert got == self.labels
        on_disk = p.store.labels()
        assert {int(np.flatnonzero(p.db_ids == i)[0]): lab for i, (lab, _) in on_disk.items()} == self.labels
        np.testing.assert_array_equal(p.clusters, self.clusters)
        in_use = set(self.labels.values()) - set(SPECIAL)
        assert in_use <= set(p.class_names()), (in_use, p.class_names())
        assert p.can_undo == bool(self.undo_stack) and p.can_redo == bool(self.redo_stack)


ProjectState.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None, derandomize=True,
                                          suppress_health_check=[HealthCheck.too_slow])
TestProjectState = pytest.mark.slow(ProjectState.TestCase)
