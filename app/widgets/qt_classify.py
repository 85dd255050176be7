"""Classify mode: one galaxy large, its nearest neighbours in feature space beside it, keys to answer.

In the spirit of the Galaxy Zoo interface, the fastest way to label a few
hundred galaxies: the galaxy fills the view (cropped as the model sees it),
the model's guess and what its neighbours are labelled sit beside it, a
number key answers and the next galaxy comes up.  It renders the shared
selection of :class:`core.project.Project` and walks the thumbnail strip's
order, so the keys, the strip's highlight, the preview and the map always
agree on the galaxy being labelled (the window's keys act on that selection).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.widgets.qt_flow import FlowPanel, ResizeWatcher, WrappingLabel
from app.widgets.qt_paint import framed_pixmap
from app.widgets.qt_preview import QtImageView
from app.widgets.qt_text import elided
from app.widgets.qt_thumbnails import QtThumbnailGrid, ThumbnailCache
from core.colouring import cluster_colour_of
from core.images.display import Stretch, render
from core.images.io import ImageReadError
from core.images.preprocess import Preprocessing
from core.neighbours import NeighbourIndex
from core.project import Project
from core.vocabulary import EXCLUDE, UNSURE, shown_in_text

_DONE = object()  # the end of a prefetch's steps

N_NEIGHBOURS = 8
NEIGHBOUR_SIDE = 88  # px: the thumbnails drawn; a short window draws them smaller (ScaledThumbnail)
NEIGHBOUR_COLUMNS = 3
NEIGHBOUR_SMALLEST = 40  # px: a neighbour's thumbnail in the shortest window
ANSWER_KEYS = 9  # number keys 1-9 answer the first nine classes; the rest have a button only


class QtClassify(QWidget):
    """One galaxy at a time, large, with its neighbours and the model's guess.

    Parameters
    ----------
    grid : QtThumbnailGrid
        The strip whose order Previous/Next follow.

    Signals
    -------
    label_requested(str)
        The user answered with this label (the window labels the selection and moves on).
    accept_requested()
        The user accepted the model's guess.
    """

    label_requested = Signal(str)
    accept_requested = Signal()

    def __init__(self, grid: QtThumbnailGrid, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.project: Project | None = None
        self.row = -1
        self.prep: Preprocessing | None = Preprocessing()
        self.stretch: Stretch | None = None
        self.neighbours = np.zeros(0, np.int64)
        self.cache = ThumbnailCache(size=NEIGHBOUR_SIDE, capacity=400, prep=self.prep)
        self._drawn: tuple = (None, None, None)  # (path, stretch, rgb) drawn on the render pool
        # What a key costs (issue 18): the galaxy's crop is decoded once, and the next one in
        # the strip is decoded while the user looks at this one; neighbours and framed
        # thumbnails are kept, so a label that changes nothing else redraws nothing.
        self._renders: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._prefetch_generation = 0
        self._shown_key: tuple | None = None
        self._shown_row = -1  # the galaxy drawn last: ``row`` runs ahead of it while hidden
        # Neighbours of the rows shown or prefetched, for the index of the current features
        # (one matrix-vector product a galaxy, not the exact scan; the next galaxy's on the pool).
        self._index: NeighbourIndex | None = None
        self._neighbour_cache: dict[int, np.ndarray] = {}
        self._framed_cache: dict[tuple, QPixmap] = {}

        self.view = QtImageView()
        self.title = WrappingLabel("Select a cluster or a galaxy, then answer with the number keys")
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold")  # wrapped: a long id must not widen the window
        self.guess = WrappingLabel("")
        self.guess.setStyleSheet("font-size: 12pt")
        # The answers flow across the full width, as many a row as fit, and take the rows they
        # need: in a fixed three-column grid under the galaxy, seven classes or more were
        # squeezed (text clipped) and drew the model's guess over the galaxy (1366x768).
        self.answer_panel = FlowPanel()
        self.answers = self.answer_panel.flow
        self.prev_button = QPushButton("< Previous")
        self.prev_button.setToolTip("Previous galaxy in the strip (Left arrow)")
        self.prev_button.clicked.connect(self.previous)
        self.next_button = QPushButton("Next >")
        self.next_button.setToolTip("Next galaxy in the strip without labelling (Right arrow)")
        self.next_button.clicked.connect(self.next)
        top = QHBoxLayout()  # the way through the strip beside the title: one row less under the galaxy
        top.addWidget(self.title, 1)
        top.addWidget(self.prev_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.next_button, 0, Qt.AlignmentFlag.AlignTop)
        self.neighbour_labels: list[QLabel] = []
        grid_layout = QGridLayout()
        grid_layout.setSpacing(4)
        for i in range(N_NEIGHBOURS):
            lab = QLabel()
            lab.setFixedSize(NEIGHBOUR_SMALLEST, NEIGHBOUR_SMALLEST)  # then as large as fits (_fit_neighbours)
            lab.setScaledContents(True)  # drawn scaled by Qt (a Python paintEvent per thumbnail and key leaked None)
            grid_layout.addWidget(lab, i // NEIGHBOUR_COLUMNS, i % NEIGHBOUR_COLUMNS)
            self.neighbour_labels.append(lab)
        self.neighbour_title = QLabel("Nearest in feature space")
        self.neighbour_panel = ResizeWatcher(self._fit_neighbours)
        self.neighbour_panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)  # as tall as the row
        side = QVBoxLayout(self.neighbour_panel)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.neighbour_title)
        side.addLayout(grid_layout)
        side.addStretch(1)
        self.neighbour_panel.setMinimumHeight(3 * NEIGHBOUR_SMALLEST + 2 * 4 + self.neighbour_title.sizeHint().height() + 8)
        middle = QHBoxLayout()
        middle.addWidget(self.view, 1)  # the galaxy takes what the rest leaves
        middle.addWidget(self.neighbour_panel)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        layout.addWidget(self.guess)
        layout.addWidget(self.answer_panel)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, activated=self.previous, context=context)
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, activated=self.next, context=context)

    # ------------------------------------------------------------------ project
    def set_project(self, project: Project) -> None:
        """Follow ``project``: its shared selection is the galaxy shown."""
        self.project = project
        project.selection.changed.connect(lambda indices, _source: self.show_row(int(indices[0]) if len(indices) == 1 else -1))
        project.events.data_changed.connect(lambda: self.set_prep(project.preprocessing()))
        events = project.events
        for signal in (events.labels_changed, events.clusters_changed, events.round_changed, events.classes_changed):
            signal.connect(lambda *_: self.refresh())
        self._build_answers()
        project.events.classes_changed.connect(self._build_answers)
        self.show_row(-1)
        self.set_prep(project.preprocessing())

    def set_prep(self, prep: Preprocessing | None) -> None:
        """Show the galaxy and its neighbours cropped as ``prep`` crops them (the run's crop)."""
        self.prep = prep
        self._index = None  # a new run (data_changed comes here) has new features
        self._neighbour_cache.clear()
        if self.cache.configure(prep=prep or Preprocessing("none")):
            self._framed_cache.clear()
        self.refresh()

    def set_stretch(self, stretch: Stretch) -> None:
        """Draw with the display stretch ``stretch``: on the render pool, the view follows when it is drawn.

        Hidden (the map is shown), it only remembers the stretch; showing it draws the galaxy.
        """
        from app.widgets.qt_thumbnails import render_qimage
        from app.workers import render_pool

        self.stretch = stretch
        if self.cache.configure(stretch=stretch):
            self._framed_cache.clear()
        p, row = self.project, self.row
        if p is None or row < 0 or not self.isVisible():
            return
        paths, prep, size = [p.paths[int(n)] for n in self.neighbours], self.prep, self.cache.size

        def draw() -> tuple[np.ndarray, list]:
            return render(p.paths[row], stretch, prep), [(q, render_qimage(q, stretch, prep, size)) for q in paths]

        def drawn(result: tuple[np.ndarray, list]) -> None:
            if self.stretch is stretch and self.row == row:
                self._drawn = (p.paths[row], stretch, result[0])
                for q, image in result[1]:
                    self.cache.put(q, image)
                self.refresh()

        render_pool().submit(draw, on_result=drawn, stale=lambda: self.stretch is not stretch or self.row != row)

    def _fit_neighbours(self) -> None:
        """The neighbours as large as the middle row's height allows (up to their drawn size), the rest to the galaxy.

        Fixed sizes, set only when that height changes: a neighbour that could resize asked for
        a new layout on every thumbnail set, eight a key (and drifted None's reference count,
        ``tests/app/test_long_session.py``).  The panel's own minimum stays that of the smallest
        thumbnails, so a window made shorter again shrinks them.
        """
        room = self.neighbour_panel.height() - self.neighbour_title.sizeHint().height() - 2 * 4 - 8
        edge = max(NEIGHBOUR_SMALLEST, min(self.cache.size + 8, room // 3))
        if self.neighbour_labels[0].width() != edge:
            for lab in self.neighbour_labels:
                lab.setFixedSize(edge, edge)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.refresh()  # what changed while hidden: the galaxy, its labels, the stretch

    def _build_answers(self) -> None:
        while self.answers.count():
            w = self.answers.takeAt(0).widget()
            if w is not None:
                w.hide()  # at once: deleted on the next pass, drawn until then
                w.deleteLater()
        if self.project is None:
            return
        entries = [(str(i + 1) if i < ANSWER_KEYS else "", c.name, c.color) for i, c in enumerate(self.project.classes)]
        entries += [("U", UNSURE, "#BBBBBB"), ("X", EXCLUDE, "#444444")]
        for key, name, color in entries:
            b = QPushButton()
            shown = elided(b, name)  # a long class name must not widen the window: cut, whole in the tooltip
            shown = shown.replace("&", "&&")  # an '&' in a class name is shown, not a mnemonic (Alt+letter)
            b.setText(f"[{key}] {shown}" if key else shown)
            b.setStyleSheet(f"border: 3px solid {color}; padding: 3px 8px")
            b.setToolTip(f"Label this galaxy '{name}' and show the next (key {key})" if key
                         else f"Label this galaxy '{name}' and show the next (no key: 1-9 are the first nine classes)")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, n=name: self.label_requested.emit(n))
            self.answers.addWidget(b)
        accept = QPushButton("[Enter] model's guess")
        accept.setStyleSheet("border: 3px solid #888888; padding: 3px 8px")  # as tall as the answers beside it
        accept.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        accept.clicked.connect(self.accept_requested.emit)
        self.answers.addWidget(accept)
        self.answer_panel.fit()

    # ------------------------------------------------------------------ navigation
    def previous(self) -> None:
        """Show the galaxy before this one in the strip."""
        self._go(self.grid.row_before(self.row))

    def next(self) -> None:
        """Show the galaxy after this one in the strip (without labelling it)."""
        self._go(self.grid.row_after(self.row))

    def _go(self, row: int) -> None:
        if self.project is not None and row >= 0:
            # The strip is the source: it keeps its list and moves its highlight.
            self.project.selection.set([row], self.grid)

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw the galaxy shown (labels or clusters changed)."""
        self.show_row(self.row)

    def guess_text(self, row: int) -> str:
        """The model's guess, the user's label and the neighbours' labels, as rich text."""
        p = self.project
        c = int(p.clusters[row])
        named = c in p.cluster_names
        guess = shown_in_text(p.cluster_name(c)) + ("" if named else " (unnamed cluster: name it to make it a class)")
        mine = p.user_labels[row]
        parts = [f"Model's guess: <b>{guess}</b>, confidence {float(p.confidence[row]):.2f}",
                 f"Your label: <b>{shown_in_text(mine)}</b>" if mine is not None else "Your label: <i>none yet</i>"]
        votes: dict[str, int] = {}
        for n in self.neighbours:
            lab = p.user_labels[n]
            if lab is not None:
                votes[str(lab)] = votes.get(str(lab), 0) + 1
        if votes:
            parts.append("Neighbours you labelled: " + ", ".join(f"{shown_in_text(k)}: {v}" for k, v in
                                                                  sorted(votes.items(), key=lambda kv: -kv[1])))
        return "<br>".join(parts)

    def show_row(self, row: int) -> None:
        """Show image ``row`` (or a hint when -1); hidden (map mode), only remember it.

        Every selection and label change comes here, in map mode too, where nothing of
        this is on screen: the neighbours and the strip's count cost 80 ms of the GUI
        thread a number key at 200,000 galaxies and 220 ms at a million.  Hidden, the
        widget is stale until :meth:`showEvent` draws the galaxy remembered.
        """
        p = self.project
        valid = p is not None and 0 <= row < len(p)
        self.row = row if valid else -1
        if not self.isVisible():
            return
        if not valid:
            self._shown_row = -1
            self._shown_key = None
            self.view.set_image(None, message="Select one galaxy (click a cluster or a thumbnail)")
            self.title.setText("No galaxy selected")
            self.guess.setText("")
            self.neighbours = np.zeros(0, np.int64)
            for lab in self.neighbour_labels:
                lab.clear()
            return
        same = row == self._shown_row
        self._shown_row = row
        shown = self.grid.rows()
        pos = np.flatnonzero(shown == row)
        where = f"{pos[0] + 1} of {len(shown)} in {self.grid.title_text}" if len(pos) else ""
        left = p.unlabelled_in(shown) if len(pos) else 0
        self.title.setText(f"{p.name_of(row)}   <small>{where}; {left} unlabelled</small>" if where
                           else p.name_of(row))
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.neighbours = self._nearest(row)
        self.neighbour_title.setText("Nearest in feature space" if p.features is not None
                                     else "Nearest on the map (features loading)")
        key = (p.paths[row], self.stretch, self.prep)
        if key != self._shown_key:  # a label changed, not the galaxy: its image stays as drawn
            try:
                drawn = self._drawn
                rgb = drawn[2] if drawn[:2] == (p.paths[row], self.stretch) else self._render(key)
                self.view.set_image(rgb, keep_view=same)
                self._shown_key = key
            except ImageReadError as exc:
                self.view.set_image(None, message=f"Cannot show this image: {exc}")
                self._shown_key = None
            QTimer.singleShot(0, self, self._prefetch)  # dropped with the widget (a window closed at once)
        self.guess.setText(self.guess_text(row))
        for lab, n in zip(self.neighbour_labels, list(self.neighbours) + [-1] * N_NEIGHBOURS):
            if n < 0:
                lab.clear()
                continue
            lab.setPixmap(self._framed(int(n)))
            mine = p.user_labels[n]
            lab.setToolTip(f"{p.name_of(n)}: " + (f"{mine} (yours)" if mine is not None
                                                else f"{p.cluster_name(int(p.clusters[n]))} (model)"))

    def _render(self, key: tuple) -> np.ndarray:
        """The galaxy ``key`` = (path, stretch, crop) as drawn, decoded once and kept for a few galaxies."""
        rgb = self._renders.get(key)
        if rgb is None:
            rgb = render(*key)
            self._renders[key] = rgb
            while len(self._renders) > 4:
                self._renders.popitem(last=False)
        self._renders.move_to_end(key)
        return rgb

    def _prefetch(self) -> None:
        """Decode the next galaxy in the strip and draw its neighbours while the user looks at this one.

        One image per pass of the event loop (:meth:`_prefetch_step`): after a stretch change
        every one is a miss, and the next galaxy and its neighbours decoded in one pass held the
        GUI thread 50-60 ms (``tests/app/test_fit_and_stall.py``, classify mode).  Its neighbours
        are found on the render pool (150 ms of the GUI thread a galaxy at a million with the
        exact scan), so the key that moves on finds them known.  A newer galaxy's prefetch
        replaces an unfinished one.
        """
        from app.workers import render_pool

        self._prefetch_generation += 1
        generation = self._prefetch_generation
        p = self.project
        following = self.grid.row_after(self.row) if p is not None and self.row >= 0 else -1
        if following < 0 or not self.isVisible():
            return
        try:
            self._render((p.paths[following], self.stretch, self.prep))
        except ImageReadError:
            pass
        index = self._neighbour_index()
        found = self._neighbour_cache.get(following)
        if found is not None or index is None:
            self._prefetch_step(generation, self._prefetch_work(found if found is not None else []))
            return

        def stale() -> bool:  # the user moved on before it began, or new features came
            return generation != self._prefetch_generation or self._index is not index

        def got(rows: np.ndarray) -> None:
            if self._index is index:  # known if the user comes to it later, even past this prefetch
                self._keep_neighbours(following, rows)
                self._prefetch_step(generation, self._prefetch_work(rows))

        render_pool().submit(index.nearest, following, N_NEIGHBOURS, on_result=got, stale=stale)

    def _prefetch_work(self, rows) -> Iterator[None]:
        """The neighbours' thumbnails, one each pass of the event loop."""
        p = self.project
        for n in rows:
            yield
            self.cache.get(p.paths[int(n)])

    def _prefetch_step(self, generation: int, work: Iterator[None]) -> None:
        if generation != self._prefetch_generation or self.project is None:
            return  # a newer galaxy's prefetch took over, or the project closed
        if next(work, _DONE) is not _DONE:
            QTimer.singleShot(0, self, functools.partial(self._prefetch_step, generation, work))  # dropped with the widget

    def _neighbour_index(self) -> NeighbourIndex | None:
        """The index of the features (of the map while the features load), built once per feature set."""
        p = self.project
        if p is None or len(p) < 2:
            return None
        space = p.features if p.features is not None else p.coords
        if self._index is None or self._index.source is not space:
            self._index = NeighbourIndex(space)
            self._neighbour_cache.clear()
        return self._index

    def _keep_neighbours(self, row: int, rows: np.ndarray) -> np.ndarray:
        if len(self._neighbour_cache) > 2000:
            self._neighbour_cache.clear()
        self._neighbour_cache[row] = rows
        return rows

    def _nearest(self, row: int) -> np.ndarray:
        """The neighbours of ``row`` in feature space (on the map while the features load), kept per row."""
        index = self._neighbour_index()
        if index is None:
            return np.zeros(0, np.int64)
        found = self._neighbour_cache.get(row)
        return found if found is not None else self._keep_neighbours(row, index.nearest(row, N_NEIGHBOURS))

    def _framed(self, row: int) -> QPixmap:
        """A neighbour's thumbnail framed in its label colour: solid for the user's label, dashed for the model's."""
        p = self.project
        mine = p.user_labels[row]
        colour = p.color_of(mine) if mine is not None else cluster_colour_of(p, int(p.clusters[row]))
        key = (p.paths[row], colour, mine is not None)
        pix = self._framed_cache.get(key)
        if pix is None:
            if len(self._framed_cache) > 2000:
                self._framed_cache.clear()
            pix = self._framed_cache[key] = self._frame(row, colour, mine is not None)
        return pix

    def _frame(self, row: int, colour: str, solid: bool) -> QPixmap:
        p = self.project
        base = self.cache.get(p.paths[row])
        side = self.cache.size + 8
        if solid:
            pen = QPen(QColor(colour), 4)
        else:
            pen = QPen(QColor(colour), 4, Qt.PenStyle.DashLine, Qt.PenCapStyle.FlatCap)

        def draw(painter: QPainter) -> None:
            painter.drawPixmap((side - base.width()) // 2, (side - base.height()) // 2, base)
            painter.setPen(pen)
            painter.drawRect(2, 2, side - 4, side - 4)

        return framed_pixmap(side, side, QColor("#202020"), draw)  # a reused canvas: no None leak (qt_paint)
