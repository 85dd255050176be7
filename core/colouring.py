"""Map colourings: what "colour by ..." means, without Qt.

A colouring turns a :class:`core.project.Project` into a :class:`Colouring`:
either groups (a key per image, a colour and a legend name per key) or one
continuous value per image.  The app's "colour by" box lists
:data:`COLOURINGS` and draws whatever the chosen entry returns, so adding a
colouring (a morphology column, a metadata field) is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.registry import Registry
from core.vocabulary import NO_LABEL, cluster_color, is_default_cluster_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.project import Project

NO_MATCH = "#555555"
#: Ten steps of viridis (at 0.05, 0.15, ..., 0.95) for a joined catalogue column.
VIRIDIS10 = ("#481467", "#463480", "#3b528b", "#2f6c8e", "#25848e", "#1e9c89", "#2fb47c", "#5dc863", "#9ad93d",
             "#dee318")


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference of two ``#RRGGBB`` colours (about 2.3 is just noticeable)."""
    def lab(color: str) -> tuple[float, float, float]:
        rgb = [int(color[i : i + 2], 16) / 255.0 for i in (1, 3, 5)]
        lin = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb]
        x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
        y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

        def f(t: float) -> float:
            return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

        return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))

    return float(sum((p - q) ** 2 for p, q in zip(lab(a), lab(b))) ** 0.5)


@dataclass
class Colouring:
    """How to colour the map: groups with colours and legend names, or a continuous value.

    Attributes
    ----------
    groups : ndarray of shape (n_images,)
        A key per image (cluster number, label); keys of ``colors`` and ``names``.
    colors : dict
        Key -> ``#RRGGBB``.
    names : dict
        Key -> legend text.
    values : ndarray of shape (n_images,), optional
        A continuous value per image, scaled to [0, 1]; when set, the map shades by it in ten steps
        (the groups stay for the legend).
    title : str
        What ``values`` are (the quantity's name).
    span : (float, float)
        The quantity's values at 0 and 1 of ``values``: the legend's steps are named in them
        (:meth:`step_names`), not in the scaled fractions.
    grouping : (keys, inverse, counts), optional
        When the colouring knows them: the distinct keys of ``groups`` sorted, each image's index
        into them, and their counts (what ``np.unique(groups, return_inverse=True,
        return_counts=True)`` gives), so the map sorts no key (:func:`by_label`: 200,000 label texts
        took 30-40 ms of the GUI thread to sort at each draw).
    """

    groups: np.ndarray
    colors: dict[object, str]
    names: dict[object, str] = field(default_factory=dict)
    values: np.ndarray | None = None
    title: str = ""
    span: tuple[float, float] = (0.0, 1.0)
    grouping: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def continuous(self) -> bool:
        """Whether the map shades by ``values``."""
        return self.values is not None

    def step_names(self, steps: int = 10) -> dict[int, str]:
        """The legend's names of the ``steps`` shades of ``values``, in the quantity's own values (:func:`step_names`)."""
        return step_names(self.title, *self.span, steps)


def step_names(title: str, lo: float, hi: float, steps: int = 10) -> dict[int, str]:
    """Legend names of ``steps`` equal steps from ``lo`` to ``hi``: the first says what they are, the rest their range.

    Why: each of ten entries read "concentration 2.54 to 4.10, 0.1-0.2", the name and the whole range
    repeated and the step given as a fraction of it, cut short in the legend's column ("concentration
    2.54..., 0.0-0.1"); an astronomer reads a value off a colour bar.  Now "concentration 2.54 to 2.70",
    then "2.70 to 2.85", ...: the name once, every step in the quantity's values.
    """
    edges = [lo + (hi - lo) * i / steps for i in range(steps + 1)]
    names = {i: f"{edges[i]:.3g} to {edges[i + 1]:.3g}" for i in range(steps)}
    if title:
        names[0] = f"{title} {names[0]}"
    return names


@dataclass(frozen=True)
class ColouringOptions:
    """What the map needs to know about a colouring.

    Attributes
    ----------
    uses_labels : bool
        The colours follow the user's labels: a label recolours the map.  When False
        a label changes only its galaxy's ring, and the map skips recomputing the
        colouring (at 10^6 galaxies that recomputation, not the drawing, was most of a key).
    """

    uses_labels: bool = False
    #: ``fn(project, previous, rows) -> Colouring | None``: the colouring after the user labels of ``rows``
    #: changed, from ``previous`` (its value before), in O(len(rows)); None when it must be recomputed whole.
    after_labels: Callable[[Project, Colouring, np.ndarray], Colouring | None] | None = None


