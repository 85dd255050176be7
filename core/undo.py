"""One undoable action: what the Edit menu calls it, how to do it and how to undo it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Command:
    """An entry of the undo stack (:meth:`core.project.Project.undo`)."""

    text: str
    do: Callable[[], None]
    undo: Callable[[], None]
