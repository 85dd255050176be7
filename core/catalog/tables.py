"""Catalogues as ``astropy.table.Table``: FITS binary table, VOTable, ECSV and Parquet.

The CSV writer of :mod:`core.catalog.export` is what a spreadsheet opens; the
writers here are what TOPCAT, Aladin, ds9, glue and a notebook with astropy
open.  One table is built from the catalogue rows (:func:`catalogue_table`)
with a unit, a description and an IVOA UCD on every column it knows
(``meta.id;meta.main`` for the id, ``pos.eq.ra;meta.main`` for RA,
``src.morph.type`` for the label, ``stat.probability`` for a class
probability), and the run record of the sidecar in the table's metadata
(``run_record``, JSON text, so every format keeps it the same way: FITS header
cards, a VOTable ``INFO``, ECSV's YAML header, Parquet's key-value metadata).
Then ``Table.write`` writes it, atomically (temporary file in the same folder,
then rename), so an interrupted export never leaves half a file.  FITS holds
only ASCII text, so its text columns are written as UTF-8 bytes and its header
cards escaped (:func:`fits_ready`): a folder ``/home/José`` no longer stops a FITS export.

A FITS catalogue is named like an image: :func:`refuse_inside_image_folder`
keeps catalogues whose suffix the scanner reads out of the image folder, and
:func:`core.images.io.is_catalogue_fits` lets the scanner skip one that was put there
anyway (its header says ``ORIGIN = 'Galaxy Sorter'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.paths import printable

if TYPE_CHECKING:
    from astropy.table import Table

    from core.catalog.export import CatalogueRow

#: The metadata key that holds the run record (JSON text) in every format.
RUN_RECORD_KEY = "run_record"
#: ``meta["origin"]``, the ORIGIN card of a FITS catalogue, which the scanner looks for.
ORIGIN = "Galaxy Sorter"

#: Column -> (unit, UCD, description) for the columns the catalogue always or often has.
COLUMN_META: dict[str, tuple[str | None, str, str]] = {
    "path": (None, "meta.ref.url", "image file the row describes"),
    "id": (None, "meta.id;meta.main", "image id: the file name without its extension (of band files, the base name)"),
    "cluster": (None, "meta.code.class", "cluster the image was assigned to (-1: noise)"),
    "cluster_name": (None, "meta.code.class", "name given to the cluster"),
    "label": (None, "src.morph.type", "morphology label: the user's where given, else the cluster's name"),
    "label_source": (None, "meta.code", "who gave the label: user or model"),
    "confidence": (None, "stat.probability", "probability of the assigned cluster (soft assignment)"),
    "x": (None, "pos.cartesian.x", "map coordinate x (2-D projection of the features)"),
    "y": (None, "pos.cartesian.y", "map coordinate y (2-D projection of the features)"),
    "ra": ("deg", "pos.eq.ra;meta.main", "right ascension of the image centre (FITS WCS), ICRS"),
    "dec": ("deg", "pos.eq.dec;meta.main", "declination of the image centre (FITS WCS), ICRS"),
    "concentration": (None, "phys.size;arith.ratio", "concentration C = 5 log10(r80/r20)"),
    "asymmetry": (None, "src.morph.param", "rotational asymmetry A"),
    "gini": (None, "src.morph.param", "Gini coefficient of the pixel fluxes"),
    "m20": (None, "src.morph.param", "M20: second moment of the brightest 20% of the flux"),
    "ellipticity": (None, "src.ellipticity", "ellipticity 1 - b/a"),
    "colour": (None, "phot.color", "colour index from the image bands"),
}
#: Rows converted per call while a table is built or written as Parquet. Each conversion (numpy's list to
#: text array, pyarrow's numpy text to Arrow) holds the GIL for its whole length; the app writes catalogues
#: on a worker thread while its window needs the GIL every few ms (the house budget: no stall over 100 ms).
CHUNK_ROWS = 8_192
#: Prefixes of per-class probability columns (one per class, added by the row builder).
PROBABILITY_PREFIXES = ("p_", "prob_", "proba_")


def sky_key_columns(join: Mapping[str, object] | None) -> dict[str, str]:
    """The exported names of a sky join's key columns: ``cat_<ra_column>`` -> ``"RA"``, ``cat_<dec_column>`` -> ``"Dec"``.

    ``join`` is the join's record (:meth:`core.catalog.join.Join.record`, the
    sidecar's ``join``); empty for a join by id, or no join.
    """
    if not join or join.get("by") != "sky":
        return {}
    return {f"cat_{join[key]}": what for key, what in (("ra_column", "RA"), ("dec_column", "Dec")) if join.get(key)}


def column_meta(name: str, join: Mapping[str, object] | None = None, text: bool = False) -> tuple[str | None, str, str]:
    """Unit, UCD and description of a catalogue column (joined ``cat_*`` columns say where they came from).

    Parameters
    ----------
    name : str
        The exported column.
    join : mapping, optional
        The join's record (:meth:`core.catalog.join.Join.record`).  The RA and Dec
        columns a sky join matched on are positions in degrees (numbers are read
        as degrees there, :func:`core.catalog.join.catalogue_angles`): unit ``deg``
        and UCD ``pos.eq.ra`` / ``pos.eq.dec``, so TOPCAT and Aladin find them.  Not
        ``meta.main``: the image centre (``ra``, ``dec``) is the table's main position.
    text : bool
        The column is text (a catalogue that gave sexagesimal ``10:00:00``): it is
        exported as the catalogue wrote it, without a unit or UCD, which would
        tell a reader to take the text as a number of degrees.
    """
    if name in COLUMN_META:
        return COLUMN_META[name]
    if name.startswith(PROBABILITY_PREFIXES):
        return None, "stat.probability", f"probability of class {name.split('_', 1)[1]}"
    what = sky_key_columns(join).get(name)
    if what is not None:
        said = (f"{'right ascension' if what == 'RA' else 'declination'} of the joined catalogue's source "
                f"(its column {name[4:]}), the position the sky join matched the image centre to")
        if text:
            return None, "", f"{said}: text as the catalogue wrote it (sexagesimal)"
        return "deg", "pos.eq.ra" if what == "RA" else "pos.eq.dec", f"{said}, ICRS"
    if name.startswith("cat_"):
        return None, "", f"column {name[4:]} of the joined catalogue"
    return None, "", ""


def _rows_as_columns(rows: Sequence[CatalogueRow]) -> dict[str, list[object]]:
    """The catalogue's columns in the CSV's order: standard ones, ``extra`` in first-seen order, morphology."""
    from core.catalog.export import COLUMNS, _morphology_columns

    extra: dict[str, None] = {}
    for r in rows:
        extra.update(dict.fromkeys(r.extra))
    morph = _morphology_columns(list(rows))
    cols: dict[str, list[object]] = {name: [getattr(r, name) for r in rows] for name in COLUMNS}
    for name in extra:
        cols[name] = [r.extra.get(name, float("nan")) for r in rows]
    for j, name in enumerate(morph):
        cols[name] = [r.morphology[j] if len(r.morphology) > j else float("nan") for r in rows]
    return cols


def _as_array(values: list[object]) -> np.ndarray:
    """Text stays text (an 18-digit SDSS objid is never turned into a float); numbers become float64 or int64.

    Text is converted :data:`CHUNK_ROWS` cells at a time into an array as wide as
    the longest text (the dtype ``np.array(cells, dtype=str)`` gives): numpy
    converts a list of strings in one call that holds the GIL (tens of ms at
    10^5 rows, more when the machine is busy), which the app's window, waiting on
    the GIL while an export job runs, would feel.
    """
    if any(isinstance(v, str) for v in values):
        cells = ["" if v is None or (isinstance(v, float) and v != v) else printable(str(v)) for v in values]
        out = np.empty(len(cells), dtype=f"<U{max(1, max(map(len, cells), default=0))}")
        for a in range(0, len(cells), CHUNK_ROWS):
            out[a:a + CHUNK_ROWS] = cells[a:a + CHUNK_ROWS]
        return out
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    return arr.astype(np.float64)


def catalogue_table(rows: Sequence[CatalogueRow], record: Mapping[str, object] | None = None) -> Table:
    """The catalogue as an astropy ``Table`` with units, descriptions and UCDs; the run record in ``meta``.

    Parameters
    ----------
    rows : sequence of CatalogueRow
        One row per image (:func:`core.catalog.export.catalogue_rows`).
    record : mapping, optional
        The sidecar's run record; kept as JSON text under ``meta["run_record"]``.  Its ``join``
        (a sky join's RA/Dec columns) gives those columns their unit and UCD (:func:`column_meta`).

    Returns
    -------
    astropy.table.Table
        Floats keep NaN where a value is missing (written as NULL/NaN by each format).
    """
    from astropy.table import Table

    from core import __version__

    table = Table()
    join = record.get("join") if record is not None and isinstance(record.get("join"), Mapping) else None
    for name, values in _rows_as_columns(rows).items():
        table.add_column(_as_array(values) if values else np.array([], dtype=str if name in ("path", "id") else float),
                         name=name, copy=False)  # the array is ours: no second copy (one long GIL hold) of it
        unit, ucd, description = column_meta(name, join, table[name].dtype.kind in "US")
        if unit:
            table[name].unit = unit
        if ucd:
            table[name].meta["ucd"] = ucd
        if description:
            table[name].description = description
    table.meta["origin"] = ORIGIN
    table.meta["galaxy_sorter_version"] = __version__
    if record is not None:
        run = record.get("run") if isinstance(record.get("run"), Mapping) else {}
        table.meta["run_id"] = int(run.get("id", -1)) if run else -1
        table.meta["method"] = str(record.get("method", ""))
        table.meta[RUN_RECORD_KEY] = json.dumps(record, default=str, sort_keys=True)
    return table


def _atomic(path: Path, write: object) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{''.join(path.suffixes)}")
    try:
        write(tmp)  # type: ignore[operator]
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_votable(table: Table, path: Path) -> None:
    """VOTable 1.4 with the UCDs on the fields and the run record as table ``INFO`` elements.

    ``Table.write(format="votable")`` drops ``meta``; the record is what makes the file reproducible.
    The fields come from the table's columns with no rows (``from_table`` reads their dtypes, units and
    UCDs, never their values) and the rows follow as astropy would give them, copied into the VOTable's
    array in pieces (:func:`core.pieces.table_as_array`): astropy's one copy of each column held the
    interpreter lock for 170 ms at 200,000 galaxies, and the window froze while the export job ran.
    """
    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Info
    from numpy import ma

    from core.pieces import table_as_array

    if table.mask is not None:  # masked columns (never the catalogue's): astropy's own copy, mask and all
        votable = from_table(table)
    else:
        votable = from_table(table[:0])
        votable.get_first_table().array = ma.array(table_as_array(table))
    vt = votable.get_first_table()
    vt.name = "galaxy_sorter_catalogue"
    vt.description = "Galaxy Sorter catalogue: one row per image, its cluster and label"
    for key, value in table.meta.items():
        vt.infos.append(Info(name=str(key), value=str(value)))
    votable.to_xml(str(path))


#: The FITS header card that says how text columns are encoded (FITS itself allows only ASCII there).
TEXT_ENCODING_CARD = ("TXTENC", "UTF-8")
#: The COMMENT card that explains it.
TEXT_ENCODING_COMMENT = "TXTENC: text columns are UTF-8 bytes (FITS standard: ASCII)"


def _ascii(text: str) -> str:
    """``text`` as printable ASCII for a FITS card: other characters as Python escapes (``ü`` -> ``\\xfc``)."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _utf8_column(values: np.ndarray) -> np.ndarray:
    """A text column as UTF-8 bytes (``S`` dtype, as wide as its longest encoded cell), :data:`CHUNK_ROWS` at a time.

    Chunked as :func:`_as_array` is: one ``np.char.encode`` over 10^5 cells holds the GIL for tens of ms.
    """
    chunks = [np.char.encode(values[a:a + CHUNK_ROWS], "utf-8") for a in range(0, len(values), CHUNK_ROWS)]
    out = np.empty(len(values), dtype=f"S{max([c.dtype.itemsize for c in chunks] + [1])}")
    for a, chunk in zip(range(0, len(values), CHUNK_ROWS), chunks):
        out[a:a + len(chunk)] = chunk
    return out


