"""Export of a labelled catalogue, with a JSON sidecar for reproducibility.

:func:`export_catalogue` is the one way a catalogue is written, by the app and
the CLI alike: the rows come from the stored run and the store's labels, the
sidecar from the stored run record, and the writer from
:data:`EXPORT_FORMATS` (name -> writer of rows), so both sidecars are the same.

One row per image: path, id, cluster id, cluster name, label and its source
(``user`` or ``model``), confidence, and the 2-D map coordinates; then, when
they were computed (:func:`core.features.morphology.compute_morphology`), the morphology
parameters concentration, asymmetry, gini, m20, ellipticity and colour.  Text cells
that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with a quote, and so is every such
piece after a ``;`` or a tab inside a cell (``a;=1+1;.jpg`` is written
``"a;'=1+1;.jpg"``: a spreadsheet in a locale whose separator is ``;`` splits
the line there); a cell holding ``;`` or a tab is also written in double
quotes (:func:`neutralise`, :func:`csv_line`); numbers are written as numbers.

The two files change together (:func:`write_pair`): both are written to
temporary names and fsynced, a journal naming them is fsynced, then the sidecar
and the CSV are renamed into place and the journal removed.  A kill between
the two renames leaves the journal, and the next export (or
:func:`recover_export`) finishes the renames first, so the pair on disk is
always one export's; the sidecar (``<catalogue name>.json``, e.g.
``catalogue.csv.json``: one per file, so two formats of one run never share one)
names the CSV it describes in ``catalogue.sha256`` (:func:`sidecar_matches`).
Temporary files of a killed export are removed by the next one.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.catalog.pair import sidecar_path, write_pair
from core.catalog.probabilities import class_probabilities
from core.paths import printable
from core.pieces import clear_in_pieces, joined_in_pieces
from core.registry import Registry
from core.vocabulary import cluster_name

if TYPE_CHECKING:
    from core.store.database import ProjectStore

COLUMNS = ("path", "id", "cluster", "cluster_name", "label", "label_source", "confidence", "x", "y")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Characters that put a cell in double quotes: the CSV's own (comma, quote, line breaks) and the
#: separators a spreadsheet may split on instead (``;`` in many locales, tab).
_QUOTE_IF = frozenset(',"\r\n;\t')

#: Where a spreadsheet may start a cell inside a text: its start, or just after a ``;`` or a tab (the
#: separators of other locales and of pasted text), when a formula character follows (after any quotes).
_FORMULA_AT = re.compile(r'(?:^|(?<=[;\t]))(?="*[=+\-@\t\r])')


def neutralise(value: object) -> object:
    """Return ``value`` safe for spreadsheets: a ``'`` before every place a formula could start.

    That is the text's start, and each start of a piece after a ``;`` or a tab:
    a spreadsheet that splits the line on ``;`` (many locales do) would
    otherwise run ``=1+1`` of the name ``a;=1+1;.jpg`` as a formula.  To get the
    original text back, remove a ``'`` that starts the cell or follows a ``;``
    or a tab and comes before ``=``, ``+``, ``-``, ``@``, a tab or a quote.
    """
    if isinstance(value, str):
        return _FORMULA_AT.sub("'", value)
    return value


def csv_line(cells: Iterable[object]) -> str:
    """One CSV record (comma-separated, CRLF as :mod:`csv` writes it) with every risky cell quoted.

    Python's :mod:`csv` quotes a cell only for a comma, a quote or a line break;
    a ``;`` or a tab must be quoted too, or a spreadsheet that splits on it
    runs the piece after it (``=1+1``) as a formula.  A quote inside a quoted
    cell is doubled, as RFC 4180 says, so any CSV reader gets the cell back.
    """
    out = []
    for cell in cells:
        text = "" if cell is None else str(cell)
        if _QUOTE_IF.intersection(text):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ",".join(out) + "\r\n"


@dataclass
class CatalogueRow:
    """One image of the exported catalogue."""

    path: str
    id: str
    cluster: int
    cluster_name: str
    label: str
    label_source: str
    confidence: float
    x: float
    y: float
    #: Columns after the standard ones (RA/Dec of the image centre, joined ``cat_*`` columns): numbers,
    #: or text for identifiers (an 18-digit SDSS objid is not a float); NaN is written as an empty cell.
    extra: dict[str, float | str] = field(default_factory=dict)
    morphology: tuple[float, ...] = ()  # core.features.morphology.CATALOGUE_NAMES, when computed


def _cell(value: object) -> float | str:
    """A joined value for a row: text stays text (ids), anything else a float, None NaN."""
    return value if isinstance(value, str) else float("nan") if value is None else float(value)


def atomic_write_text(path: str | os.PathLike[str], text: str | Sequence[str]) -> Path:
    """Write ``text``, or a list of lines in pieces (:func:`core.pieces.joined_in_pieces`), to ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            for piece in [text] if isinstance(text, str) else joined_in_pieces(text):
                fh.write(printable(piece))  # a name from a folder the file system cannot decode is escaped, not fatal
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or a kill leaves no half-written temp file behind
        raise
    return path


