"""The one selection the map, the thumbnail strip and the preview share."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from psygnal import Signal


class Selection:
    """Indices of the selected images, shared by every view.

    The ``changed`` signal (psygnal: ``connect``/``disconnect``) sends the new
    indices (sorted int64 array) and the source that set them, so a view can
    ignore its own echo.
    """

    changed = Signal(np.ndarray, object)

    def __init__(self) -> None:
        self.indices = np.zeros(0, np.int64)

    def set(self, indices: Iterable[int], source: object = None) -> None:
        """Replace the selection."""
        new = np.unique(np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64))
        if np.array_equal(new, self.indices):
            return
        self.indices = new
        self.changed.emit(new, source)

    def clear(self, source: object = None) -> None:
        """Select nothing."""
        self.set([], source)
