"""The catalogue as a DS9 region file: each galaxy a point on the sky, in its class's colour, for ds9 and Aladin.

An astronomer who sorted a survey's cut-outs looks at the field next: ds9 or
Aladin shows the survey's image, and a region file (``File > Open`` in Aladin,
``Region > Open`` in ds9) draws each galaxy on it, coloured and named by its
class (the user's label, else its cluster's name), so a class's place on the sky
and its neighbours are seen at once.  Only galaxies with a sky position are
written: the centre of a FITS image's celestial WCS (``ra``/``dec``) or a joined
catalogue's RA/Dec (degrees, or sexagesimal text as astropy reads it).

The file is written here, line by line, rather than through astropy's
``regions`` package: a million galaxies are a million region objects there
(each a ``SkyCoord``), and the format needed is four fixed fields a line.  The
tests read every file back with ``regions`` (DS9 parser) to check it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from core.catalog.export import CatalogueRow
from core.catalog.survey import NoSkyPositions
from core.vocabulary import SPECIAL

#: Screen size, in pixels, of each galaxy's circle (a point region keeps it at every zoom).
POINT_SIZE = 11


class NoRegionPositions(NoSkyPositions):
    """A region file was asked for, and no galaxy has a sky position."""

    hint = ("A region file draws galaxies at their sky positions. Open FITS images whose headers carry a celestial "
            "WCS (each image's centre gives its ra/dec), or join a catalogue with RA/Dec columns (Catalogue > Join a "
            "catalogue); otherwise export a table (CSV, FITS, VOTable).")


def _text(value: str) -> str:
    """A label as DS9 text: between braces, so braces, newlines and control characters are replaced."""
    cleaned = "".join(c if c.isprintable() else " " for c in value)
    return cleaned.replace("{", "(").replace("}", ")") or "?"


def _degrees(values: list[object], what: str) -> np.ndarray:
    """A column of numbers or sexagesimal text as degrees (NaN where no angle): :func:`catalogue_angles`."""
    from core.catalog.join import Catalog
    from core.catalog.positions import catalogue_angles

    if all(isinstance(v, float | int) for v in values):
        return np.asarray(values, np.float64)
    cells = ["" if not isinstance(v, str) and not np.isfinite(v) else str(v) for v in values]  # type: ignore[arg-type]
    try:
        return catalogue_angles(Catalog(Path(), {what: cells}), what, what)
    except ValueError:  # no angle in the whole column: no galaxy has a position
        return np.full(len(values), np.nan)


def region_lines(rows: list[CatalogueRow], record: Mapping[str, object] | None = None) -> list[str]:
    """The lines of the region file for ``rows`` (see :func:`write_regions`)."""
    from core.catalog.survey import sky_columns_of
    from core.vocabulary import cluster_color

    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r.extra))
    pair = sky_columns_of(list(names))
    if pair is None:
        raise NoRegionPositions(
            "a region file draws galaxies at their sky positions, and these have no sky position: open FITS images with a "
            "celestial WCS (their centres give ra/dec), or join a catalogue with RA/Dec columns "
            "(Catalogue > Join a catalogue in the app, --join CATALOGUE in the CLI)")
    ra = _degrees([r.extra.get(pair[0], np.nan) for r in rows], "RA")
    dec = _degrees([r.extra.get(pair[1], np.nan) for r in rows], "Dec")
    placed = np.flatnonzero(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90))
    if not len(placed):
        raise NoRegionPositions(f"none of the {len(rows):,} galaxies has a sky position ({pair[0]}/{pair[1]} are empty)")
    classes = {str(c["name"]): str(c["color"]) for c in (record or {}).get("classes", [])}  # type: ignore[union-attr]
    colours = {**classes, **SPECIAL}
    counts: dict[str, list] = {}
    body = []
    for i in placed:
        row = rows[int(i)]
        colour = colours.get(row.label) or cluster_color(row.cluster)
        counts.setdefault(row.label, [colour, 0])[1] += 1
        text = _text(row.label)
        body.append(f"point({ra[i]:.7f},{dec[i]:+.7f}) # point=circle {POINT_SIZE} color={colour} "
                    f"text={{{text}}} tag={{{text}}}")
    run = (record or {}).get("run") or {}
    head = ["# Region file format: DS9 version 4.1",
            f"# Galaxy Sorter catalogue, run {run.get('id', '?')} ({run.get('method', '?')} on {run.get('model', '?')}):"
            f" {len(placed):,} of {len(rows):,} galaxies with a sky position ({pair[0]}/{pair[1]})",
            "# class: colour (galaxies)"]
    head += [f"#   {_text(label)}: {colour} ({n:,})" for label, (colour, n) in sorted(counts.items())]
    head += ['global color=green dashlist=8 3 width=1 font="helvetica 10 normal roman" select=1 highlite=1 '
             "dash=0 fixed=0 edit=0 move=0 delete=1 include=1 source=1", "icrs"]
    return head + body


def write_regions(rows: Iterable[CatalogueRow], path: str | os.PathLike[str],
                  record: Mapping[str, object] | None = None) -> Path:
    """Write the catalogue's galaxies with a sky position as a DS9 region file (ds9, Aladin); returns the path.

    Each galaxy is ``point(ra,dec)`` in ICRS degrees, a circle of
    :data:`POINT_SIZE` screen pixels in its class's colour (the project's class
    colours from ``record["classes"]``; a cluster's own colour for a galaxy
    still named by its cluster), with its label as text and as tag (ds9 selects
    a tag's regions together).  The header comments say the run and, for each
    class, its colour and count; galaxies without a position are counted there.

    Raises
    ------
    NoRegionPositions
        No RA/Dec column, or no galaxy with a position (a :class:`core.catalog.survey.NoSkyPositions`).
    """
    lines = region_lines(list(rows), record)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)
