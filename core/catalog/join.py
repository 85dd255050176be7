"""Sky coordinates of the images and external catalogues joined to the project.

* :func:`wcs_centre` reads a FITS header's world coordinate system
  (``astropy.wcs``) and returns the RA and Dec of the image centre;
  :func:`sky_positions` does it for a whole project (NaN where a file has no
  celestial WCS, or is not FITS).
* :func:`load_catalog` reads a CSV catalogue (an id column and/or RA/Dec
  columns plus any others); :func:`join_by_id` and :func:`join_by_sky` find,
  for every image, its catalogue row (``-1`` when none), the latter with
  ``SkyCoord.match_to_catalog_sky`` inside a radius;
  :func:`joined_columns` returns the numeric columns in project order, NaN
  where unmatched, to colour the map or be exported beside the labels (the
  TOPCAT habit of joining by position).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.catalog.bounded import bounded_lines
from core.images.io import FITS_SUFFIXES, image_id

RA_NAMES = ("ra", "ra_deg", "raj2000", "ra_j2000", "alpha")
DEC_NAMES = ("dec", "dec_deg", "dej2000", "decj2000", "dec_j2000", "delta")
ID_NAMES = ("id", "galaxyid", "objid", "name", "object_id", "image_id")


def wcs_centre(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """RA and Dec (degrees, ICRS as the header states) of the centre of a FITS image, or None.

    None when the file is not FITS, has no image HDU or its header has no
    celestial WCS.  Only the header is read.
    """
    if not str(path).lower().endswith(FITS_SUFFIXES):
        return None
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.header.get("NAXIS", 0) >= 2), None)
            if hdu is None:
                return None
            header = hdu.header.copy()
    except Exception:  # unreadable files are reported where the image is read
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except Exception:
            return None
    if not wcs.has_celestial or wcs.naxis != 2:
        return None
    nx, ny = int(header.get("NAXIS1", 0)), int(header.get("NAXIS2", 0))
    ra, dec = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return None
    return float(ra) % 360.0, float(dec)


def sky_positions(paths: Sequence[str], progress: Callable[[float, str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """RA and Dec of every image's centre, of shape (n_images, 2); NaN where there is no WCS."""
    from core.progress import Cancelled

    out = np.full((len(paths), 2), np.nan)
    for i, p in enumerate(paths):
        if should_stop is not None and should_stop():
            raise Cancelled()
        centre = wcs_centre(p)
        if centre is not None:
            out[i] = centre
        if progress is not None and (i % 50 == 0 or i == len(paths) - 1):
            progress((i + 1) / len(paths), f"Reading WCS {i + 1}/{len(paths)}")
    return out


@dataclass
class Catalog:
    """A table read from CSV: column name -> values (text as read)."""

    path: Path
    columns: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def find(self, names: Sequence[str]) -> str | None:
        """The first column whose lower-case name is in ``names``."""
        for c in self.columns:
            if c.strip().lower() in names:
                return c
        return None

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as float64 (NaN where a cell is empty or not a number)."""
        out = np.full(len(self), np.nan)
        for i, v in enumerate(self.columns[name]):
            try:
                out[i] = float(v)
            except ValueError:
                pass
        return out

    def numeric_columns(self) -> list[str]:
        """Columns whose non-empty cells are all numbers (at least one)."""
        names = []
        for name, values in self.columns.items():
            cells = [v for v in values if v.strip()]
            if cells and np.isfinite(self.numeric(name)).sum() == len(cells):
                names.append(name)
        return names


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read a CSV catalogue with a header row; raises ``ValueError`` when it has no rows.

    The reading is bounded (:func:`core.catalog.bounded.bounded_lines`): a device,
    a pipe or a huge file is refused with a ``ValueError`` that says so.
    """
    with open(Path(path), newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(bounded_lines(fh, path))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path} is empty") from None
        rows = [r for r in reader if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path} has a header but no rows")
    cols = {h: [r[i].strip() if i < len(r) else "" for r in rows] for i, h in enumerate(header) if h}
    return Catalog(Path(path), cols)


def join_by_id(paths: Sequence[str], catalog: Catalog, id_column: str | None = None) -> np.ndarray:
    """Catalogue row of every image whose id (file name without suffix) equals the id column, else -1."""
    column = id_column or catalog.find(ID_NAMES) or next(iter(catalog.columns))
    where: dict[str, int] = {}
    for i, v in enumerate(catalog.columns[column]):
        where.setdefault(v, i)
    return np.array([where.get(image_id(p), -1) for p in paths], np.int64)


def join_by_sky(ra: np.ndarray, dec: np.ndarray, cat_ra: np.ndarray, cat_dec: np.ndarray,
                radius_arcsec: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Nearest catalogue source of every image within ``radius_arcsec``.

    Parameters
    ----------
    ra, dec : ndarray of shape (n_images,)
        Image centres in degrees (NaN: no position, never matched).
    cat_ra, cat_dec : ndarray of shape (n_sources,)
        Catalogue positions in degrees (NaN rows are never matched).
    radius_arcsec : float
        Largest separation accepted.

    Returns
    -------
    index : ndarray of int64, shape (n_images,)
        Catalogue row, or -1 when none lies within the radius.
    separation : ndarray of float64, shape (n_images,)
        Separation in arcseconds (NaN when unmatched).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    index = np.full(len(ra), -1, np.int64)
    sep_out = np.full(len(ra), np.nan)
    ok = np.isfinite(ra) & np.isfinite(dec)
    cat_ok = np.flatnonzero(np.isfinite(cat_ra) & np.isfinite(cat_dec))
    if not ok.any() or len(cat_ok) == 0:
        return index, sep_out
    images = SkyCoord(ra[ok] * u.deg, dec[ok] * u.deg)
    sources = SkyCoord(np.asarray(cat_ra, float)[cat_ok] * u.deg, np.asarray(cat_dec, float)[cat_ok] * u.deg)
    if len(cat_ok) == 1:  # match_to_catalog_sky needs a catalogue of at least two
        sep = images.separation(sources[0]).arcsec
        idx = np.zeros(len(sep), np.int64)
    else:
        idx, sep2d, _ = images.match_to_catalog_sky(sources)
        sep = sep2d.arcsec
    hit = sep <= radius_arcsec
    rows = np.flatnonzero(ok)
    index[rows[hit]] = cat_ok[np.asarray(idx)[hit]]
    sep_out[rows[hit]] = sep[hit]
    return index, sep_out


def joined_columns(catalog: Catalog, index: np.ndarray, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Numeric catalogue columns in image order (NaN where an image has no match)."""
    out: dict[str, np.ndarray] = {}
    index = np.asarray(index, np.int64)
    for name in names if names is not None else catalog.numeric_columns():
        values = catalog.numeric(name)
        col = np.full(len(index), np.nan)
        col[index >= 0] = values[index[index >= 0]]
        out[name] = col
    return out


def sky_columns(paths: Sequence[str]) -> dict[str, np.ndarray]:
    """``ra`` and ``dec`` of every image's centre when any FITS image has a celestial WCS, else nothing."""
    if any(str(p).lower().endswith(FITS_SUFFIXES) for p in paths):
        sky = sky_positions(paths)
        if np.isfinite(sky).any():
            return {"ra": sky[:, 0], "dec": sky[:, 1]}
    return {}
