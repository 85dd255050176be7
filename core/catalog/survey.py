"""Catalogues at survey scale: a partitioned Parquet dataset, and HATS for LSDB (issue 22).

A million-row catalogue is one CSV of a few hundred MB that a notebook reads
whole.  Above :data:`PARTITION_ROWS` rows a Parquet export (and any export with
``--format parquet-dataset``) is a *folder* of Parquet files instead
(:func:`write_parquet_dataset`):

* the rows are sorted by cluster (stably, so within a cluster they keep the
  catalogue's order) and cut into files of at most :data:`PARTITION_ROWS` rows,
  ``part-00000.parquet``, ...; a file never mixes clusters, so a reader that
  wants one cluster opens only its files, and each file's statistics let
  ``pyarrow.dataset`` skip the others;
* every file is written by astropy from the same table as the single-file
  formats (:func:`core.catalog.tables.catalogue_table`), so the columns, units,
  UCDs, descriptions, string ids and the run record are those of
  ``--format parquet``; ``_common_metadata`` (the schema) and ``_metadata``
  (the schema and every row group) let pyarrow, pandas and Dask read the folder
  as one table without opening every file.

With ``--format hats`` the catalogue is written as a HATS catalogue
(:func:`write_hats`: HEALPix-partitioned Parquet with its ``properties`` and
coverage map), which `LSDB <https://docs.lsdb.io>`_ opens with
``lsdb.read_hats`` and cross-matches against Gaia, DES, ZTF or any other HATS
catalogue.  It needs a sky position for every galaxy: ``ra``/``dec`` (images
with a celestial FITS WCS) or a joined catalogue's RA/Dec columns; without them
it stops with :class:`NoSkyPositions` and says how to get them.  HATS writing
goes through ``lsdb.from_dataframe(...).to_hats`` (in process, no Dask cluster
needed; the ``hats`` package writes the files), installed by the optional
``survey`` extra, and imported only when this format is chosen.

Both are written atomically as folders (:func:`replace_folder`): into a
temporary folder beside the target, each file fsynced, then renamed into
place, the previous folder removed only after.  The sidecar (``<name>.json``
beside the folder, e.g. ``catalogue.hats.json``) names the folder's digest (:func:`folder_sha256`: SHA-256
over each file's relative path and SHA-256).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.catalog.export import CatalogueRow

#: Rows per file of a partitioned dataset, and the size above which ``parquet`` writes one.
PARTITION_ROWS = 100_000
#: Sky position columns HATS can partition by, in order of preference (a joined catalogue's as ``cat_*``).
SKY_COLUMNS = (("ra", "dec"), ("cat_ra", "cat_dec"), ("cat_RA", "cat_DEC"), ("cat_RA", "cat_Dec"),
               ("cat_raj2000", "cat_dej2000"), ("cat_RAJ2000", "cat_DEJ2000"))


#: What to write when HATS cannot be: said in the app's words and the CLI's (the app's users read the CLI's
#: ``--format parquet-dataset`` alone, and 'export only the galaxies with positions', which neither can do).
_INSTEAD = ("write a partitioned Parquet folder instead (File > Export Catalogue (partitioned Parquet folder) in the "
            "app, --format parquet-dataset in the CLI)")


class NoSkyPositions(ValueError):
    """HATS was asked for, but some galaxies (or all) have no sky position."""

    hint = ("HATS sorts galaxies by sky position (ra/dec). Open FITS images whose headers carry a celestial "
            "WCS (each image's centre gives its ra/dec), or join a catalogue with RA/Dec columns "
            "(Catalogue > Join a catalogue); otherwise export Parquet instead.")


class MissingPackage(ValueError):
    """An optional package a format needs is not installed (the message says which extra brings it)."""

    hint = "Install the package the message names, or export another format (CSV, Parquet, FITS, VOTable)."


def folder_sha256(folder: str | os.PathLike[str]) -> str:
    """SHA-256 of a folder's content: each file's relative POSIX path and SHA-256, in sorted order."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{h.hexdigest()}\n".encode())
    return digest.hexdigest()


