"""The project's declared events: typed psygnal signals with connect and disconnect.

:class:`ProjectEvents` is ``Project.events``; a view connects to the events it
renders (``project.events.labels_changed.connect(self._on_labels)``) and
disconnects when it lets the project go.  psygnal is what napari and ndv use:
Qt-free (core stays headless), synchronous like a direct Qt connection, an
unknown event is an ``AttributeError`` instead of a silently unheard string, the
argument types are declared here, and a bound method is held weakly, so a
closed widget stops listening by itself.

Events (no argument unless noted):

* ``data_changed``: a new run (clusters, confidences, map) replaced the old one;
* ``coords_changed``: the map was projected anew (same clusters);
* ``labels_changed(rows)``: the user labels of these rows (int64 array) changed;
* ``classes_changed``: the label classes were added, renamed, merged or recoloured;
* ``clusters_changed``: clusters were renamed, merged or split;
* ``history_changed``: the undo/redo stack moved;
* ``round_changed``: a fine-tuning round was applied or undone (clusters and confidences changed);
* ``columns_changed``: the joined catalogue columns (``Project.catalog_columns``) changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
from psygnal import Signal


class ProjectEvents:
    """The signals of one :class:`core.project.Project` (see the module docstring)."""

    data_changed = Signal()
    coords_changed = Signal()
    labels_changed = Signal(np.ndarray)
    classes_changed = Signal()
    clusters_changed = Signal()
    history_changed = Signal()
    round_changed = Signal()
    columns_changed = Signal()


#: The event names, in the order documented (for tests and for views that follow every change).
EVENT_NAMES = ("data_changed", "coords_changed", "labels_changed", "classes_changed", "clusters_changed",
               "history_changed", "round_changed", "columns_changed")


@contextmanager
def one_emission_each(events: ProjectEvents) -> Iterator[None]:
    """Within the block, hold each event and emit it once at its end (``labels_changed`` with every row).

    One undoable action may change many things (undoing a class merge renames
    every cluster that had the class's name): each change emitted its event and
    every view refreshed once per change, nine times at a million galaxies
    (1.9 s).  Events are emitted in the documented order; one not emitted in the
    block is not emitted.
    """
    with ExitStack() as stack:
        for name in reversed(EVENT_NAMES):  # the last paused is the first resumed: the documented order
            reduce = _all_rows if name == "labels_changed" else _once
            stack.enter_context(getattr(events, name).paused(reduce))
        yield


def _once(first: tuple, _then: tuple) -> tuple:
    return first


def _all_rows(first: tuple, then: tuple) -> tuple:
    return (np.concatenate([np.asarray(first[0], np.int64), np.asarray(then[0], np.int64)]),)


def disconnect_all(events: ProjectEvents) -> None:
    """Let every listener of ``events`` go (a closed project's).

    A view's listener is often a closure over the view and the project
    (``lambda: self.set_prep(project.preprocessing())``): the project then
    holds itself through its own events, a cycle that only a full garbage
    collection frees, and the app freezes what outlives one
    (:mod:`app.collector`).  Without its listeners a closed project goes when
    the window lets it go, by reference counting.
    """
    for name in EVENT_NAMES:
        getattr(events, name).disconnect()