#: Hex digits of the SHA-256 of its full name that end a column name cut to fit a FITS card.
FITS_NAME_DIGEST = 8


def _fits_card_holds(name: str) -> bool:
    """Whether ``name`` fits one ``TTYPEn`` card (68 characters, a quote counting twice), as astropy demands."""
    from astropy.io.fits import Card

    return len(str(Card("TTYPE999", name))) == 80


def fits_column_name(name: str, taken: set[str]) -> str:
    """``name`` when a FITS card holds it, else its head and the first hex digits of its SHA-256 (``cat_long…_1a2b3c4d``).

    A FITS column name must fit one header card (``TTYPEn``, at most 68
    characters) and astropy refuses a longer one (an ``AssertionError``); a
    joined catalogue's column may be named at any length.  The digest keeps two
    long names that begin alike apart, and is the same on every export of the
    same name; ``taken`` (the names already in the table) is never given again.
    """
    if _fits_card_holds(name):
        return name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    for width in (FITS_NAME_DIGEST, 16, len(digest)):
        tail = f"_{digest[:width]}"
        head = name[:68 - len(tail)]
        while head and not _fits_card_holds(head + tail):
            head = head[:-1]
        if head + tail not in taken:
            return head + tail
    raise ValueError(f"no FITS name left for column {name!r}")  # 64 hex digits taken: not a real table


