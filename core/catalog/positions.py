"""A catalogue's RA and Dec as degrees for a sky join, and the rows that cannot take part in it.

* :func:`catalogue_angles` reads an RA or Dec column as degrees: numbers as
  degrees, sexagesimal text as astropy's ``Angle`` reads it.
* :func:`sky_rows` reads both and sets aside the rows with no usable position
  (no RA or Dec, one that is no finite angle, a Dec outside [-90, 90]), so one
  bad row is skipped and named by its line, as TOPCAT skips it, instead of
  stopping the whole join (astropy's ``SkyCoord`` refuses a Dec of 95 for the
  whole column); a catalogue of no usable row is refused, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.catalog.join import Catalog

#: Skipped rows named in a join's report and record; the others are counted.
SKIPPED_SHOWN = 5


def catalogue_angles(cat: Catalog, name: str, what: str) -> np.ndarray:
    """Column ``name`` of ``cat`` as degrees: numbers as degrees, other cells as astropy reads an angle.

    A catalogue may give positions as ``10:00:00.000`` / ``+02:00:00`` (or
    ``10h00m00s``, ``150.5d``): a cell that is not a number is read with
    ``astropy.coordinates.Angle``, a bare sexagesimal RA in hours and a Dec in
    degrees (an explicit unit wins), so it joins as TOPCAT would join it rather
    than being a NaN that matches nothing.

    Parameters
    ----------
    cat : Catalog
    name : str
        The RA or Dec column.
    what : {"RA", "Dec"}
        Which, for the unit of a bare sexagesimal value and the message.

    Returns
    -------
    ndarray of float64
        Degrees; NaN where a cell is missing (``Catalog.is_missing``: empty, ``nan``, ``NA``...) or no angle.

    Raises
    ------
    ValueError
        When no cell of the column is an angle, naming the column and the first
        cell (and its line) that is not.
    """
    import warnings

    import astropy.units as u
    from astropy.coordinates import Angle
    from astropy.utils.exceptions import AstropyWarning

    out = cat.numeric(name)
    values = cat.columns[name]
    todo = [i for i, v in enumerate(values) if not cat.is_missing(v) and not np.isfinite(out[i])]
    unit = u.hourangle if what == "RA" else u.deg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)  # 10:03:60 is read as 10:04:00, as astropy says
        try:
            out[todo] = Angle([values[i] for i in todo], unit=unit).degree if todo else []
        except (ValueError, TypeError, u.UnitsError):  # one cell is no angle: read them one by one
            for i in todo:
                try:
                    out[i] = Angle(values[i], unit=unit).degree
                except (ValueError, TypeError, u.UnitsError):
                    pass
    if not np.isfinite(out).any():
        bad = next((i for i, v in enumerate(values) if not cat.is_missing(v)), None)
        if bad is None:
            raise ValueError(f"{what} column {name!r} is empty (or says nan, NA, null)")
        raise ValueError(f"{what} column {name!r} holds no angle astropy can read, e.g. {row_place(cat, bad)}: "
                         f"{values[bad]!r}")
    return out


@dataclass
class SkyRows:
    """A catalogue's positions for a sky join: degrees, NaN on the rows skipped, and those rows told.

    Attributes
    ----------
    ra, dec : ndarray of float64, shape (n_rows,)
        Degrees; NaN on every skipped row, so it never matches.
    skipped : int
        Rows with no usable position.
    examples : list of str
        The first :data:`SKIPPED_SHOWN` of them, each its line and why (``line 3: Dec '95' is outside [-90, 90]``).
    """

    ra: np.ndarray
    dec: np.ndarray
    skipped: int = 0
    examples: list[str] = field(default_factory=list)


def row_place(cat: Catalog, row: int) -> str:
    """The file line of a row (``line 7``), or its number where the catalogue was not read from a file."""
    return f"line {cat.lines[row]}" if len(cat.lines) == len(cat) else f"row {row + 1}"


def sky_rows(cat: Catalog, ra_column: str, dec_column: str) -> SkyRows:
    """The RA and Dec of every row as degrees (:func:`catalogue_angles`), the rows with no usable position skipped.

    A row is skipped when its RA or Dec is missing (empty, ``nan``), is no finite angle (``inf``,
    a word) or its Dec lies outside [-90, 90]: a working astronomer's catalogue
    has such rows (a placeholder, a typo), and the others are still joined.

    Raises
    ------
    ValueError
        A column with no angle at all (:func:`catalogue_angles`), or no row with a
        usable position, naming the first rows and why.
    """
    ra, dec = catalogue_angles(cat, ra_column, "RA"), catalogue_angles(cat, dec_column, "Dec")
    why: dict[int, str] = {}
    for what, name, values in (("RA", ra_column, ra), ("Dec", dec_column, dec)):
        cells = cat.columns[name]
        for i in np.flatnonzero(~np.isfinite(values)):
            said = f"no {what}" if cat.is_missing(cells[i]) else f"{what} {cells[i][:20]!r} is not a finite angle"
            why.setdefault(int(i), said)
    for i in np.flatnonzero(np.abs(dec) > 90):  # NaN is never > 90: told above
        why.setdefault(int(i), f"Dec {cat.columns[dec_column][i][:20]!r} is outside [-90, 90]")
    bad = sorted(why)
    out = SkyRows(ra, dec, len(bad), [f"{row_place(cat, i)}: {why[i]}" for i in bad[:SKIPPED_SHOWN]])
    out.ra[bad], out.dec[bad] = np.nan, np.nan
    if len(bad) == len(ra):
        raise ValueError(f"none of its {len(bad):,} rows has a position a sky join can use (columns {ra_column!r}, "
                         f"{dec_column!r}): {_told(out.skipped, out.examples)}")
    return out


def skipped_note(count: int, examples: Sequence[str]) -> str:
    """What a sky join skipped, in words (empty when nothing): the count, and the first rows' lines and reasons.

    For example ``2 catalogue row(s) skipped, with no usable position: line 3: Dec '95' is outside [-90, 90];
    line 5: no RA``; past :data:`SKIPPED_SHOWN` rows it ends ``; and 12 more``.
    """
    return f"{count:,} catalogue row(s) skipped, with no usable position: {_told(count, examples)}" if count else ""


def _told(count: int, examples: Sequence[str]) -> str:
    """The first skipped rows, ``; ``-separated, then how many more (``; and 12 more``)."""
    more = f"; and {count - len(examples):,} more" if count > len(examples) else ""
    return "; ".join(examples) + more


def parse_radius(text: str) -> float:
    """A match radius in arcseconds from ``2arcsec``, ``0.5 arcmin``, ``1e-3 deg`` or a bare number (arcsec)."""
    import astropy.units as u

    try:
        value = float(text)
    except ValueError:
        try:
            value = u.Quantity(text).to_value(u.arcsec)
        except (TypeError, ValueError, u.UnitsError):
            raise ValueError(f"not an angle: {text!r} (say 2arcsec, 0.5arcmin or 2)") from None
    if not value > 0:
        raise ValueError(f"the radius must be positive, not {text!r}")
    return float(value)