def cluster_colour_of(project: Project, cluster: int) -> str:
    """A cluster's colour: the colour of the class it is named after, else its own."""
    name = project.cluster_names.get(cluster)
    return project.color_of(name) if name is not None else cluster_color(cluster)


def row_color(project: Project, row: int) -> str:
    """Colour of one image in lists: the user's label's colour, else its cluster's."""
    u = project.user_labels[row]
    return project.color_of(u) if u is not None else cluster_colour_of(project, int(project.clusters[row]))


def by_cluster(project: Project) -> Colouring:
    """Each cluster its colour (a named cluster takes its class's colour)."""
    ids = project.cluster_ids()
    return Colouring(project.clusters, {c: cluster_colour_of(project, c) for c in ids},
                     {c: project.cluster_name(c) for c in ids})


def by_label(project: Project) -> Colouring:
    """The final label's colour, for labels the user gave or a named cluster gave; the rest grey.

    Worked out by codes, a cluster's or a user label's, never by every galaxy's label
    as text: the final labels as an object array, looked at in Python and turned to
    text, took 0.05-0.08 s of the GUI thread a click at 200,000 galaxies.  An unnamed
    cluster's galaxies are grey unless some label reads like its name ("cluster 3").
    """
    clusters = np.asarray(project.clusters)
    if len(clusters) == 0:
        return Colouring(np.zeros(0, str), {}, {})
    mine = np.not_equal(project.user_labels, None)
    lo = int(clusters.min())
    present = np.flatnonzero(np.bincount(clusters - lo))
    ids = (present + lo).tolist()
    of_cluster = np.zeros(int(present[-1]) + 1, np.intp)
    of_cluster[present] = np.arange(len(ids))
    codes = of_cluster[clusters - lo]  # each galaxy's cluster, as an index into ids
    carried = np.bincount(codes[~mine], minlength=len(ids)) > 0  # clusters whose name some galaxy's label is
    names = [project.cluster_name(c) for c in ids]
    given, of_given = np.unique(project.user_labels[mine].astype(str), return_inverse=True)
    named = set(given.tolist()) | {n for c, n, k in zip(ids, names, carried) if k and c in project.cluster_names}
    own = [n if c in project.cluster_names or n in named else NO_LABEL for c, n in zip(ids, names)]
    codes[mine] = len(ids) + of_given.ravel()
    shown = set(given.tolist()) | {n for n, k in zip(own, carried) if k}
    colors = {k: (project.color_of(k) if k != NO_LABEL else "#555555") for k in shown}
    table = np.array(own + given.tolist(), dtype=str)  # each code's key: a few dozen texts, some repeated
    return Colouring(table[codes], colors, {k: k for k in colors}, grouping=_grouping(table, codes))


