"""One undoable action: what the Edit menu calls it, how to do it and how to undo it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Command:
    """An entry of the undo stack (:meth:`core.project.Project.undo`).

    ``rows`` are the images a labelling action labels (None for others): an
    undo goes back to them, as a labelling session expects (the answer taken
    back is the galaxy shown again, not the next one).
    """

    text: str
    do: Callable[[], None]
    undo: Callable[[], None]
    rows: np.ndarray | None = None
