"""Known labels for measuring clusters: a plain labels CSV or Galaxy Zoo's solutions file.

* Plain CSV: the first column is the image id (file name without extension);
  the label is the second column unless ``column`` names another.
* Kaggle Galaxy Zoo ``solutions_training_rev1.csv`` (``GalaxyID`` plus the 37
  ``Class*`` vote fractions): the label is the top answer to Galaxy Zoo's first
  question (``smooth``, ``features_or_disk``, ``star_or_artifact``), the
  morphology split most catalogues start from.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

Q1_ANSWERS = {"Class1.1": "smooth", "Class1.2": "features_or_disk", "Class1.3": "star_or_artifact"}


def load_truth(path: str | os.PathLike[str], column: str | None = None) -> dict[str, str]:
    """Return image id -> label; empty labels are left out.

    Raises ``ValueError`` when the file has no usable columns.
    """
    with open(Path(path), newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path} is empty") from None
        rows = list(reader)
    if len(header) < 2:
        raise ValueError(f"{path}: need an id column and a label column")
    out: dict[str, str] = {}
    if column is None and all(k in header for k in Q1_ANSWERS):
        idx = {k: header.index(k) for k in Q1_ANSWERS}
        for row in rows:
            if row:
                votes = {k: float(row[i]) for k, i in idx.items()}
                out[row[0].strip()] = Q1_ANSWERS[max(votes, key=votes.get)]
        return out
    if column is not None:
        if column not in header:
            raise ValueError(f"{path}: no column named {column!r} (columns: {', '.join(header)})")
        col = header.index(column)
    else:
        col = 1
    for row in rows:
        if len(row) > col and row[0].strip() and row[col].strip():
            out[row[0].strip()] = row[col].strip()
    return out
