"""Another projection of a run's map, computed and stored off the GUI thread: part of :class:`core.project.Project`.

:class:`MapProjections` is a mixin of ``Project``.  :meth:`MapProjections.map_job`
takes what the projection needs on the GUI thread (the run, its image ids, the
features, the labels LDA fits on) and returns the job, which projects and writes
the map with its name to the store (:func:`core.store.coords.store_map`);
:meth:`MapProjections.show_map` then only swaps the coordinates in, and only if
the same run is still shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.store.coords import projection_key, store_map


@dataclass(frozen=True)
class NewMap:
    """A map :meth:`MapProjections.map_job` made: the run it is of, its projection and its coordinates (stored)."""

    run_id: int
    projection: str
    coords: np.ndarray


class MapProjections:
    """The map's projection: its name, a new one made as a job, and shown (mixed into ``Project``)."""

    def projection(self) -> str:
        """The projection of the map shown."""
        default = self.config().projection
        return str(self.store.setting(projection_key(self.run_id), default)) if self.run_id is not None else default

    def map_job(self, method: str, labels: Sequence | None = None) -> Callable[..., NewMap]:
        """The job of a new map of the run shown by ``method`` (``labels``: what LDA fits on), for the job runner.

        What it works on is taken now, on the GUI thread: the run, its image ids
        and its features.  The job projects them and keeps the map and its name in
        the store on its own connection (a read-only store keeps nothing), then
        returns a :class:`NewMap` for :meth:`show_map`.  Writing 200,000 rows took
        0.6 s of the GUI thread when the result was applied.
        """
        from core.clustering.projection import project

        if self.run_id is None or self.features is None:
            raise RuntimeError("cluster the images (and load their features) first")
        run_id, ids, features = self.run_id, self.db_ids, self.features
        folder = None if self.store.read_only else self.store.folder

        def job(progress: Callable[[float, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> NewMap:
            coords = project(features, method, labels=labels, progress=progress, should_stop=should_stop)
            if folder is not None:
                store_map(folder, run_id, ids, coords, method, should_stop)
            return NewMap(run_id, method, coords)

        return job

    def show_map(self, new: NewMap) -> bool:
        """Show a map :meth:`map_job` made and stored, if its run is still the one shown (else False, nothing changes)."""
        if new.run_id != self.run_id or len(new.coords) != len(self.db_ids):
            return False
        self.coords = np.asarray(new.coords, np.float32)
        self.events.coords_changed.emit()
        return True
