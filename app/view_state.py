"""What the user set up to look at, kept per project: the display stretch, the thumbnail size, the truth file;
and a reopened project shows its first cluster rather than empty docks.

A session's view is part of the work (issue 18): an astronomer who labels under
``asinh 1-99.8`` at 160 px against a truth file should find the same view when
the folder reopens.  The settings go to the project's store
(:meth:`core.project.Project.set_view_setting`), not QSettings, so two projects
keep their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from app.labelling import Labelling
from app.widgets.qt_preview import QtPreview
from app.widgets.qt_tables import QtClusterTable
from app.widgets.qt_thumbnails import THUMB, QtThumbnailGrid
from core.images.display import Stretch
from core.project import Project


class ViewState:
    """Restore a project's stretch, thumbnail size and truth file when it opens, and keep them as they change.

    Parameters
    ----------
    grid, preview, table
        The strip (its size slider), the preview (its stretch control) and the cluster x label table.
    say : callable(str)
        Where to say that a kept truth file is gone.
    labelling : Labelling
        Shows the first cluster in the strip and the preview when a clustered project reopens.
    """

    def __init__(self, grid: QtThumbnailGrid, preview: QtPreview, table: QtClusterTable,
                 say: Callable[[str], None], labelling: Labelling) -> None:
        self.grid, self.preview, self.table, self.say, self.labelling = grid, preview, table, say, labelling
        self.project: Project | None = None
        preview.stretch_changed.connect(self._keep_stretch)
        grid.size_slider.valueChanged.connect(self._keep_size)

    def set_project(self, project: Project) -> None:
        """Show ``project`` as it was last seen (defaults for what it never kept)."""
        self.project = None  # restoring is not a change to keep
        stretch = project.view_setting("stretch")
        try:
            shown = Stretch(**stretch) if isinstance(stretch, dict) else Stretch()
        except (TypeError, ValueError):  # kept by another version: the default
            shown = Stretch()
        self.preview.stretch_control.set_stretch(shown)
        size = project.view_setting("thumb_size")
        self.grid.set_thumb_size(int(size) if isinstance(size, (int, float)) else THUMB)
        self.project = project
        self._restore_truth(project)
        if project.run_id is not None and len(project) and not len(project.selection.indices):
            self.labelling.show_cluster(project.cluster_ids()[0])  # a reopened project shows a cluster, not empty docks

    def _restore_truth(self, project: Project) -> None:
        from core.catalog.truth import load_truth

        path = project.view_setting("truth_file")
        self.table.clear_truth()  # the last project's truth is not this one's
        if not isinstance(path, str):
            return
        try:
            truth = load_truth(path)
        except (OSError, ValueError) as exc:
            self.say(f"The truth file {Path(path).name} could not be read again ({exc}); load it again from "
                     "Catalogue > Load a truth file")
            return
        self.table.set_truth(truth, Path(path).name)

    def _keep_stretch(self, stretch: Stretch) -> None:
        if self.project is not None:
            self.project.set_view_setting("stretch", dataclasses.asdict(stretch))

    def _keep_size(self, size: int) -> None:
        if self.project is not None:
            self.project.set_view_setting("thumb_size", int(size))
