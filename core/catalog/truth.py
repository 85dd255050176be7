"""Known labels for measuring clusters: a plain labels CSV or Galaxy Zoo's solutions file.

* Plain CSV: the first column is the image id (file name without extension,
  or with it; of band files, the base name or the listed file's: :func:`match_truth`);
  the label is the second column unless ``column`` names another.
* Kaggle Galaxy Zoo ``solutions_training_rev1.csv`` (``GalaxyID`` plus the 37
  ``Class*`` vote fractions): the label is the top answer to Galaxy Zoo's first
  question (``smooth``, ``features_or_disk``, ``star_or_artifact``), the
  morphology split most catalogues start from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.catalog.bounded import csv_rows

Q1_ANSWERS = {"Class1.1": "smooth", "Class1.2": "features_or_disk", "Class1.3": "star_or_artifact"}


class TruthFileError(ValueError):
    """A truth file cannot be read as asked; the message names the file and the line."""


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, row) of a truth file (:func:`core.catalog.bounded.csv_rows`, strict)."""
    return csv_rows(path, TruthFileError)


def load_truth(path: str | os.PathLike[str], column: str | None = None) -> dict[str, str]:
    """Return image id -> label; empty labels are left out.

    Raises :class:`TruthFileError` (a ``ValueError``) naming the file and line
    when the file has no usable columns, a short or non-numeric Kaggle row, or
    a quote that is never closed.
    """
    path = Path(path)
    header, rows = _rows(path)
    if len(header) < 2:
        raise TruthFileError(f"{path}: need an id column and a label column")
    out: dict[str, str] = {}
    if column is None and all(k in header for k in Q1_ANSWERS):
        idx = {k: header.index(k) for k in Q1_ANSWERS}
        for line, row in rows:
            if not row:
                continue
            try:
                votes = {k: float(row[i]) for k, i in idx.items()}
            except (IndexError, ValueError):
                raise TruthFileError(f"{path}, line {line}: expected {len(header)} columns of vote fractions, "
                                     f"found {len(row)} ({','.join(row)[:60]})") from None
            out[row[0].strip()] = Q1_ANSWERS[max(votes, key=votes.get)]
        return out
    if column is not None:
        if column not in header:
            raise TruthFileError(f"{path}: no column named {column!r} (columns: {', '.join(header)})")
        col = header.index(column)
    else:
        col = 1
    for _, row in rows:
        if len(row) > col and row[0].strip() and row[col].strip():
            out[row[0].strip()] = row[col].strip()
    return out


def match_truth(truth: Mapping[str, str], ids: Sequence[str],
                aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """Image id -> class for the images of ``ids`` that ``truth`` names, by id or by file name.

    A truth file may write the image's file name (``g0.png``, ``J1234.fits.gz``)
    where the image id is the name without its suffix (``g0``): a key that is
    no image id as written is taken without a known image suffix
    (:func:`core.images.io.image_suffixes`), so both spellings match; a key that
    matches as written wins over another that matches only so.  A band set's
    id is its base name (``ngc0`` for ``ngc0_g/_r/_i.fits``); a truth file that
    names it by the file it is listed by (``ngc0_i``, ``ngc0_i.fits``) matches
    through ``aliases``.

    Parameters
    ----------
    truth : mapping
        What :func:`load_truth` read (key as written -> class).
    ids : sequence of str
        The project's image ids.
    aliases : mapping, optional
        Another spelling of an id -> the id (:func:`core.images.ids.id_spellings`),
        taken where ``truth`` has no key of the id itself.

    Returns
    -------
    dict
        Image id -> class, only for the images named (empty when none is).
    """
    from core.images.io import image_suffixes

    wanted = set(ids)
    out = {key: label for key, label in truth.items() if key in wanted}
    suffixes = image_suffixes()
    aliases = aliases or {}
    for key, label in truth.items():
        if key in wanted:
            continue
        suffix = next((s for s in suffixes if key.lower().endswith(s)), None)
        bare = key if suffix is None else key[:-len(suffix)]
        if bare in wanted:
            out.setdefault(bare, label)
        elif key in aliases or bare in aliases:
            out.setdefault(aliases.get(key) or aliases[bare], label)
    return out