def fits_ready(table: Table) -> Table:
    """A shallow copy of ``table`` that FITS can hold: UTF-8 text columns, ASCII names and header values.

    FITS allows only ASCII in character columns and header cards, and astropy
    refuses anything else (``UnicodeEncodeError`` for a folder ``Müller``, a file
    ``galaxie_α.png`` or a class ``Spirale à barre``; a ``ValueError`` for a joined
    column ``cat_größe``).  What is chosen here, so that such a catalogue is written:

    * text columns are written as their UTF-8 bytes (ASCII text is unchanged,
      byte for byte), and the header says so (:data:`TEXT_ENCODING_CARD`).
      astropy decodes such bytes as UTF-8 (``Table.read`` gives back the same
      strings; ``convert_bytestring_to_unicode`` gives ``str`` columns), and a
      reader that takes the field as ASCII (TOPCAT, fitsio) keeps every ASCII
      character and shows only the others' bytes oddly;
    * column names and header values (the run record is JSON, whose non-ASCII
      characters are already ``\\uXXXX`` escapes that ``json.loads`` reverses)
      that are not ASCII are written with Python's backslash escapes
      (``cat_gr\\xf6\\xdfe``); the other formats keep them as they are;
    * a column name too long for a FITS card (68 characters; a joined
      catalogue's column may be longer) is cut, with a digest that keeps it
      unique (:func:`fits_column_name`); the full name starts the column's
      description (which ``Table.read`` gives back) and a ``COMMENT`` card says
      ``column <short> is <full name>``, for any FITS reader.  The other formats
      keep the full name.
    """
    from astropy.table import Column

    out = table.copy(copy_data=False)
    for name in out.colnames:
        if out[name].dtype.kind == "U":
            col = table[name]
            out.replace_column(name, Column(_utf8_column(col.data), name=name, unit=col.unit, description=col.description,
                                            meta=col.meta, copy=False), copy=False)
        if not name.isascii():
            out.rename_column(name, _ascii(name))
    long_names = []
    for name in out.colnames:
        short = fits_column_name(name, set(out.colnames))
        if short != name:
            col = out[name]
            col.description = f"full name {name}" + (f": {col.description}" if col.description else "")
            out.rename_column(name, short)
            long_names.append(f"column {short} is {name}")
    for key, value in list(out.meta.items()):
        if isinstance(value, str) and not value.isascii():
            out.meta[key] = _ascii(value)
    out.meta[TEXT_ENCODING_CARD[0]] = TEXT_ENCODING_CARD[1]
    out.meta["comments"] = [*out.meta.get("comments", []), TEXT_ENCODING_COMMENT, *long_names]
    return out


