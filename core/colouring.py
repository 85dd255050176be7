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

if TYPE_CHECKING:
    from core.project import Project

#: Cluster colours before a cluster is named (tab10-like, distinct from the class palette order).
CLUSTER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")
NO_LABEL = "(no label)"


def cluster_color(cluster: int) -> str:
    """Display colour of an unnamed cluster (noise, -1, is grey)."""
    return "#666666" if cluster < 0 else CLUSTER_COLORS[cluster % len(CLUSTER_COLORS)]


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
        A continuous value per image; when set, the map shades by it (the groups stay for the legend).
    title : str
        What ``values`` are.
    """

    groups: np.ndarray
    colors: dict[object, str]
    names: dict[object, str] = field(default_factory=dict)
    values: np.ndarray | None = None
    title: str = ""

    @property
    def continuous(self) -> bool:
        """Whether the map shades by ``values``."""
        return self.values is not None


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
    """The final label's colour, for labels the user gave or a named cluster gave; the rest grey."""
    labels, source = project.final_labels()
    named = {lab for lab, s, c in zip(labels, source, project.clusters) if s == "user" or int(c) in project.cluster_names}
    keys = np.array([lab if lab in named else NO_LABEL for lab in labels], dtype=object)
    colors = {k: (project.color_of(k) if k != NO_LABEL else "#555555") for k in set(keys)}
    return Colouring(keys.astype(str), colors, {k: k for k in colors})


def by_confidence(project: Project) -> Colouring:
    """The model's confidence, shaded (the clusters stay in the legend)."""
    groups = by_cluster(project)
    return Colouring(groups.groups, groups.colors, groups.names, np.asarray(project.confidence), "confidence")


#: The map colourings: name -> entry whose factory is ``fn(project) -> Colouring``.
COLOURINGS = Registry("colouring", default="cluster")
COLOURINGS.add("cluster", by_cluster, "colour by cluster")
COLOURINGS.add("label", by_label, "colour by label")
COLOURINGS.add("confidence", by_confidence, "colour by confidence")


def by_morphology(name: str):  # noqa: ANN201 (a colouring factory)
    """The colouring "colour by ``name``" of a :data:`core.morphology.CATALOGUE_NAMES` parameter.

    Shades from the 2nd to the 98th percentile of the values (images without one take the
    lowest shade); raises ValueError when the project has no values yet.
    """

    def fn(project: Project) -> Colouring:
        from core.morphology import morphology_values

        values = morphology_values(project.store, project.db_ids, (name,))
        if values is None or not np.isfinite(values).any():
            raise ValueError(f"no {name} values yet: compute them first (Run > Compute morphology parameters)")
        v = values[:, 0]
        lo, hi = np.nanpercentile(v, [2, 98])
        scaled = np.nan_to_num(np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1), nan=0.0)
        groups = by_cluster(project)
        return Colouring(groups.groups, groups.colors, groups.names, scaled, f"{name} {lo:.3g} to {hi:.3g},")

    fn.__doc__ = f"Shade by the morphology parameter {name} (see core/morphology.py)."
    return fn


for _name in ("concentration", "asymmetry", "gini", "m20", "ellipticity", "colour"):  # core.morphology.CATALOGUE_NAMES
    COLOURINGS.add(_name, by_morphology(_name), f"colour by {_name}",
                   "a morphology parameter; needs Run > Compute morphology parameters")


def colouring(project: Project, name: str) -> Colouring:
    """The colouring ``name`` of :data:`COLOURINGS` applied to ``project``."""
    return COLOURINGS.get(name).factory(project)
