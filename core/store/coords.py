"""A run's 2-D map written to the project store off the GUI thread, with the name of its projection.

A new projection of a run (the Run panel's Map box) changes every image's ``x, y``
in ``assignments``: 200,000 UPDATEs took 0.6 s of the GUI thread (4.7 s at a
million galaxies) when the result was applied.  :func:`store_map` writes it from
the projection's job on a connection of its own: the coordinates go first into a
temporary table (the project's database is not locked meanwhile, so a label
written on the GUI thread does not wait), then one ``UPDATE`` and the
projection's name in a single transaction, so a reopen finds the new map and its
name together or neither.  A job cancelled before the commit (another folder
opened) writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.progress import Cancelled


def projection_key(run_id: int) -> str:
    """The project setting that names the projection of run ``run_id``'s map (:meth:`core.project.Project.projection`)."""
    return f"projection/{run_id}"


def store_map(folder: Path, run_id: int, image_ids: np.ndarray, coords: np.ndarray, projection: str,
              should_stop: Callable[[], bool] | None = None) -> None:
    """Keep ``coords`` as run ``run_id``'s map and ``projection`` as its name, in the store ``folder``.

    Parameters
    ----------
    folder : Path
        The store folder (:attr:`core.store.database.ProjectStore.folder`); opened here on a connection of
        this thread's own (SQLite connections are not shared between threads).
    run_id : int
        The run the map belongs to (captured when the projection started: a later run is not touched).
    image_ids : numpy.ndarray
        Store id of each row of ``coords``.
    coords : numpy.ndarray
        ``(n, 2)`` coordinates.
    projection : str
        The projection's name, stored in the same transaction.
    should_stop : callable, optional
        Checked before the commit: when it says stop, nothing is written and ``Cancelled`` is raised.
    """
    db = sqlite3.connect(Path(folder) / "project.sqlite", timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TEMP TABLE new_map (image_id INTEGER PRIMARY KEY, x REAL, y REAL)")
        xy = np.asarray(coords, np.float64)
        db.execute("BEGIN")  # the temporary table only: the project's database stays unlocked
        db.executemany("INSERT INTO temp.new_map VALUES (?, ?, ?)",
                       zip(np.asarray(image_ids, np.int64).tolist(), xy[:, 0].tolist(), xy[:, 1].tolist()))
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")
        try:
            # Not UPDATE ... FROM, which needs SQLite 3.33 (Ubuntu 20.04's Python has 3.31): each row's new x
            # and y by its image id, a primary-key lookup in the temporary table.
            db.execute("UPDATE assignments SET x = (SELECT n.x FROM temp.new_map AS n WHERE n.image_id = assignments.image_id), "
                       "y = (SELECT n.y FROM temp.new_map AS n WHERE n.image_id = assignments.image_id) "
                       "WHERE run_id = ? AND image_id IN (SELECT image_id FROM temp.new_map)", (int(run_id),))
            db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (projection_key(run_id), json.dumps(projection)))
            if should_stop is not None and should_stop():
                raise Cancelled("the new map was not kept")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()