def _grouping(table: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(table[codes], return_inverse=True, return_counts=True)``, sorting ``table`` (short), not the keys."""
    keys, of_code = np.unique(table, return_inverse=True)
    counts = np.bincount(of_code.ravel()[codes], minlength=len(keys))
    present = np.flatnonzero(counts)
    lut = np.full(len(keys), -1, np.intp)
    lut[present] = np.arange(len(present))
    return keys[present], lut[of_code.ravel()][codes], counts[present]


def by_label_after(project: Project, previous: Colouring, rows: np.ndarray) -> Colouring | None:
    """:func:`by_label` after the user labels of ``rows`` changed, from its value before, in O(len(rows)).

    A row's key is its own: the user's label, else its named cluster's name, else
    NO_LABEL.  Another row's key moves only when a label reads like an unnamed
    cluster's name ("cluster 3", which colours that cluster's galaxies too): then
    None, as when a key is longer than ``previous.groups`` holds (recompute whole).
    ``previous.groups`` is updated in place (a label at 10^6 galaxies copies nothing).
    """
    rows = np.asarray(rows, np.int64)
    groups = previous.groups
    if groups.dtype.kind != "U":
        return None
    keys = project.user_labels[rows].copy()  # each row's key in numpy: a whole cluster is 25,000 rows at 200,000
    own = np.equal(keys, None)
    if own.any():  # the rows with no label of yours: their cluster's name, each cluster's looked up once
        ids, where = np.unique(project.clusters[rows][own], return_inverse=True)
        keys[own] = np.array([project.cluster_names.get(int(c), NO_LABEL) for c in ids], dtype=object)[where.ravel()]
    distinct = {str(k) for k in set(keys.tolist())}  # a set of a few texts, each repeated: no sort of 25,000 texts
    touched = distinct | set(groups[rows].tolist()) | set(project.cluster_names.values())
    if any(is_default_cluster_name(str(k)) for k in touched) or (
            max((len(k) for k in distinct), default=0) > groups.dtype.itemsize // 4):
        return None
    groups[rows] = keys.astype(str)
    colors, names = dict(previous.colors), dict(previous.names)
    for k in distinct - set(colors):
        colors[k], names[k] = project.color_of(k) if k != NO_LABEL else "#555555", k
    return Colouring(groups, colors, names)


def by_column(project: Project, name: str) -> Colouring:
    """A joined catalogue column (``project.catalog_columns[name]``) in ten viridis steps.

    The steps span the column's 2nd to 98th percentiles; images without a match
    (NaN) are grey, never mistaken for the lowest values; an infinite value (a
    catalogue's ``inf``, ``-inf``) takes the highest or lowest step, as a value
    past the 98th or under the 2nd percentile does.
    """
    values = np.asarray(project.catalog_columns.get(name, np.full(len(project), np.nan)), dtype=float)
    ok = np.isfinite(values)
    groups = np.full(len(values), -1, np.int64)
    colors: dict[object, str] = {-1: NO_MATCH}
    names: dict[object, str] = {-1: f"{name}: no match"}
    if ok.any():
        lo, hi = np.percentile(values[ok], [2, 98])
        scaled = (values[ok] - lo) / (hi - lo) if hi > lo else np.full(int(ok.sum()), 0.5)
        groups[ok] = np.clip((scaled * 9.999).astype(int), 0, 9)
        groups[values == np.inf], groups[values == -np.inf] = 9, 0
        colors.update(enumerate(VIRIDIS10))
        names.update(step_names(name, lo, hi, len(VIRIDIS10)))
    return Colouring(groups, colors, names)


def by_confidence(project: Project) -> Colouring:
    """The model's confidence, shaded (the clusters stay in the legend)."""
    groups = by_cluster(project)
    return Colouring(groups.groups, groups.colors, groups.names, np.asarray(project.confidence), "confidence")


#: The map colourings: name -> entry whose factory is ``fn(project) -> Colouring``.
COLOURINGS: Registry[ColouringOptions] = Registry("colouring", default="cluster", options_type=ColouringOptions)
COLOURINGS.add("cluster", by_cluster, "colour by cluster")
COLOURINGS.add("label", by_label, "colour by label", uses_labels=True, after_labels=by_label_after)
COLOURINGS.add("confidence", by_confidence, "colour by confidence")


def by_morphology(name: str):  # noqa: ANN201 (a colouring factory)
    """The colouring "colour by ``name``" of a :data:`core.features.morphology.CATALOGUE_NAMES` parameter.

    Shades from the 2nd to the 98th percentile of the values (images without one take the
    lowest shade); raises ValueError when the project has no values yet.
    """

    def fn(project: Project) -> Colouring:
        from core.features.morphology import morphology_values

        values = morphology_values(project.store, project.db_ids, (name,))
        if values is None or not np.isfinite(values).any():
            raise ValueError(f"no {name} values yet: compute them first (Run > Compute morphology parameters)")
        v = values[:, 0]
        lo, hi = np.nanpercentile(v, [2, 98])
        scaled = np.nan_to_num(np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1), nan=0.0)
        groups = by_cluster(project)
        return Colouring(groups.groups, groups.colors, groups.names, scaled, name, (float(lo), float(hi)))

    fn.__doc__ = f"Shade by the morphology parameter {name} (see core/features/morphology.py)."
    return fn


for _name in ("concentration", "asymmetry", "gini", "m20", "ellipticity", "colour"):  # core.features.morphology.CATALOGUE_NAMES
    COLOURINGS.add(_name, by_morphology(_name), f"colour by {_name}",
                   "a morphology parameter; needs Run > Compute morphology parameters")


def colouring(project: Project, name: str) -> Colouring:
    """The colouring ``name`` of :data:`COLOURINGS` applied to ``project``, or its joined catalogue column ``name``."""
    if name not in COLOURINGS and name in project.catalog_columns:
        return by_column(project, name)
    return COLOURINGS.get(name).factory(project)


def after_labels(project: Project, name: str, previous: Colouring, rows: np.ndarray) -> Colouring | None:
    """The colouring ``name`` after the user labels of ``rows`` changed, from ``previous``, its value before.

    ``previous`` itself when the colouring ignores labels (joined columns too); the entry's
    ``after_labels`` when it has one (O(len(rows))); else None: recompute it whole.
    """
    if name not in COLOURINGS or not COLOURINGS.get(name).options.uses_labels:
        return previous
    update = COLOURINGS.get(name).options.after_labels
    return None if update is None else update(project, previous, rows)


def is_colouring(project: Project | None, name: str) -> bool:
    """Whether ``name`` colours ``project``'s map: an entry of :data:`COLOURINGS` or a joined column."""
    return name in COLOURINGS or (project is not None and name in project.catalog_columns)
