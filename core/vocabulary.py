"""The names every project shares: label presets, class colours, the special labels, cluster names.

One place for the words that carry meaning across the code (the app, the
catalogue, the loop): a module that needs "unsure" or "exclude", the name of an
unnamed cluster ("cluster 3", "noise") or the method of a fine-tuning round's
run imports them from here instead of spelling them again, and nothing outside
this module parses a name back (:func:`is_default_cluster_name`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Label presets: name -> classes.  Colours are the Okabe-Ito palette (colour-blind safe).
PRESETS: dict[str, list[str]] = {
    "Hubble basic": ["elliptical", "spiral", "irregular"],
    "Galaxy Zoo question 1": ["smooth", "features or disk", "star or artefact"],
    "GALAXY CRUISE": ["ring", "fan", "distortion", "tail"],
}
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
           "#8C564B", "#17BECF", "#BCBD22", "#7F7F7F")
#: Special labels every project has: the astronomer is not sure, or wants the image out of the catalogue.
UNSURE = "unsure"
EXCLUDE = "exclude"
SPECIAL = {UNSURE: "#BBBBBB", EXCLUDE: "#444444"}
#: What colour by label calls the galaxies with no label (of the user's, nor a named cluster's): no class's name.
NO_LABEL = "(no label)"
#: Colours of unnamed clusters, 50 (the most clusters the run panel asks for) before they repeat.  The first
#: eight are from Paul Tol's colour-blind-safe qualitative schemes (muted, light, medium contrast); the rest
#: were picked Glasbey-style (Glasbey et al. 2007): from the sRGB grid of step 5, each in turn the colour
#: farthest (CIE76) from all before it, among those within CIELAB L* 40-95 (readable on the dark map) and
#: at least delta E 20 from every class colour (Okabe-Ito, PALETTE, and the unsure/exclude
#: greys).  No two lie within 25 of each other.  A cluster named as a class takes the class's colour.
#: Not stored: a project's clusters take these by number, so the first eight keep the colours they had.
CLUSTER_COLORS = ("#117733", "#AA4499", "#EE8866", "#AAAA00", "#994455", "#EEDD88", "#FFAABB", "#997700",
                  "#7805FF", "#00FF00", "#14D7FF", "#148CFF", "#FF0000", "#00FFCD", "#FF00E6", "#FF0069",
                  "#466482", "#A5FF7D", "#E1F5EB", "#A569FF", "#918769", "#FF8C00", "#B9BEFA", "#DCFF00",
                  "#00A000", "#14968C", "#B91E1E", "#8CCD8C", "#FFA5FF", "#FF28AA", "#5F55A0", "#004BFF",
                  "#F06496", "#8C5028", "#A50AAF", "#0FFF6E", "#82FAF0", "#7DE100", "#00C86E", "#5F7805",
                  "#A582A0", "#FFB45A", "#FACDAF", "#FF73FA", "#2355D7", "#A587F0", "#BE2DF5", "#78A5B4",
                  "#82B946", "#FA5F69")


def cluster_color(cluster: int) -> str:
    """Display colour of an unnamed cluster (noise, -1, is grey): the map's, and a region file's."""
    return "#666666" if cluster < 0 else CLUSTER_COLORS[cluster % len(CLUSTER_COLORS)]


#: A class name longer than this is cut in the middle in a sentence or a dialog's box (whole in a tooltip).
NAME_CHARS = 40

@dataclass
class LabelClass:
    """A named class with its display colour (``#RRGGBB``)."""

    name: str
    color: str


#: The name of the points a density method (DBSCAN) leaves out of every cluster: cluster -1.
NOISE = "noise"
#: The method recorded for the run a fine-tuning round makes (not a clustering method the user chooses).
ROUND_METHOD = "dec-finetuned"
_DEFAULT_CLUSTER_NAME = re.compile(r"cluster -?\d+")


def cluster_name(cluster: int, names: Mapping[int, str] | None = None) -> str:
    """The name of ``cluster``: the user's (``names``), else ``cluster N`` (:data:`NOISE` for -1)."""
    if names is not None and cluster in names:
        return names[cluster]
    return NOISE if cluster < 0 else f"cluster {cluster}"


def is_default_cluster_name(name: str) -> bool:
    """Whether ``name`` is what :func:`cluster_name` calls an unnamed cluster (not a class the user chose)."""
    return name == NOISE or _DEFAULT_CLUSTER_NAME.fullmatch(name) is not None


def cut_middle(text: str, limit: int = NAME_CHARS) -> str:
    """``text`` cut in the middle with "…" when longer than ``limit`` characters (a class name in a sentence).

    Parameters
    ----------
    text : str
        A name, often a class's.
    limit : int
        The most characters kept, the ellipsis included.

    Returns
    -------
    str
        ``text`` itself, or its start and end around "…".
    """
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"


def shown_in_text(name: str) -> str:
    """A class name for rich text: cut in the middle when long, its markup characters escaped.

    A 300-character name of one word, unbreakable, set the width of the label showing it
    (the Preview's details, classify mode's guess) and so of the window.

    Parameters
    ----------
    name : str
        A class's (or cluster's) name.

    Returns
    -------
    str
        At most :data:`NAME_CHARS` characters of it, as HTML.
    """
    return html.escape(cut_middle(str(name)))
