"""The reopened run's features, loaded in the background, and what happens when that load stops (issue 18).

Reopening a clustered folder restores the clusters and labels at once, but the
features (needed by Retrain, Suggest, Suggest k, a new projection) come back in a
background job.  Esc during that job used to leave them missing for good: every
Retrain then said "the features are still loading" until the folder was opened
again.  :class:`FeatureLoad` keeps the load's state, says plainly when it was
cancelled or failed, offers Run > Load features, and lets an action that needs the
features start the load again and carry on once they are there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

CANCELLED_TEXT = "Feature load cancelled: Run > Load features (or Suggest, Retrain) loads them again, or reopen the folder"


class FeatureLoad(QObject):
    """Loads the open project's features off the GUI thread and restarts the load when asked.

    Parameters
    ----------
    window : QObject
        The main window (``app.window.MainWindow``, not imported: it imports this
        module): its ``project``, ``jobs``, ``status``, ``run_settings`` and
        ``action_states`` are used.
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.state = "idle"  # idle, loading, ready, cancelled, failed
        self.state_was = "cancelled"  # how the last load that did not finish ended
        window.jobs.cancelled.connect(self._on_job_cancelled)
        window.jobs.failed.connect(lambda name, *_: name == "load-features" and self._stopped("failed"))

    @property
    def needed(self) -> bool:
        """Whether the open project has a run whose features are not loaded (nor loading)."""
        p = self.window.project
        return p is not None and p.run_id is not None and p.features is None and self.state != "loading"

    def reset(self) -> None:
        """Another folder was opened: forget how the last one's load went."""
        self.state = "idle"

    def start(self, then: Callable[[], None] | None = None) -> bool:
        """Start loading the features; ``then()`` runs once they are set.  False when another job runs
        (the job runner then says which, and nothing is cancelled)."""
        p = self.window.project
        if p is None or p.run_id is None:
            return False
        paths = p.paths  # the run's image list this load is for: a new run or folder replaces the list
        job = self.window.jobs.start("load-features", p.reload_features,
                                     on_result=lambda result: self._loaded(result, then, paths))
        if job is not None:
            self.state = "loading"
        return job is not None

    def then(self, what: str, action: Callable[[], None]) -> None:
        """Run ``action`` now when the features are there; else load them first (saying so), then run it."""
        p = self.window.project
        if p is None or p.features is not None or p.run_id is None:
            action()
        elif self.start(then=action):
            self.window.status.say(f"Loading the features first (the last load was {self.state_was}); "
                                   f"{what} starts when they are ready")

    def _loaded(self, result: tuple, then: Callable[[], None] | None, paths: list[str]) -> None:
        res, provider = result
        w = self.window
        p = w.project
        # Another folder or run, or the window went.  The list itself is compared, not its million paths as text
        # (1.3 s of the GUI thread at a million galaxies).
        if p is None or p.closed or p.paths is not paths or len(res.paths) != len(paths):
            return
        p.features = res.features
        self.state = "ready"
        shown = w.run_settings.shown_name
        yours = int(np.count_nonzero(np.not_equal(p.user_labels, None)))
        w.status.say(f"Restored {p.folder.name}: {len(p)} images, {yours} labels "
                     f"by you, {len(p.cluster_ids())} clusters ({shown('method', p.run.method if p.run else '')}), "
                     f"{shown('projection', p.projection())} map; features ready"
                     + (f" ({len(res.skipped)} image(s) gone or unreadable: their clustered features kept)"
                        if res.skipped else "")
                     + (f"; {len(p.store.outside)} stored image(s) outside the folder not read, see 'Skipped files'"
                        if p.store.outside else ""))
        w.status.set_provider(provider)
        w.action_states.update()
        if then is not None:
            then()

    def _on_job_cancelled(self, name: str) -> None:
        if name == "load-features":
            self._stopped("cancelled")

    def _stopped(self, how: str) -> None:
        self.state = self.state_was = how
        if how == "cancelled":  # after the status line's own "cancelled" text: this one says what to do
            self.window.status.say(CANCELLED_TEXT)
        self.window.action_states.update()
