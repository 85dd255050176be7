"""CSV export of a labelled catalogue, with a JSON sidecar for reproducibility.

One row per image: path, id, cluster id, cluster name, label and its source
(``user`` or ``model``), confidence, and the 2-D map coordinates.  Text cells
that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with a quote; numbers are written
as numbers.  Both files are written atomically (temporary file in the same
folder, fsync, rename), so an interrupted export never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("path", "id", "cluster", "cluster_name", "label", "label_source", "confidence", "x", "y")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Return ``value`` safe for spreadsheets: text starting like a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def write_csv(rows: Iterable[CatalogueRow], path: str | os.PathLike[str],
              extra: Mapping[str, Sequence[float]] | None = None) -> Path:
    """Write the catalogue CSV (UTF-8, header row) atomically; returns the path.

    ``extra`` adds numeric columns after the standard ones (row ``i`` of each
    for row ``i``; NaN is written as an empty cell): RA/Dec, joined catalogues.
    """
    extra = dict(extra or {})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS + tuple(neutralise(k) for k in extra))
    for i, r in enumerate(rows):
        writer.writerow([neutralise(r.path), neutralise(r.id), r.cluster, neutralise(r.cluster_name),
                         neutralise(r.label), r.label_source, f"{r.confidence:.6f}", f"{r.x:.6g}", f"{r.y:.6g}"]
                        + [f"{float(v[i]):.10g}" if v[i] == v[i] else "" for v in extra.values()])
    return atomic_write_text(path, buf.getvalue())


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("numpy", "scikit-learn", "torch", "onnxruntime-gpu", "onnxruntime", "opencv-python-headless", "astropy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_sidecar(path: str | os.PathLike[str], info: Mapping[str, object]) -> Path:
    """Write the reproducibility sidecar JSON (``info`` plus library versions) atomically."""
    from core import __version__

    payload = {"galaxy_sorter_version": __version__, **info, "libraries": library_versions()}
    return atomic_write_text(path, json.dumps(payload, indent=2, default=str) + "\n")
