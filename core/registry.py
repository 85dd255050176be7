"""One registry per extension point: what exists, under which name, shown how.

Feature models (:data:`core.features.extract.FEATURE_MODELS`), clustering methods
(:data:`core.clustering.methods.CLUSTER_METHODS`), map projections
(:data:`core.clustering.projection.PROJECTION_METHODS`), map colourings
(:data:`core.colouring.COLOURINGS`) and export formats
(:data:`core.catalog.export.EXPORT_FORMATS`) are each a :class:`Registry` of
:class:`Entry`.  Every list of choices reads them: the app's combo boxes, the
CLI's argparse ``choices``, ``models/build_models.py`` and ``build.spec``.
Adding a method or a model is therefore one :meth:`Registry.add` call (plus the
module that does the work), and nothing else in the code names them.

An entry without a display name shows its name, so a half-described method
never crashes a list that shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One thing that can be chosen at an extension point.

    Parameters
    ----------
    name : str
        The stable key (stored in projects, typed on the command line).
    factory : callable
        What does the work (its signature is fixed by the registry's owner).
    display : str, optional
        The name shown in the app; defaults to ``name``.
    description : str
        A sentence for tooltips and ``--help``.
    options : dict
        Facts the callers need about the entry (e.g. ``uses_k`` for a method,
        ``file`` for a model); read with :meth:`option` so a missing one has a default.
    """

    name: str
    factory: Callable[..., Any]
    display: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What the app shows: the display name, else the name."""
        return self.display or self.name

    def option(self, key: str, default: Any = None) -> Any:
        """An option of the entry, or ``default`` when it does not set it."""
        return self.options.get(key, default)


class Registry:
    """Name -> :class:`Entry`, in the order added, with a default.

    Parameters
    ----------
    kind : str
        What the entries are (``"clustering method"``), for error messages.
    default : str
        The name chosen when the user chooses nothing.
    """

    def __init__(self, kind: str, default: str = "") -> None:
        self.kind = kind
        self.default = default
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, factory: Callable[..., Any], display: str = "", description: str = "",
            **options: Any) -> Entry:
        """Register ``name`` (replacing an entry of that name); returns the entry."""
        entry = Entry(name, factory, display, description, dict(options))
        self._entries[name] = entry
        if not self.default:
            self.default = name
        return entry

    def remove(self, name: str) -> None:
        """Unregister ``name`` (plugins and tests that added one)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> Entry:
        """The entry called ``name``.

        Raises
        ------
        ValueError
            No such entry; the message lists the choices.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {self.names()}") from None

    def names(self) -> tuple[str, ...]:
        """Names in the order added (argparse ``choices``)."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
