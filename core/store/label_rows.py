"""The label write of many images in one statement, and the same without SQLite's JSON functions.

:meth:`core.store.database.ProjectStore.set_labels` hands SQLite the image ids
as one JSON array and lets ``json_each`` expand it: a whole cluster of 25,000
galaxies is one statement, not 25,000 (issue 18's survey scale).  ``json_each``
is part of SQLite's JSON functions, built in since SQLite 3.38 (2022) but an
option before, so a Python built against an older system SQLite without them
(a source build on an older Linux, for one) raised ``no such table: json_each``
at the first key the user pressed, and no label could be made.  Such a
connection is found (:func:`has_json`) and gets ``executemany`` instead:
the same rows in the same one transaction, a statement a row.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

import numpy as np


def has_json(db: sqlite3.Connection) -> bool:
    """Whether this connection's SQLite has the JSON functions (``json_each``).

    Asked at each write (a few microseconds): a connection holds no attribute to
    remember it by, and an authorizer or a newer library can change the answer.
    """
    try:
        db.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.DatabaseError:  # "no such table: json_each" (OperationalError), or refused
        return False
    return True


def write_labels(db: sqlite3.Connection, image_ids: Sequence[int] | np.ndarray, label: str | None, source: str) -> None:
    """Set (``label``) or clear (``None``) the label of ``image_ids``; the caller holds the transaction.

    Parameters
    ----------
    db : sqlite3.Connection
        The project's connection, inside ``with db:`` so the rows land in one transaction.
    image_ids : sequence of int
    label : str or None
    source : str
        Who gave the label ("user", "model", ...), stored beside it.
    """
    ids = np.asarray(image_ids, np.int64).tolist()
    now = time.time()
    if has_json(db):
        text = json.dumps(ids)  # one parameter for SQLite, not a tuple a row
        if label is None:
            db.execute("DELETE FROM labels WHERE image_id IN (SELECT value FROM json_each(?))", (text,))
        else:  # "WHERE true": an upsert's SELECT needs one, so its ON is not read as a join's
            db.execute(f"INSERT INTO labels SELECT value, ?, ?, ? FROM json_each(?) WHERE true {_UPSERT}",
                       (label, source, now, text))
    elif label is None:
        db.executemany("DELETE FROM labels WHERE image_id=?", ((i,) for i in ids))
    else:
        db.executemany(f"INSERT INTO labels VALUES (?, ?, ?, ?) {_UPSERT}", ((i, label, source, now) for i in ids))


#: A label row that exists is updated in place (an upsert, SQLite 3.24), not deleted and inserted again as
#: ``INSERT OR REPLACE`` does: the image id, the one column the foreign key checks, stays, so relabelling
#: 25,000 galaxies is not 25,000 look-ups of their image rows (12-25 ms instead of 25-54 on this CPU).
_UPSERT = ("ON CONFLICT(image_id) DO UPDATE SET label=excluded.label, source=excluded.source, "
           "updated=excluded.updated")
