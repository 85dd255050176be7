"""The one selection the map, the thumbnail strip and the preview share."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from psygnal import Signal


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: ``np.unique`` by a sort.

    numpy 2's ``np.unique`` hashes: 50 ms for Edit > Select all's 200,000
    distinct indices (its hash table outgrows the cache), where a sort and a
    comparison of neighbours take 1.5 ms; a new array, as ``np.unique`` gives.
    """
    out = np.sort(values, axis=None)
    return out[np.concatenate(([True], out[1:] != out[:-1]))] if len(out) > 1 else out


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
        new = sorted_unique(np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64))
        if np.array_equal(new, self.indices):
            return
        self.indices = new
        self.changed.emit(new, source)

    def clear(self, source: object = None) -> None:
        """Select nothing."""
        self.set([], source)