def write_csv(rows: Iterable[CatalogueRow], path: str | os.PathLike[str]) -> Path:
    """Write the catalogue CSV (UTF-8, header row) atomically; returns the path.

    The rows' ``extra`` columns (RA/Dec, joined catalogues) follow the standard ones, in the order they first appear,
    then the morphology parameters when computed; NaN or a missing value is an empty cell.  Written a piece at a time.
    """
    rows = list(rows)
    extra: dict[str, None] = {}
    for r in rows:
        extra.update(dict.fromkeys(r.extra))
    morph = _morphology_columns(rows)
    lines = [csv_line(COLUMNS + tuple(neutralise(k) for k in extra) + morph)]
    for r in rows:
        values = [r.extra.get(k, float("nan")) for k in extra]
        lines.append(csv_line([neutralise(r.path), neutralise(r.id), r.cluster, neutralise(r.cluster_name),
                               neutralise(r.label), r.label_source, f"{r.confidence:.6f}", f"{r.x:.6g}", f"{r.y:.6g}"]
                              + [neutralise(v) if isinstance(v, str) else f"{float(v):.10g}" if v == v else ""
                                 for v in values]
                              + _morphology_cells(r, morph)))
    return atomic_write_text(path, lines)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("numpy", "scikit-learn", "torch", "onnxruntime-gpu", "onnxruntime", "pillow", "scipy", "astropy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def sidecar_text(info: Mapping[str, object]) -> str:
    """The reproducibility sidecar JSON: ``info`` plus the version and library versions."""
    from core import __version__

    payload = {"galaxy_sorter_version": __version__, **info, "libraries": library_versions()}
    return json.dumps(payload, indent=2, default=str) + "\n"


def write_sidecar(path: str | os.PathLike[str], info: Mapping[str, object]) -> Path:
    """Write the reproducibility sidecar JSON (``info`` plus library versions) atomically."""
    return atomic_write_text(path, sidecar_text(info))


def _morphology_columns(rows: list[CatalogueRow]) -> tuple[str, ...]:
    """The morphology column names when any row has values (see :mod:`core.features.morphology`), else none."""
    from core.features.morphology import CATALOGUE_NAMES

    return CATALOGUE_NAMES if any(r.morphology for r in rows) else ()


def _morphology_cells(row: CatalogueRow, columns: tuple[str, ...]) -> list[str]:
    """A row's morphology cells: numbers, empty where the image has none."""
    values = row.morphology or (float("nan"),) * len(columns)
    return ["" if v != v else f"{v:.6g}" for v in values[:len(columns)]]


def _attach_morphology(store: ProjectStore, db_ids: list[int], rows: list[CatalogueRow]) -> None:
    """Give each row its stored morphology parameters, when the store has any."""
    from core.features.morphology import morphology_values

    values = morphology_values(store, db_ids)
    if values is not None and (values == values).any():  # some value that is not NaN
        for row, v in zip(rows, values):
            row.morphology = tuple(float(x) for x in v)


@dataclass(frozen=True)
class ExportOptions:
    """What callers need to know about an export format.

    Attributes
    ----------
    suffix : str
        The file's extension (``.csv``): the save dialog's proposed name.
    filter : str
        The app's file dialog filter (``CSV files (*.csv)``); empty: all files.
    record : bool
        The writer takes ``record=`` (the run record): the ``astropy.table`` formats of
        :mod:`core.catalog.tables` keep it in the file's metadata, a region file reads its classes.
    table : bool
        The file is a table of every galaxy (TOPCAT, astropy read it); a region file is not.
    folder : bool
        The catalogue is a folder (a partitioned Parquet dataset, a HATS catalogue); its
        sidecar names the folder's digest (:func:`core.catalog.survey.folder_sha256`).
    holds_images : bool
        The folder holds files the scanner reads as images: refused inside the image folder.
    large : str
        The format written instead above :data:`core.catalog.survey.PARTITION_ROWS` rows.
    """

    suffix: str = ""
    filter: str = ""
    record: bool = False
    table: bool = True
    folder: bool = False
    holds_images: bool = False
    large: str = ""


def _table_writer(fmt: str):  # -> Callable[[rows, path, record], Path]
    """A writer of :mod:`core.catalog.tables` (astropy ``Table``: units, UCDs, the run record in its metadata)."""
    def write(rows: Iterable[CatalogueRow], path: str | os.PathLike[str],
              record: Mapping[str, object] | None = None) -> Path:
        from core.catalog.tables import write_table

        return write_table(rows if isinstance(rows, list) else list(rows), path, fmt, record)  # no copy: see write
    write.__doc__ = f"Write the catalogue as {fmt} through astropy.table.Table; returns the path."
    return write


#: Export formats: name -> entry whose factory is ``write(rows, path) -> Path`` (``write(rows, path, record=)``
#: with ``record=True``), with :class:`ExportOptions`.
EXPORT_FORMATS: Registry[ExportOptions] = Registry("export format", default="csv", options_type=ExportOptions)
EXPORT_FORMATS.add("csv", write_csv, "Catalogue (CSV)", "one row per image, spreadsheet-safe",
                   suffix=".csv", filter="CSV files (*.csv)")
EXPORT_FORMATS.add("fits", _table_writer("fits"), "Catalogue (FITS table)", "FITS binary table for TOPCAT, ds9, astropy",
                   suffix=".fits", filter="FITS tables (*.fits)", record=True)
EXPORT_FORMATS.add("votable", _table_writer("votable"), "Catalogue (VOTable)", "VOTable for TOPCAT, Aladin, SAMP",
                   suffix=".vot", filter="VOTable (*.vot *.xml)", record=True)
EXPORT_FORMATS.add("ecsv", _table_writer("ascii.ecsv"), "Catalogue (ECSV)", "text with units and metadata (astropy)",
                   suffix=".ecsv", filter="ECSV (*.ecsv)", record=True)
EXPORT_FORMATS.add("parquet", _table_writer("parquet"), "Catalogue (Parquet)",
                   f"columnar, for pandas and big tables (a partitioned folder above {100_000:,} rows)",
                   suffix=".parquet", filter="Parquet (*.parquet)", record=True, large="parquet-dataset")


def _survey_writer(name: str, module: str = "survey"):  # -> Callable[[rows, path, record], Path]
    """A writer of ``core.catalog.<module>`` (a survey folder, regions), imported when used (never at start-up)."""
    def write(rows: Iterable[CatalogueRow], path: str | os.PathLike[str],
              record: Mapping[str, object] | None = None) -> Path:
        return getattr(importlib.import_module(f"core.catalog.{module}"), name)(
            rows if isinstance(rows, list) else list(rows), path, record)
    write.__doc__ = f"core.catalog.{module}.{name}, imported on first use."
    return write


EXPORT_FORMATS.add("parquet-dataset", _survey_writer("write_parquet_dataset"), "Catalogue (partitioned Parquet folder)",
                   "a folder of Parquet files, 100,000 rows each at most, one cluster a file: pyarrow, pandas, Dask",
                   suffix=".parquet", filter="Parquet folder (*.parquet)", record=True, folder=True)
EXPORT_FORMATS.add("hats", _survey_writer("write_hats"), "Catalogue (HATS, for LSDB)",
                   "HEALPix-partitioned Parquet that LSDB cross-matches; needs RA/Dec for every galaxy",
                   suffix=".hats", filter="HATS catalogue (*.hats)", record=True, folder=True, holds_images=True)
EXPORT_FORMATS.add("ds9", _survey_writer("write_regions", "regions"), "Regions (ds9, Aladin)",
                   "each galaxy with a sky position a circle in its class's colour, named by its label",
                   suffix=".reg", filter="DS9 regions (*.reg)", record=True, table=False)


def catalogue_rows(store: ProjectStore, run_id: int,
                   columns: Mapping[str, Mapping[str, float | str]] | None = None) -> list[CatalogueRow]:
    """One row per image of a stored run: the user's label where there is one, else the cluster's name.

    Everything comes from the store (assignments, cluster names, labels), so the
    app and the CLI write the same catalogue for the same run.  When any FITS
    image has a celestial WCS, ``ra`` and ``dec`` of each image's centre follow
    (:func:`core.catalog.sky.sky_positions`); then, after a fine-tuning round,
    ``p_<class>``: the calibrated probability of each class
    (:func:`class_probabilities`); then ``columns`` (name -> image path -> value:
    the app's joined catalogue columns).
    """
    from core.catalog.join import sky_columns
    from core.images.ids import image_ids

    names = store.cluster_names(run_id)
    labels = store.labels()
    assignments = store.assignments(run_id)
    sky = sky_columns([r[1] for r in assignments])
    ids = image_ids([r[1] for r in assignments])  # a band set's id is its base name: what catalogues call it
    sky.update(class_probabilities(store, run_id, [int(r[0]) for r in assignments], labels))
    rows = []
    for i, (db_id, path, _name, c, q, x, y) in enumerate(assignments):
        cname = cluster_name(int(c), names)
        label, source = labels.get(int(db_id), (cname, "model"))
        extra = {k: float(v[i]) for k, v in sky.items()}
        extra.update({k: _cell(v.get(path)) for k, v in (columns or {}).items()})
        rows.append(CatalogueRow(path, ids[i], int(c), cname, label, source, float(q),
                                 float("nan") if x is None else float(x), float("nan") if y is None else float(y),
                                 extra))
    _attach_morphology(store, [int(r[0]) for r in assignments], rows)
    return rows


def run_record(store: ProjectStore, run_id: int) -> dict[str, object]:
    """The sidecar's content for a stored run: model, preprocessing, method, k asked and used, labels, timings."""
    run = store.run(run_id)
    if run is None:
        raise ValueError(f"there is no run {run_id} in {store.folder}")
    params = dict(run.params)
    rows = store.assignments(run_id)
    ids = {int(r[0]) for r in rows}
    clusters = {int(r[3]) for r in rows}
    return {
        "folder": params.get("folder"),
        "run": {"id": run.id, "method": run.method, "model": run.model, "n_clusters": run.n_clusters},
        "model": {"name": run.model, "sha256": params.get("model_sha256", ""), "provider": params.get("provider", "")},
        "preprocessing": params.get("prep", {}),
        "method": run.method,
        "n_clusters": run.n_clusters,
        "n_clusters_requested": params.get("n_clusters_requested", run.n_clusters),
        "k_used": len(clusters - {-1}),
        "projection": store.setting(f"projection/{run_id}", params.get("projection", "pca")),
        "seed": params.get("seed"),
        "parameters": params,
        "warnings": run.warnings,
        "images": len(rows),
        "user_labels": sum(1 for i in store.labels() if i in ids),
        "classes": [{"name": n, "color": c} for n, c in store.classes()],
        "skipped": run_skipped(store, run_id),
        "timings_s": store.setting(f"timings/{run_id}", params.get("timings", {})),
    }


def run_skipped(store: ProjectStore, run_id: int) -> list[dict[str, str]]:
    """The files this run left out, with reasons (``skipped/<run>``, saved by the pipeline).

    A run stored before that setting existed falls back to every file the store
    marks skipped (what the sidecar listed then).
    """
    saved = store.setting(f"skipped/{run_id}", None)
    if saved is None:
        return [{"path": p, "reason": r} for p, r in store.skipped()]
    return [{"path": store.path_of(key), "reason": reason} for key, reason in saved]


def export_catalogue(store: ProjectStore, run_id: int, path: str | os.PathLike[str],
                     fmt: str = EXPORT_FORMATS.default, relative: bool = False,
                     columns: Mapping[str, Mapping[str, float | str]] | None = None,
                     join: Mapping[str, object] | None = None,
                     progress: Callable[[float, str], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> tuple[Path, Path]:
    """Write a stored run's catalogue in format ``fmt`` and its sidecar ``<name>.json``; return both paths.

    The sidecar is named after the catalogue's whole name (``catalogue.csv.json``,
    :func:`core.catalog.pair.sidecar_path`): the same run exported as CSV and as
    FITS beside it keeps one sidecar per file, each with its own format and SHA-256.

    Parameters
    ----------
    store : ProjectStore
        The project store holding the run and the labels.
    run_id : int
        The run to export (its current clusters, names and map).
    path : path-like
        The catalogue file.
    fmt : str
        A name in :data:`EXPORT_FORMATS`.  A format whose files the scanner reads
        as images (FITS) is refused inside the image folder
        (:class:`core.catalog.tables.CatalogueInImageFolder`, a ``ValueError``).
    relative : bool
        Image paths relative to the image folder, and no absolute folder in the
        sidecar: for files meant to be shared (absolute paths name the user's home and disks).
    columns : mapping, optional
        Extra columns, name -> image path -> value (the project's joined
        catalogue columns, ``cat_*``): numbers, or text for identifiers; images
        without a value get an empty cell.
    join : mapping, optional
        How they were joined (:meth:`core.catalog.join.Join.record`: catalogue
        file, SHA-256, key or radius, columns taken), kept in the sidecar as
        ``join`` so the catalogue can be rebuilt from it.
    progress : callable, optional
        ``progress(fraction, stage)``: the stages read and write (the writers give no
        finer progress, so the fraction stays 0 until the files are written, then 1).
    should_stop : callable, optional
        Asked once the rows are read, before anything is written: True raises
        :class:`core.progress.Cancelled` and leaves no file behind.
    """
    from core.catalog.tables import refuse_inside_image_folder
    from core.progress import Cancelled

    entry = EXPORT_FORMATS.get(fmt)
    path = Path(path)
    refuse_inside_image_folder(path, store.root, always=entry.options.holds_images)
    if progress is not None:
        progress(0.0, "reading the catalogue")
    rows = catalogue_rows(store, run_id, columns)
    if should_stop is not None and should_stop():
        raise Cancelled()
    if progress is not None:
        progress(0.0, f"writing {len(rows)} rows")
    from core.catalog.survey import PARTITION_ROWS

    if entry.options.large and len(rows) > PARTITION_ROWS:  # one file of a million rows: a partitioned folder instead
        fmt, entry = entry.options.large, EXPORT_FORMATS.get(entry.options.large)
    record = run_record(store, run_id)
    if columns:
        record["joined_columns"] = list(columns)
    if join is not None:
        record["join"] = dict(join)
    if relative:
        for row in rows:
            row.path = store.key_of(row.path)
        record["skipped"] = [{"path": store.key_of(s["path"]), "reason": s["reason"]} for s in record["skipped"]]
        record["folder"] = "."
        record["parameters"] = {**record["parameters"], "folder": "."}
    from core.features.morphology import morphology_record

    if any(r.morphology for r in rows):
        record["morphology"] = morphology_record(store)

    def sidecar(sha256: str) -> str:
        return sidecar_text({**record, "catalogue": {"format": fmt, "sha256": sha256}})

    def write(tmp: Path) -> object:
        try:
            return entry.factory(rows, tmp, record=record) if entry.options.record else entry.factory(rows, tmp)
        finally:  # the rows go when written, though a writer's caught exception keeps these frames (astropy's FITS)
            clear_in_pieces(rows)

    if entry.options.folder:
        from core.catalog.survey import column_record, folder_sha256

        record["columns"] = column_record(_column_names(rows), record.get("join"), rows)
        write(path)
        written = path, atomic_write_text(sidecar_path(path), sidecar(folder_sha256(path)))
    else:
        written = write_pair(path, write, sidecar)
    if progress is not None:
        progress(1.0, "written")
    return written


def _column_names(rows: list[CatalogueRow]) -> list[str]:
    """The catalogue's column names, in the order every writer uses."""
    extra: dict[str, None] = {}
    for r in rows:
        extra.update(dict.fromkeys(r.extra))
    return list(COLUMNS) + list(extra) + list(_morphology_columns(rows))
