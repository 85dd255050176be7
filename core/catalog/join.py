"""Sky coordinates of the images and external catalogues joined to the project.

* :func:`wcs_centre` reads a FITS header's world coordinate system
  (``astropy.wcs``) and returns the RA and Dec of the image centre;
  :func:`sky_positions` does it for a whole project (NaN where a file has no
  celestial WCS, or is not FITS).
* :func:`load_catalog` reads a CSV catalogue (an id column and/or RA/Dec
  columns plus any others); :func:`join_by_id` and :func:`join_by_sky` find,
  for every image, its catalogue row (``-1`` when none), the latter with
  ``SkyCoord.match_to_catalog_sky`` inside a radius;
  (:func:`core.catalog.positions.sky_rows` reads the catalogue's RA/Dec and
  skips, naming them, the rows without a usable position);
  :func:`joined_columns` returns the numeric columns in project order, NaN
  where unmatched, to colour the map or be exported beside the labels (the
  TOPCAT habit of joining by position).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.catalog.bounded import csv_rows, object_array
from core.catalog.positions import row_place, skipped_note, sky_rows
from core.catalog.shared import shared_note, shared_rows
from core.catalog.sky import sky_positions, wcs_centre  # noqa: F401 (where callers import them from)
from core.images.io import FITS_SUFFIXES

RA_NAMES = ("ra", "ra_deg", "raj2000", "ra_j2000", "alpha")
DEC_NAMES = ("dec", "dec_deg", "dej2000", "decj2000", "dec_j2000", "delta")
ID_NAMES = ("id", "galaxyid", "objid", "name", "object_id", "image_id")
#: Cells that say "no value" (lower case, after stripping): empty, as TOPCAT and pandas write it; ``nan`` as
#: numpy and pandas write it; ``NA`` and ``N/A`` (R, spreadsheets) and ``null`` (databases).  A numeric
#: column keeps them as NaN; ``inf`` and ``-inf`` are numbers (``float`` reads them), not missing.
MISSING_CELLS = frozenset({"", "nan", "+nan", "-nan", "na", "n/a", "null"})
#: The project store setting that keeps a join (:func:`join_to_setting`), read back on reopen.
JOIN_SETTING = "catalog/join"


@dataclass
class Catalog:
    """A table read from CSV: column name -> values (text as read).

    :func:`load_catalog` keeps the columns and lines in numpy arrays, which the
    garbage collector never visits (:func:`core.catalog.bounded.object_array`).
    """

    path: Path
    columns: dict[str, Sequence[str]] = field(default_factory=dict)
    #: The file line each row starts on (to name a bad cell's line); empty when not read from a file.
    lines: Sequence[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def find(self, names: Sequence[str]) -> str | None:
        """The first column whose lower-case name is in ``names``."""
        for c in self.columns:
            if c.strip().lower() in names:
                return c
        return None

    @staticmethod
    def is_missing(cell: str) -> bool:
        """Whether a cell says there is no value: empty, ``nan``, ``NA``, ``N/A``, ``null`` (:data:`MISSING_CELLS`)."""
        return cell.strip().lower() in MISSING_CELLS

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as float64: NaN where a cell is missing or not a number, ``inf``/``-inf`` as infinities."""
        out = np.full(len(self), np.nan)
        for i, v in enumerate(self.columns[name]):
            try:
                out[i] = float(v)
            except ValueError:
                pass
        return out

    def is_identifier(self, name: str) -> bool:
        """Whether a column holds identifiers, kept as text.

        An id-like name (:data:`ID_NAMES`), or whole numbers a float64 cannot
        hold digit for digit (beyond 2**53): an 18-digit SDSS objid read as a
        number becomes ``5.877229839e+17``, another galaxy's id.
        """
        if name.strip().lower() in ID_NAMES:
            return True
        return any(len(v.strip().lstrip("+-")) > 15 and v.strip().lstrip("+-").isdigit() for v in self.columns[name])

    def numeric_columns(self) -> list[str]:
        """Columns whose cells are all numbers (at least one) or missing (:meth:`is_missing`), identifiers excepted.

        ``nan``, ``NaN``, ``inf`` and ``-inf`` are what numpy and pandas write for
        a float that is not a number or is infinite: such a cell leaves a column of
        magnitudes numeric, which then colours the map and is a float in the export.
        """
        names = []
        for name, values in self.columns.items():
            cells = sum(not self.is_missing(v) for v in values)
            if cells and (~np.isnan(self.numeric(name))).sum() == cells and not self.is_identifier(name):
                names.append(name)
        return names

    def text_columns(self) -> list[str]:
        """Columns that are not numeric: identifiers (as written) and classes or names."""
        numeric = set(self.numeric_columns())
        return [name for name in self.columns if name not in numeric]


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read a CSV catalogue with a header row; raises ``ValueError`` naming the file (and line) when it cannot.

    The reading is bounded (:func:`core.catalog.bounded.bounded_lines`): a device,
    a pipe or a huge file is refused with a ``ValueError`` that says so.  It is
    strict, as a truth file's (:func:`core.catalog.bounded.csv_rows`): an unclosed
    quote, which Python's reader takes as one cell running over every line after
    it (ten rows read as one), is refused with its line, as is a file with no rows.
    """
    header, numbered = csv_rows(path)
    cells: list[list[str]] = [[] for _ in header]
    lines = []
    for n, r in numbered:  # each row made and dropped in turn: no object per row left for the garbage collector
        if any(c.strip() for c in r):
            lines.append(n)
            r.extend([""] * (len(header) - len(r)))
            for column, cell in zip(cells, r):
                column.append(cell.strip())
    if not lines:
        raise ValueError(f"{path} has a header but no rows")
    return Catalog(Path(path), {h: object_array(column) for h, column in zip(header, cells) if h},
                   np.asarray(lines, np.int64))


def catalogue_header(path: str | os.PathLike[str]) -> Catalog:
    """The columns of a CSV catalogue as a :class:`Catalog` of no rows, its header alone read: what the
    join dialog offers at once; the join reads the table whole and strictly (:func:`load_catalog`)."""
    header, _ = csv_rows(path, header_only=True)
    return Catalog(Path(path), {h: [] for h in header if h})


def join_by_id(paths: Sequence[str], catalog: Catalog, id_column: str | None = None) -> np.ndarray:
    """Catalogue row of every image whose id equals the id column, else -1.

    The id is the file name without suffix, a FITS band set's its base name
    (``ngc0`` for ``ngc0_g/_r/_i.fits``: :func:`core.images.ids.image_ids`); a
    catalogue that writes a band set by the file it is listed by (``ngc0_i``)
    matches too, where it has no row of the base name.
    """
    from core.images.ids import id_spellings

    column = id_column or catalog.find(ID_NAMES) or next(iter(catalog.columns))
    where: dict[str, int] = {}
    for i, v in enumerate(catalog.columns[column]):
        where.setdefault(v, i)
    ids, aliases = id_spellings(paths)
    for stem, base in aliases.items():
        if base not in where and stem in where:
            where[base] = where[stem]
    return np.array([where.get(i, -1) for i in ids], np.int64)


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
    cat_ok = np.flatnonzero(np.isfinite(cat_ra) & np.isfinite(cat_dec) & (np.abs(cat_dec) <= 90))  # SkyCoord refuses
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
    """Catalogue columns in image order: numbers as float64 (NaN where an image has no match), the others as text.

    Text columns (identifiers, classes) are object arrays of ``str``, ``""``
    where unmatched; ``names`` defaults to every column, numeric first.
    """
    out: dict[str, np.ndarray] = {}
    index = np.asarray(index, np.int64)
    numeric = set(catalog.numeric_columns())
    for name in names if names is not None else catalog.numeric_columns() + catalog.text_columns():
        hit = index >= 0
        if name in numeric:
            col = np.full(len(index), np.nan)
            col[hit] = catalog.numeric(name)[index[hit]]
        else:
            col = np.full(len(index), "", dtype=object)
            values = catalog.columns[name]
            col[hit] = [values[i] for i in index[hit]]
        out[name] = col
    return out


def sky_columns(paths: Sequence[str]) -> dict[str, np.ndarray]:
    """``ra`` and ``dec`` of every image's centre when any FITS image has a celestial WCS, else nothing."""
    if any(str(p).lower().endswith(FITS_SUFFIXES) for p in paths):
        sky = sky_positions(paths)
        if np.isfinite(sky).any():
            return {"ra": sky[:, 0], "dec": sky[:, 1]}
    return {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, so a sidecar names exactly the catalogue that was joined."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Join:
    """How a catalogue was joined to the project: enough to redo it, and to say so in a sidecar.

    Attributes
    ----------
    catalogue : str
        The catalogue file (absolute path).
    sha256 : str
        Its checksum when joined.
    by : {"id", "sky"}
        Key: image id against ``id_column``, or sky position within ``radius_arcsec``.
    id_column, ra_column, dec_column : str or None
        The catalogue columns used as the key.
    radius_arcsec : float or None
        Largest separation for a sky match.
    columns : list of str
        The catalogue columns taken (exported as ``cat_<name>``).
    matched : int
        Images that found a catalogue row.
    skipped_rows : int
        Catalogue rows a sky join left out, with no usable position (:func:`core.catalog.positions.sky_rows`).
    skipped : list of str
        The first of them, each its line and why.
    shared, shared_examples : int, list of str
        Images given the same catalogue row as another image, and the first groups (:mod:`core.catalog.shared`).
    """

    catalogue: str
    sha256: str
    by: str
    id_column: str | None = None
    ra_column: str | None = None
    dec_column: str | None = None
    radius_arcsec: float | None = None
    columns: list[str] = field(default_factory=list)
    matched: int = 0
    skipped_rows: int = 0
    skipped: list[str] = field(default_factory=list)
    shared: int = 0
    shared_examples: list[str] = field(default_factory=list)

    def note(self) -> str:
        """What to know of the join beyond its count: rows skipped, rows shared by images (empty when neither)."""
        return "; ".join(n for n in (skipped_note(self.skipped_rows, self.skipped),
                                     shared_note(self.shared, self.shared_examples)) if n)

    def record(self) -> dict[str, object]:
        """The sidecar's ``join``: file, checksum, key or radius, columns taken."""
        out: dict[str, object] = {"catalogue": self.catalogue, "sha256": self.sha256, "by": self.by}
        if self.by == "sky":
            out.update(ra_column=self.ra_column, dec_column=self.dec_column, radius_arcsec=self.radius_arcsec,
                       skipped_rows=self.skipped_rows, skipped=list(self.skipped))
        else:
            out["id_column"] = self.id_column
        out.update(columns=list(self.columns), matched=self.matched, shared=self.shared,
                   shared_examples=list(self.shared_examples))
        return out


def join_catalogue(paths: Sequence[str], catalogue: str | os.PathLike[str], by: str = "id", *,
                   id_column: str | None = None, ra_column: str | None = None, dec_column: str | None = None,
                   radius_arcsec: float = 2.0, positions: np.ndarray | None = None
                   ) -> tuple[Join, dict[str, np.ndarray]]:
    """Join a CSV catalogue to images by id or by sky position; returns the join and its ``cat_*`` columns.

    Parameters
    ----------
    paths : sequence of str
        The images, in project order.
    catalogue : path-like
        A CSV catalogue with a header row.
    by : {"id", "sky"}
        Image id (file name without suffix, a band set's base name) against ``id_column`` (found by
        name when None), or the image centre (FITS WCS) against the catalogue's
        RA/Dec within ``radius_arcsec`` (degrees, or sexagesimal:
        :func:`core.catalog.positions.catalogue_angles`); rows without a usable
        position are skipped and told (``Join.skipped_rows``, :meth:`Join.note`).
    positions : ndarray of shape (n_images, 2), optional
        Image centres already read (:func:`sky_positions`), for ``by="sky"``.

    Returns
    -------
    join : Join
    columns : dict
        ``cat_<name>`` -> values in image order: float64 (NaN unmatched) or text (``""`` unmatched).

    Raises
    ------
    NoMatchError
        No image matched (a ``ValueError`` saying why): a join of nothing is
        refused rather than replacing a join that matched with empty columns.
    ValueError
        Unreadable catalogue, unknown key, a column that is missing, no image with a sky position,
        or no catalogue row with one.
    """
    if by not in ("id", "sky"):
        raise ValueError(f"join by 'id' or 'sky', not {by!r}")
    cat = load_catalog(catalogue)
    path = str(Path(catalogue).resolve())
    join = Join(path, file_sha256(catalogue), by)
    if by == "sky":
        ra_column, dec_column = ra_column or cat.find(RA_NAMES), dec_column or cat.find(DEC_NAMES)
        for what, name in (("RA", ra_column), ("Dec", dec_column)):
            if name not in cat.columns:
                raise ValueError(f"{catalogue}: no {what} column ({name or 'none found'}); columns: {', '.join(cat.columns)}")
        pos = sky_positions(paths) if positions is None else np.asarray(positions, float)
        if not np.isfinite(pos).any():
            raise ValueError("no image has sky coordinates (FITS with a WCS); join by id instead")
        rows = sky_rows(cat, ra_column, dec_column)
        cat_ra, cat_dec = rows.ra, rows.dec
        index, _sep = join_by_sky(pos[:, 0], pos[:, 1], cat_ra, cat_dec, radius_arcsec)
        join.ra_column, join.dec_column, join.radius_arcsec = ra_column, dec_column, float(radius_arcsec)
        join.skipped_rows, join.skipped = rows.skipped, rows.examples
    else:
        id_column = id_column or cat.find(ID_NAMES) or next(iter(cat.columns))
        if id_column not in cat.columns:
            raise ValueError(f"{catalogue}: no column named {id_column!r}; columns: {', '.join(cat.columns)}")
        index = join_by_id(paths, cat, id_column)
        join.id_column = id_column
    if not (index >= 0).any():
        raise NoMatchError(_no_match(paths, cat, join, (pos, cat_ra, cat_dec) if by == "sky" else None))
    columns = joined_columns(cat, index)
    join.columns = list(columns)
    join.matched = int((index >= 0).sum())
    join.shared, join.shared_examples = shared_rows(paths, index, lambda row: row_place(cat, row))
    return join, {f"cat_{k}": v for k, v in columns.items()}


class NoMatchError(ValueError):
    """A join that matched no image; the message says why (no id in common, no source within the radius)."""


def _no_match(paths: Sequence[str], cat: Catalog, join: Join,
              sky: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> str:
    """Why a join matched no image, in one line: the ids on both sides, or the nearest source against the radius."""
    name = Path(join.catalogue).name
    if join.by == "id":
        values = [v for v in cat.columns[str(join.id_column)] if v][:3]
        from core.images.ids import image_ids

        ids = image_ids(paths[:3])
        return (f"no image matched {name}: none of the {len(paths)} image ids (such as {', '.join(map(repr, ids))}) "
                f"is in its column {join.id_column!r} (which holds {', '.join(map(repr, values)) or 'nothing'}...); "
                f"pick the column of image ids, or join by sky position")
    pos, cat_ra, cat_dec = sky
    _index, sep = join_by_sky(pos[:, 0], pos[:, 1], cat_ra, cat_dec, np.inf)
    nearest = f"the nearest is {np.nanmin(sep):,.1f} arcsec away" if np.isfinite(sep).any() else "none has a position"
    skipped = f"; {skipped_note(join.skipped_rows, join.skipped)}" if join.skipped_rows else ""
    return (f"no image matched {name}: no source of it lies within {join.radius_arcsec:g} arcsec of an image centre "
            f"({nearest}); widen the radius, or check the RA/Dec columns{skipped}")


def join_to_setting(join: Join, keys: Sequence[str], columns: dict[str, np.ndarray]) -> dict[str, object]:
    """What the project store keeps of a join: the join and each matched image's values, keyed by image key.

    The values are kept (not only the recipe), so a project reopens with its
    join even when the catalogue file has moved or changed since.
    """
    values: dict[str, dict[str, object]] = {}
    for name, col in columns.items():
        kept = {}
        for key, v in zip(keys, col):
            if isinstance(v, str):
                if v != "":
                    kept[key] = v
            elif v == v:
                kept[key] = float(v)
        values[name] = kept
    return {"version": 1, "join": join.record(), "values": values}


def join_from_setting(setting: object, keys: Sequence[str]) -> tuple[Join, dict[str, np.ndarray]] | None:
    """The join and its columns for images ``keys`` from :func:`join_to_setting`'s dict, or None."""
    if not isinstance(setting, dict) or setting.get("version") != 1:
        return None
    rec = dict(setting["join"])
    join = Join(str(rec["catalogue"]), str(rec["sha256"]), str(rec["by"]), rec.get("id_column"),
                rec.get("ra_column"), rec.get("dec_column"), rec.get("radius_arcsec"), list(rec.get("columns", [])),
                int(rec.get("matched", 0)), int(rec.get("skipped_rows", 0)), list(rec.get("skipped", [])),
                int(rec.get("shared", 0)), list(rec.get("shared_examples", [])))
    columns: dict[str, np.ndarray] = {}
    for name, kept in dict(setting["values"]).items():
        if any(isinstance(v, str) for v in kept.values()):
            columns[name] = np.array([kept.get(k, "") for k in keys], dtype=object)
        else:
            columns[name] = np.array([kept.get(k, np.nan) for k in keys], dtype=float)
    return join, columns
