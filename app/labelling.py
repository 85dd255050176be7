"""The strip of thumbnails, the preview and the labelling keys, all acting on the shared selection.

One rule for the whole window (issue 9): the shared selection is what the keys
act on, and it is always the highlight in the strip and the outline on the map.
A selection made outside the strip (map, menus) becomes the strip's list; one
made in it (a click, a key moving on) keeps it.  After one galaxy is labelled
the next one in the strip is selected, so the marker, the preview and the map
move together.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from app.widgets.qt_preview import QtPreview
from app.widgets.qt_thumbnails import QtThumbnailGrid
from app.workers import SerialCalls
from core.colouring import row_color
from core.images.ids import image_ids
from core.project import Project
from core.selection import among
from core.store.layout import ReadOnlyStore


class Labelling:
    """Keeps the strip and the preview on the shared selection and labels it.

    Parameters
    ----------
    grid : QtThumbnailGrid
        The strip.
    preview : QtPreview
        The large view of the strip's current galaxy.
    say : callable(str)
        Where to tell the user what happened (the status bar).
    """

    def __init__(self, grid: QtThumbnailGrid, preview: QtPreview, say: Callable[[str], None]) -> None:
        self.grid = grid
        self.preview = preview
        self.say = say
        self.project: Project | None = None
        grid.current_changed.connect(self.show_preview)
        # The ids a sort by name needs, all of them, worked out off the GUI thread once that sort is chosen.
        self.naming = SerialCalls(grid)
        self.names_asked = 0  # calls to prepare the names asked, and answered: the names are on their way while they differ
        self.names_answered = 0
        grid.sort.currentTextChanged.connect(lambda _: self.prepare_names())
        # Before the first run the strip lists the folder's files, which nothing can select or label yet.
        grid.selection_requested.connect(
            lambda rows: self.project and len(self.project) and self.project.selection.set(rows, self.grid))

    def set_project(self, project: Project) -> None:
        """Follow ``project``: its runs reset the strip, its labels and clusters refresh it."""
        self.project = project
        events = project.events
        events.data_changed.connect(self.reset)
        events.labels_changed.connect(self._on_labels_changed)
        for signal in (events.classes_changed, events.clusters_changed, events.round_changed):
            signal.connect(lambda *_: self.refresh())
        project.selection.changed.connect(self._on_selection_changed)
        self.reset()

    # ------------------------------------------------------------------ the strip
    def reset(self) -> None:
        """An empty strip over the project's images (a new run); before the first run, the folder's images."""
        p = self.project
        self.grid.paths = p.paths if p else []
        self.grid.refresh()  # rows now name other images: forget the framed thumbnails
        if p is not None:
            self.grid.color_of = lambda row: row_color(p, row)
            self.grid.is_user = lambda row: p.user_labels[row] is not None  # solid frame, else dashed
            self.grid.describe = p.describe
            self.grid.sort_keys = p.sort_keys
            self.prepare_names()  # the images changed: a strip sorted by name needs their ids
            for view in (self.grid, self.preview):
                view.set_prep(p.preprocessing())  # thumbnails and preview show the run's crop
        self.preview.show_image(None)
        if p is not None and p.run_id is None:
            self._show_unclustered(p)
            return
        self.grid.show_rows(np.zeros(0, np.int64), "Nothing selected")

    def prepare_names(self) -> None:
        """While the strip is sorted by name, work out every image's id and place off the GUI thread, once.

        The strip's own list is sorted at once by the ids of its images alone
        (:meth:`core.project.Project.sort_keys`); a list of most of a survey
        (Edit > Select all) worked out every id and sorted them as text on the GUI
        thread, 0.22 s at 200,000 galaxies.  Once these are ready it takes each
        row's place instead.  The call holds the project weakly: one closed
        meanwhile is let go (:mod:`app.collector`).
        """
        p = self.project
        if p is None or not len(p) or p.names_ready or self.grid.sort.currentText() != "name":
            return
        self.names_asked += 1
        self.naming.call(_prepare_names, weakref.ref(p), on_done=self._names_prepared, on_error=self._names_prepared)

    def _names_prepared(self, _result: object) -> None:
        self.names_answered += 1

    def _show_unclustered(self, p: Project) -> None:
        """Before the first run, the strip shows the folder's images (nothing to label yet)."""
        from core.images.io import scan_folder

        paths = [str(x) for x in scan_folder(p.folder)]
        self.grid.paths = paths
        self.grid.refresh()
        self.grid.color_of = lambda row: "#777777"
        self.grid.is_user = lambda row: False
        names = image_ids(paths)  # a band set's id is its base name
        self.grid.describe = lambda row: names[row]
        self.grid.sort_keys = None
        self.grid.show_rows(np.arange(len(paths)), f"{p.folder.name}, not clustered yet (press Cluster)")

    def refresh(self) -> None:
        """Redraw the thumbnails' frames and the preview (labels or colours changed)."""
        if self.project is not None and len(self.project):
            self.grid.refresh()
            self.show_preview(self.grid.current_row())

    def _on_labels_changed(self, rows: np.ndarray) -> None:
        """Labels changed: reframe those thumbnails only; the preview's text, if it shows one of them.

        The preview's image stays: a label changes its words, not its pixels (decoding it
        again cost a few milliseconds of every key).
        """
        p = self.project
        if p is None or not len(p):
            return
        self.grid.refresh_rows(rows)
        row = self.grid.current_row()
        if 0 <= row < len(p) and bool(np.any(np.asarray(rows) == row)) and self.preview.path == p.paths[row]:
            self.preview.set_meta(p.describe(row))

    def _on_selection_changed(self, indices: np.ndarray, source: object) -> None:
        if source is not self.grid:
            self.grid.show_rows(indices, "Selection", marked=indices)  # marked once, in the new list
        else:
            self.grid.mark(indices)

    def show_list(self, rows: np.ndarray, title: str) -> None:
        """Show ``rows`` in the strip and select the first one in display order (the one previewed)."""
        p = self.project
        self.grid.show_rows(rows, title)
        shown = self.grid.rows()
        p.selection.set(shown[:1], self.grid)
        self.grid.mark(p.selection.indices)

    def show_cluster(self, cluster: int) -> None:
        """Show a cluster's galaxies in the strip, in the chosen order, and select the first for labelling."""
        p = self.project
        if p is None:
            return
        named = f": {p.cluster_name(cluster)}" if cluster in p.cluster_names else ""  # not "Cluster 0: cluster 0"
        self.show_list(np.flatnonzero(p.clusters == cluster), f"Cluster {cluster}{named}")

    def show_preview(self, row: int) -> None:
        """Show image ``row`` large with what is known about it (nothing for -1)."""
        p = self.project
        if p is None or row < 0 or row >= len(p):
            self.preview.show_image(None)
            return
        self.preview.show_image(p.paths[row], p.describe(row))

    # ------------------------------------------------------------------ labelling
    def targets(self) -> np.ndarray:
        """What a key labels: always the shared selection, which the strip highlights and the map outlines."""
        p = self.project
        return np.zeros(0, np.int64) if p is None else p.selection.indices.copy()

    def label_by_key(self, i: int) -> None:
        """Number key ``i + 1``: the class in that position."""
        p = self.project
        if p is None:
            return
        if i < len(p.classes):
            self.label_selection(p.classes[i].name)
        else:  # a key with no class behind it says so rather than doing nothing
            self.say(f"Key {i + 1} labels nothing: there are {len(p.classes)} classes (add one in the Classes dock)")

    def label_selection(self, label: str | None) -> None:
        """Label the selected images (None clears their labels); a single image advances to the next."""
        p = self.project
        rows = self.targets()
        if p is None or len(rows) == 0:
            self.say("Select images first (click, lasso or a cluster)")
            return
        try:
            p.set_labels(rows, label)
        except ReadOnlyStore as exc:  # a read-only share: the key says why nothing was labelled
            self.say(f"Not labelled: {exc}")
            return
        self._advance(rows, "cleared" if label is None else label)

    def accept_model_label(self) -> None:
        """Enter: the model's label becomes yours for the selected images of named clusters.

        An unnamed cluster's "cluster 0" is not a label: accepting it once made classes
        "cluster 0", "cluster 1" that could not be deleted (issue 18), so those images are
        left alone and the status line says to name the cluster first.
        """
        p = self.project
        rows = self.targets()
        if p is None or len(rows) == 0:
            self.say("Select images first (click, lasso or a cluster)")
            return
        named = np.isin(p.clusters[rows], np.fromiter(p.cluster_names, np.int64, len(p.cluster_names)))  # not a loop a row
        unnamed = np.unique(p.clusters[rows[~named]]).tolist()
        why = (f"cluster {', '.join(map(str, unnamed))} {'has' if len(unnamed) == 1 else 'have'} no name: name it "
               "(Clusters dock, 'Name as class…') to accept it with Enter, or answer with a number key")
        if not named.any():
            self.say(f"Enter did not label: {why}")
            return
        rows = rows[named]
        try:
            p.accept_model_labels(rows)
        except ReadOnlyStore as exc:
            self.say(f"Not labelled: {exc}")
            return
        self._advance(rows, "the model's label" if len(rows) > 1 else str(p.user_labels[rows[0]]))
        if unnamed:
            self.say(f"{len(rows)} galaxies -> the model's label; {int((~named).sum())} left alone: {why}")

    def step_history(self, which: str, verb: str) -> None:
        """Edit > Undo (``which="undo"``) or Redo, said on the status line; a step that cannot be made is kept.

        An undo after a class of the name it gives back was made (New… is no undo step) raises ValueError
        before changing anything: the step stays on its stack and the status line says why.
        """
        p = self.project
        if p is None:
            return
        text = getattr(p, f"{which}_text")()
        try:
            cmd = getattr(p, which)()
        except ValueError as exc:
            self.say(f"Not {verb.lower()}: {text}: {exc}")
            return
        if cmd is not None and cmd.rows is not None:  # a label taken back shows its galaxy again
            self.return_to(cmd.rows, undone=which == "undo")
        self.say(f"{verb}: {text}")

    def return_to(self, rows: np.ndarray, undone: bool) -> None:
        """After an undo of a labelling action, select its galaxies again; after its redo, where labelling them left.

        One galaxy labelled moved the selection on (:meth:`_advance`); Ctrl+Z took
        the answer back but left the next galaxy shown, so the next key answered
        for that one instead of the galaxy whose answer was taken back.
        """
        p = self.project
        rows = np.asarray(rows, np.int64)
        if p is None or not len(rows) or int(rows.max()) >= len(p):
            return
        in_strip = bool(among(rows, self.grid.rows()).all())
        if not undone and len(rows) == 1:
            following = self.grid.row_after(int(rows[0])) if in_strip else -1
            rows = np.array([following] if following >= 0 else [], np.int64)
        p.selection.set(rows, self.grid if in_strip else None)

    def _advance(self, rows: np.ndarray, what: str) -> None:
        """Say what was labelled; after one galaxy, select the next in the strip (marker, preview, map move together)."""
        p = self.project
        if len(rows) > 1:
            self.say(f"{len(rows)} galaxies -> {what} (Ctrl+Z undoes all {len(rows)})")
            return
        row = int(rows[0])
        shown = self.grid.rows()
        left = p.unlabelled_in(shown)
        where = f" in {self.grid.title_text.split(':')[0].lower()}" if self.grid.title_text else ""
        text = f"{p.name_of(row)} -> {what}; {left} unlabelled left{where}"
        following = self.grid.row_after(row)
        if following >= 0:
            p.selection.set([following], self.grid)
        elif row in shown:
            # Stop at the end: a marker left on the last galaxy let the next key overwrite its answer.
            p.selection.set([], self.grid)
            text += ". End of the list: nothing selected now; choose a cluster, a thumbnail or Suggest (Ctrl+G)"
        self.say(text)


def _prepare_names(project: weakref.ref) -> None:
    """:meth:`core.project.Project.prepare_names` of the project, unless it went or was closed (on the naming thread)."""
    p = project()
    if p is not None and not p.closed and not p.names_ready:
        p.prepare_names()