def _fsync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder`` (so the rename publishes complete files)."""
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)) + [folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:  # a file system that cannot fsync a folder
            pass
        finally:
            os.close(fd)


def replace_folder(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write a folder atomically: ``write(tmp)`` fills a fresh temporary folder, which then replaces ``path``.

    A failure (a full disk, a missing package, no sky positions) removes the
    temporary folder and leaves ``path`` as it was.  A previous folder at
    ``path`` is renamed aside, the new one renamed in, then the old one removed.
    A file (not a folder) at ``path`` is refused: it is not a catalogue folder of ours.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} is a file; a partitioned catalogue is a folder: choose another name")
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = path.with_name(f".{path.name}.export-{token}")
    old = path.with_name(f".{path.name}.old-{token}")
    try:
        tmp.mkdir()
        write(tmp)
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.is_dir():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _by_cluster(rows: Sequence[CatalogueRow]) -> list[CatalogueRow]:
    """The rows sorted by cluster, stably (each cluster keeps the catalogue's order)."""
    order = np.argsort(np.array([r.cluster for r in rows], np.int64), kind="stable")
    return [rows[i] for i in order]


def write_parquet_dataset(rows: Sequence[CatalogueRow], folder: str | os.PathLike[str],
                          record: Mapping[str, object] | None = None, rows_per_file: int | None = None) -> Path:
    """Write the catalogue as a folder of Parquet files, at most ``rows_per_file`` rows each, one cluster a file.

    Parameters
    ----------
    rows : sequence of CatalogueRow
        The catalogue (:func:`core.catalog.export.catalogue_rows`).
    folder : path-like
        The dataset's folder (replaced atomically; see :func:`replace_folder`).
    record : mapping, optional
        The run record, kept in every file's metadata as in ``--format parquet``.
    rows_per_file : int, optional
        The largest file (default :data:`PARTITION_ROWS`).

    Returns
    -------
    pathlib.Path
        ``folder``.  Read it back with ``pyarrow.dataset.dataset(folder)``,
        ``pandas.read_parquet(folder)`` or astropy per file.
    """
    import pyarrow.parquet as pq

    from core.catalog.tables import catalogue_table, write_parquet

    rows_per_file = rows_per_file or PARTITION_ROWS
    ordered = _by_cluster(rows)
    table = catalogue_table(ordered, record)
    clusters = np.asarray(table["cluster"], np.int64)
    starts = [0] + [int(i) + 1 for i in np.flatnonzero(np.diff(clusters))] + [len(clusters)]
    pieces = [(s, min(s + rows_per_file, b)) for a, b in zip(starts[:-1], starts[1:])
              for s in range(a, b, rows_per_file)] or [(0, 0)]

    def write(tmp: Path) -> None:
        collected = []
        for n, (a, b) in enumerate(pieces):
            name = f"part-{n:05d}.parquet"
            write_parquet(table[a:b], tmp / name)  # in short conversions: the app's window keeps the GIL
            meta = pq.read_metadata(tmp / name)
            meta.set_file_path(name)
            collected.append(meta)
        schema = pq.read_schema(tmp / "part-00000.parquet")
        pq.write_metadata(schema, tmp / "_common_metadata")
        pq.write_metadata(schema, tmp / "_metadata", metadata_collector=collected)

    return replace_folder(folder, write)


def sky_columns_of(names: Sequence[str]) -> tuple[str, str] | None:
    """The (RA, Dec) column pair a catalogue with columns ``names`` offers, or None."""
    present = set(names)
    for ra, dec in SKY_COLUMNS:
        if ra in present and dec in present:
            return ra, dec
    lower = {n.lower(): n for n in names}  # a joined catalogue's own spelling
    for ra, dec in (("cat_ra", "cat_dec"), ("cat_raj2000", "cat_dej2000")):
        if ra in lower and dec in lower:
            return lower[ra], lower[dec]
    return None


def write_hats(rows: Sequence[CatalogueRow], folder: str | os.PathLike[str],
               record: Mapping[str, object] | None = None) -> Path:
    """Write the catalogue as a HATS catalogue (LSDB's format), partitioned on the sky by HEALPix.

    Raises
    ------
    NoSkyPositions
        No RA/Dec columns, or some galaxies without a position (NaN).
    MissingPackage
        ``lsdb`` / ``hats`` are not installed (the ``survey`` extra).
    """
    from core.catalog.tables import catalogue_table

    table = catalogue_table(list(rows), record)
    pair = sky_columns_of(list(table.colnames))
    if pair is None:
        raise NoSkyPositions(
            "HATS partitions a catalogue by sky position, and these galaxies have none: open FITS images "
            "with a celestial WCS (their centres give ra/dec), or join a catalogue with RA/Dec columns "
            f"(Catalogue > Join a catalogue in the app, --join CATALOGUE in the CLI); otherwise {_INSTEAD}")
    ra, dec = (np.asarray(table[c], np.float64) for c in pair)
    missing = int((~(np.isfinite(ra) & np.isfinite(dec))).sum())
    if missing:
        raise NoSkyPositions(
            f"HATS needs a sky position for every galaxy; {missing} of {len(ra)} have no {pair[0]}/{pair[1]} "
            f"(images without a WCS, or unmatched in the joined catalogue): {_INSTEAD}, or move the images "
            f"without a position out of the folder")
    try:
        import lsdb
    except ImportError as exc:
        raise MissingPackage("--format hats needs LSDB and HATS: pip install 'galaxy-sorter[survey]'") from exc
    frame = table.to_pandas(index=False)
    name = Path(folder).name.removesuffix(".hats") or "galaxy_sorter"

    def write(tmp: Path) -> None:
        catalog = lsdb.from_dataframe(frame, ra_column=pair[0], dec_column=pair[1],
                                      partition_rows=PARTITION_ROWS)
        catalog.write_catalog(tmp, catalog_name=name, progress_bar=False, overwrite=True,
                              addl_hats_properties={"obs_title": "Galaxy Sorter catalogue"})

    return replace_folder(folder, write)


def column_record(names: Sequence[str], join: Mapping[str, object] | None = None,
                  rows: Sequence[CatalogueRow] = ()) -> dict[str, dict[str, str]]:
    """Unit, UCD and description of each column, for the sidecar of a folder (HATS files do not keep UCDs).

    ``join`` (the join's record) and ``rows`` give a sky join's RA/Dec columns
    theirs, as in the table formats (:func:`core.catalog.tables.column_meta`).
    """
    from core.catalog.tables import column_meta, sky_key_columns

    keys = sky_key_columns(join)
    text = {n for n in keys if any(isinstance(r.extra.get(n), str) for r in rows)}
    out = {}
    for name in names:
        unit, ucd, description = column_meta(name, join, name in text)
        out[name] = {k: v for k, v in (("unit", unit), ("ucd", ucd), ("description", description)) if v}
    return out
