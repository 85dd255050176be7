"""The map's view of the open project: :class:`MapView` keeps a
:class:`~app.widgets.qt_map.QtClusterMap` showing a :class:`core.project.Project`.

It draws the project with the colouring chosen from :data:`core.colouring.COLOURINGS`,
outlines the shared selection, shows the hovered galaxy, and on a label redraws
only what the label changed (issue 22: at 10^6 galaxies a key stays within a frame).
Split from ``app/views.py`` (which was at 500 lines).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCursor, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from app.widgets.qt_map import QtClusterMap
from app.widgets.qt_thumbnails import ThumbnailCache
from core.colouring import COLOURINGS, Colouring, after_labels, colouring, is_colouring
from core.images.display import Stretch
from core.images.preprocess import Preprocessing
from core.project import Project
from core.vocabulary import cluster_color, cluster_name


class MapView:
    """Keeps a :class:`QtClusterMap` showing a project.

    Parameters
    ----------
    map : QtClusterMap
        The plot widget.
    status : QLabel, optional
        Where hovering says which galaxy is under the cursor.
    """

    def __init__(self, map: QtClusterMap, status: QLabel | None = None) -> None:  # noqa: A002 (the widget's name)
        self.map = map
        self.status = status
        self.project: Project | None = None
        self.mode = COLOURINGS.default
        self._shown: tuple[str, Colouring] | None = None  # (mode, colouring) as drawn, for a label's update
        # A class, cluster or round change recolours in an event of its own, once for all the changes of an action
        # (a whole cluster accepted under a name that is no class yet: its labels, then its class).
        self._recolor_timer = QTimer(map, singleShot=True, interval=0)
        self._recolor_timer.timeout.connect(lambda: self.recolor())
        self._held = False  # no points drawn until render(): a reopen draws its map in the next turn (hold)
        # The hovered galaxy as the strip shows it: the run's crop, the display stretch, its id below.
        self.hover_cache = ThumbnailCache(size=128, capacity=500, prep=Preprocessing())
        self.hover_label = QFrame(map)
        self.hover_label.setObjectName("hover")
        self.hover_label.setStyleSheet("#hover {background:#202020;border:1px solid #888} QLabel {color:#eeeeee}")
        self.hover_image, self.hover_caption = QLabel(), QLabel()
        box = QVBoxLayout(self.hover_label)
        box.setContentsMargins(3, 3, 3, 3)
        box.setSpacing(2)
        for label in (self.hover_image, self.hover_caption):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(label)
        self.hover_image.setMinimumSize(128, 128)  # the box keeps its size while the image is drawn
        self.hover_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hover_label.hide()
        self.hover_row = -1
        map.hovered.connect(self._on_hover)

    def set_project(self, project: Project) -> None:
        """Render ``project`` and follow its changes."""
        self.project = project
        self._follow_crop()
        project.events.data_changed.connect(self._follow_crop)
        project.events.data_changed.connect(self.render)
        project.events.coords_changed.connect(self.render)
        project.events.columns_changed.connect(self.recolor)
        events = project.events
        events.labels_changed.connect(self._on_labels_changed)
        for signal in (events.classes_changed, events.clusters_changed, events.round_changed):
            signal.connect(lambda *_: self._recolor_timer.start())
        project.selection.changed.connect(lambda indices, _source: self.map.set_selection(indices))

    def _follow_crop(self) -> None:
        p = self.project
        self.hover_cache.configure(prep=p.preprocessing() if p is not None else None)

    def set_stretch(self, stretch: Stretch) -> None:
        """Show the hovered galaxy under the display stretch ``stretch`` (the preview's)."""
        self.hover_cache.configure(stretch=stretch)

    def set_mode(self, mode: str) -> None:
        """Colour by the entry ``mode`` of :data:`core.colouring.COLOURINGS`, or by a joined catalogue column.

        An entry with nothing to show yet (a morphology parameter not computed) raises
        ValueError: the mode stays as it was and the status line says why.
        """
        if not is_colouring(self.project, mode):
            COLOURINGS.get(mode)  # raises, naming the known colourings
        p = self.project
        made = None
        if p is not None and len(p):
            try:
                made = colouring(p, mode)  # made once: it was made to check, then again to draw (2 x 0.5 s at 10^6)
            except ValueError as exc:
                self.say(str(exc))
                return
        self.mode = mode
        self.recolor(made)

    def export(self, path: str, show_error: Callable[..., None]) -> None:
        """Save the map to ``path`` (PNG or SVG by its extension); the status line names the file, or says why none was.

        An empty ``path`` (the user cancelled the save dialog) does nothing.
        """
        if not path:
            return
        try:
            written, how = self.map.export_image(path)
            self.say(f"Map saved to {written} as {how}")
        except (OSError, ValueError) as exc:
            self.say(f"Map not saved: {exc}")
            show_error(f"Cannot save the map to {path}: {exc}", "Choose a folder you can write to, or PNG.")

    def say(self, text: str) -> None:
        """Show ``text`` on the status line (when there is one)."""
        if self.status is not None:
            self.status.setText(text)

    def _colouring(self) -> Colouring:
        """The chosen colouring; the default one when it has nothing to show (a morphology parameter not
        computed yet) or names a joined column of the last project."""
        p = self.project
        if not is_colouring(p, self.mode):
            self.mode = COLOURINGS.default
        try:
            return colouring(p, self.mode)
        except ValueError as exc:
            self.say(str(exc))
            self.mode = COLOURINGS.default
            return colouring(p, self.mode)

    def _mark_user_labelled(self) -> None:
        """The galaxies the user labelled get a dark centre (rings), apart from the model's solid dots."""
        p = self.project
        self.map.set_user_labelled(np.flatnonzero(np.not_equal(p.user_labels, None)))

    def morphology_done(self, summary: dict) -> None:
        """A morphology job finished: say so and redraw (the morphology colourings can show now)."""
        bad = int(summary.get("unreadable", 0))
        unread = f" ({bad} could not be read: no values for them)" if bad else ""
        self.say(f"Morphology parameters: {summary['computed'] - bad} image(s) computed in {summary['seconds']:.1f} s"
                 f"{unread}, {summary['total']} kept; choose them in 'colour by'")
        self.render()

    def hold(self) -> None:
        """Draw no points until :meth:`render`: a reopened project's map is drawn in the turn of the event loop after
        its show (:meth:`app.opening.FolderOpener.finish`), so the show and the map's render and repaint are two
        pieces of the GUI thread, not one; what would recolour points meanwhile waits for that render."""
        self._held = True
        self._shown = None
        self._recolor_timer.stop()
        self.map.set_points(np.zeros((0, 2)), np.zeros(0), {})

    def render(self) -> None:
        """Draw every point anew (a new run or a new projection)."""
        p = self.project
        self._held = False
        self._shown = None
        self._recolor_timer.stop()
        if p is None or len(p) == 0:
            self.map.set_points(np.zeros((0, 2)), np.zeros(0), {})
            return
        c = self._colouring()
        self.map.set_points(p.coords, c.groups, c.colors, c.names, grouping=c.grouping)
        if c.values is not None:
            self.map.set_continuous(c.values, c.step_names())
        self._shown = (self.mode, c)
        self._mark_user_labelled()
        self.map.set_selection(p.selection.indices)

    def recolor(self, made: Colouring | None = None) -> None:
        """Recolour the points in place (labels, classes or clusters changed); ``made``: the colouring, made already."""
        p = self.project
        self._shown = None
        self._recolor_timer.stop()
        if p is None or len(p) == 0 or self._held:
            return
        c = made if made is not None else self._colouring()
        if c.values is not None:
            self.map.set_continuous(c.values, c.step_names())
        else:
            self.map.set_colors(c.groups, c.colors, c.names, grouping=c.grouping)
        self._shown = (self.mode, c)
        self._mark_user_labelled()

    def _on_labels_changed(self, rows: np.ndarray) -> None:
        """A label key: redraw what the labels of ``rows`` changed, O(len(rows)) (issue 22).

        The colouring is updated from the one drawn (:func:`core.colouring.after_labels`:
        unchanged under colour by cluster, the rows' keys under colour by label), then
        the map restyles those points and their rings; recomputed whole only when the
        colouring cannot say (at 10^6 galaxies that took 0.1-2 s a key).
        """
        p = self.project
        if p is None or len(p) == 0 or self._recolor_timer.isActive() or self._held:  # a whole draw comes: these too
            return
        rows = np.asarray(rows, np.int64)
        mode, shown = self._shown if self._shown is not None else (None, None)
        c = after_labels(p, self.mode, shown, rows) if shown is not None and mode == self.mode else None
        if c is None:
            self.recolor()
            return
        if c is not shown:
            self.map.set_colors(c.groups, c.colors, c.names, rows=rows)
            self._shown = (self.mode, c)
        self.map.mark_user_labelled(rows, np.not_equal(p.user_labels[rows], None))

    def show_partial(self, coords: np.ndarray, clusters: np.ndarray | None = None) -> None:
        """A rough map while a run works: the images whose features have arrived, in one grey; or,
        with ``clusters``, every image on a PCA map in its cluster's colour while t-SNE runs."""
        self._shown = None
        if clusters is None:
            self.map.set_points(coords, np.zeros(len(coords), np.int64), {0: "#888888"}, {0: "features so far"})
            return
        keys = [int(c) for c in np.unique(clusters)]
        self.map.set_points(coords, clusters, {c: cluster_color(c) for c in keys},
                            {c: f"{cluster_name(c)} (PCA map while t-SNE runs)" for c in keys})

    def _hover_drawn(self, path: str) -> None:
        p = self.project
        if p is not None and 0 <= self.hover_row < len(p.paths) and p.paths[self.hover_row] == path:
            self.hover_image.setPixmap(self.hover_cache.peek(path))
            self.hover_label.adjustSize()

    def _on_hover(self, row: int) -> None:
        p = self.project
        if p is None or row < 0 or row >= len(p.paths):
            self.hover_row = -1
            self.hover_label.hide()
            return
        self.hover_row = row
        # Drawn on the render pool (3-15 ms a new galaxy on the GUI thread, issue 18): the box shows
        # at once with the id, the image follows in _hover_drawn.
        pix = self.hover_cache.peek(p.paths[row])
        if pix is None:
            self.hover_cache.request(p.paths[row], self._hover_drawn)
        self.hover_image.setPixmap(pix if pix is not None else QPixmap())
        self.hover_caption.setText(p.name_of(row))
        self.hover_label.adjustSize()
        pos = self.map.mapFromGlobal(QCursor.pos())
        x = min(pos.x() + 16, self.map.width() - self.hover_label.width() - 4)
        y = min(pos.y() + 16, self.map.height() - self.hover_label.height() - 4)
        self.hover_label.move(max(0, x), max(0, y))
        self.hover_label.show()
        if self.status is not None:
            self.status.setText(f"{p.name_of(row)}: {p.cluster_name(int(p.clusters[row]))}, "
                                f"confidence {float(p.confidence[row]):.2f}")


__all__ = ["MapView"]
