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
