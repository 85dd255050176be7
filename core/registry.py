"""One registry per extension point: what exists, under which name, what it does.

Feature models (:data:`core.features.extract.FEATURE_MODELS`), clustering methods
(:data:`core.clustering.methods.CLUSTER_METHODS`), map projections
(:data:`core.clustering.projection.PROJECTION_METHODS`), map colourings
(:data:`core.colouring.COLOURINGS`), export formats
(:data:`core.catalog.export.EXPORT_FORMATS`) and image readers
(:data:`core.images.io.IMAGE_READERS`) are each a :class:`Registry` of
:class:`Entry`.  Every list of choices reads them: the app's combo boxes, the
CLI's argparse ``choices``, ``models/build_models.py`` and ``build.spec``.
Adding a method or a model is therefore one :meth:`Registry.add` call (plus the
module that does the work), and nothing else in the code names them.

An entry carries its behaviour (the ``factory``) and a typed options object:
each registry declares a frozen dataclass of the facts its callers need
(``uses_k`` for a clustering method, ``suffix`` for an export format), so a
misspelt option is a ``TypeError`` when the entry is added, a missing one takes
the dataclass's documented default, and callers read ``entry.options.uses_k``
instead of comparing the entry's name (napari's npe2 manifests work the same
way: the viewer calls a contribution, never tests its name).

An entry without a display name shows its name, so a half-described method
never crashes a list that shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

O = TypeVar("O")  # noqa: E741  (the registry's options dataclass)


@dataclass(frozen=True)
class NoOptions:
    """The options of a registry whose callers need no fact about an entry (colourings)."""


@dataclass(frozen=True)
class Entry(Generic[O]):
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
    options : dataclass instance
        Facts the callers need about the entry, an instance of the registry's
        ``options_type`` (e.g. :class:`core.clustering.methods.MethodOptions`).
    """

    name: str
    factory: Callable[..., Any]
    display: str = ""
    description: str = ""
    options: O = None  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """What the app shows: the display name, else the name."""
        return self.display or self.name

    def option(self, key: str, default: Any = None) -> Any:
        """The option ``key`` (kept for callers written before options were typed).

        ``default`` is ignored: the registry's options dataclass gives every
        option its default.  Raises ``AttributeError`` for an option the
        registry does not declare, so a misspelt key is not silently ``default``.
        """
        if key not in {f.name for f in fields(self.options)}:  # type: ignore[arg-type]
            raise AttributeError(f"{type(self.options).__name__} has no option {key!r}")
        return getattr(self.options, key)


class Registry(Generic[O]):
    """Name -> :class:`Entry`, in the order added, with a default.

    Parameters
    ----------
    kind : str
        What the entries are (``"clustering method"``), for error messages.
    default : str
        The name chosen when the user chooses nothing.
    options_type : type
        The frozen dataclass of the entries' options (:class:`NoOptions` when
        callers need none).
    """

    def __init__(self, kind: str, default: str = "", options_type: type[O] = NoOptions) -> None:  # type: ignore[assignment]
        if not is_dataclass(options_type):
            raise TypeError(f"the options of a {kind} registry must be a dataclass, not {options_type!r}")
        self.kind = kind
        self.default = default
        self.options_type = options_type
        self._entries: dict[str, Entry[O]] = {}

    def add(self, name: str, factory: Callable[..., Any], display: str = "", description: str = "",
            options: O | None = None, **option_values: Any) -> Entry[O]:
        """Register ``name`` (replacing an entry of that name); returns the entry.

        The options are given either as an ``options_type`` instance or as its
        fields by keyword (``uses_k=False``); an unknown keyword raises
        ``TypeError`` naming the registry's options.
        """
        if options is None:
            try:
                options = self.options_type(**option_values)
            except TypeError as exc:
                raise TypeError(f"{self.kind} {name!r}: {exc} (the options are {self.options_type.__name__}: "
                                f"{[f.name for f in fields(self.options_type)]})") from None  # type: ignore[arg-type]
        elif option_values or not isinstance(options, self.options_type):
            raise TypeError(f"{self.kind} {name!r}: give one {self.options_type.__name__} or keywords, not both")
        entry: Entry[O] = Entry(name, factory, display, description, options)
        self._entries[name] = entry
        if not self.default:
            self.default = name
        return entry

    def remove(self, name: str) -> None:
        """Unregister ``name`` (plugins and tests that added one)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> Entry[O]:
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

    def __iter__(self) -> Iterator[Entry[O]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