def _write_fits(table: Table, path: Path) -> None:
    """FITS binary table (:func:`fits_ready`: UTF-8 text, ASCII cards); long meta keys become HIERARCH cards."""
    import warnings

    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # the HIERARCH notice, once per long key: expected here
        fits_ready(table).write(path, format="fits", overwrite=True)


def write_parquet(table: Table, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` as the Parquet file astropy writes, its rows converted :data:`CHUNK_ROWS` at a time.

    ``Table.write(format="parquet")`` converts each column to Arrow in one call
    that holds the GIL: a text column of 100,000 rows held it for 100-200 ms, and
    the app's window froze that long while the export job ran (issue 22).  Here
    astropy writes the table without its rows (the schema, and its metadata:
    units, UCDs, descriptions, string lengths and the run record, all of which
    depend on the columns' dtypes, never on the rows), and the rows follow in
    slices of :data:`CHUNK_ROWS`, each a short conversion, written as one row
    group (as astropy writes it) by pyarrow, which releases the GIL while it
    encodes.  ``Table.read`` reads back the same table.  A table astropy
    serialises otherwise (mixins such as ``Time``, masked, multidimensional or
    object columns) is written by astropy itself, as before.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table[:0].write(path, format="parquet", overwrite=True)
    schema = pq.read_schema(path)
    plain = not table.has_masked_columns and all(table[c].ndim == 1 and table[c].dtype.kind in "biufUS"
                                                 for c in table.colnames)
    if not plain or list(schema.names) != list(table.colnames) or len(table) == 0:
        table.write(path, format="parquet", overwrite=True)
        return path
    columns = []
    for name, field in zip(schema.names, schema):
        data = table[name].data
        data = data.astype(data.dtype.newbyteorder("<"), copy=False)  # Parquet is little-endian, as astropy does
        columns.append(pa.chunked_array([pa.array(data[a:a + CHUNK_ROWS], type=field.type)
                                         for a in range(0, len(data), CHUNK_ROWS)], type=field.type))
    with pq.ParquetWriter(path, schema, version="2.4") as writer:
        writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=len(table))
    return path


def write_table(rows: Sequence[CatalogueRow], path: str | os.PathLike[str], fmt: str,
                record: Mapping[str, object] | None = None) -> Path:
    """Write the rows as an astropy table in ``fmt`` (``fits``, ``votable``, ``ascii.ecsv``, ``parquet``)."""
    path = Path(path)
    table = catalogue_table(rows, record)
    if fmt == "votable":
        return _atomic(path, lambda tmp: _write_votable(table, tmp))
    if fmt == "fits":
        return _atomic(path, lambda tmp: _write_fits(table, tmp))
    if fmt == "parquet":
        return _atomic(path, lambda tmp: write_parquet(table, tmp))
    return _atomic(path, lambda tmp: table.write(tmp, format=fmt, overwrite=True))


def read_run_record(path: str | os.PathLike[str]) -> dict[str, object] | None:
    """The run record kept in a catalogue written here (any of the table formats), or None."""
    from astropy.table import Table

    path = Path(path)
    if path.suffix.lower() in (".vot", ".xml", ".votable"):
        from astropy.io.votable import parse

        infos = {i.name: i.value for i in parse(str(path)).get_first_table().infos}
        text = infos.get(RUN_RECORD_KEY)
    else:
        meta = {str(k).lower(): v for k, v in Table.read(path).meta.items()}
        text = meta.get(RUN_RECORD_KEY)
    return json.loads(text) if text else None


class CatalogueInImageFolder(ValueError):
    """A catalogue whose suffix the scanner reads as an image was about to be written inside the image folder."""

    hint = ("Choose a folder outside the image folder: the next scan would read this catalogue's FITS "
            "files as galaxies.")


def refuse_inside_image_folder(path: str | os.PathLike[str], folder: str | os.PathLike[str] | None,
                               always: bool = False) -> None:
    """Raise :class:`CatalogueInImageFolder` when ``path`` would be scanned as an image of ``folder``.

    A ``.fits`` catalogue in the image folder (or below it) would be read by the
    next scan as one more galaxy, fail or, worse, be clustered.  ``always``: the
    catalogue is a folder holding such files (HATS keeps FITS sky maps), whatever its name.
    """
    from core.images.io import is_image_name

    if folder is None or not (always or is_image_name(Path(path).name)):
        return
    target, root = Path(path).resolve().parent, Path(folder).resolve()
    if target == root or root in target.parents:
        raise CatalogueInImageFolder(
            f"{Path(path).name} would be read as an image by the next scan of {root}; "
            f"write it outside the image folder (for example in {root.parent})")
