"""The names every project shares: label presets, class colours and the special labels.

One place for the words that carry meaning across the code (the app, the
catalogue, the loop): a module that needs "unsure" or "exclude" imports them
from here instead of spelling them again.
"""

from __future__ import annotations

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

@dataclass
class LabelClass:
    """A named class with its display colour (``#RRGGBB``)."""

    name: str
    color: str
