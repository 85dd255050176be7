"""The catalogue's ``p_<class>`` columns of a fine-tuned run, named after the classes as they are now.

A round keeps each class's calibrated probability in ``runs/<file>.npz``
(``params["proba"]``) with the classes' names at that round
(``params["proba_classes"]``).  A class renamed or merged later (the Classes
dock) must take its column along: a catalogue whose label column says "E0"
beside a ``p_elliptical`` column, and whose user-labelled galaxies no longer
read 1 for their own class, contradicts the astronomer.  So each run's columns
carry their names as they are now (:func:`column_names`, a project setting per
run that an edit moves with :func:`rename_column`, and its undo puts back):
columns merged into one name are summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.database import ProjectStore


def _key(run_id: int) -> str:
    return f"proba_names/{int(run_id)}"


def column_names(store: ProjectStore, run_id: int) -> list[str]:
    """The current class name of each of run ``run_id``'s probability columns (empty for a run without them)."""
    run = store.run(run_id)
    at_round = list((run.params if run is not None else {}).get("proba_classes") or [])
    now = store.setting(_key(run_id))
    return list(now) if isinstance(now, list) and len(now) == len(at_round) else at_round


def rename_column(store: ProjectStore, run_id: int | None, old: str, new: str) -> list[str] | None:
    """Give the columns of class ``old`` the name ``new`` (a rename, or a merge into ``new``); returns the names of
    before, for the edit's undo (:func:`set_column_names`), or None when the run has no column of ``old``."""
    if run_id is None:
        return None
    names = column_names(store, run_id)
    if old not in names:
        return None
    set_column_names(store, run_id, [new if n == old else n for n in names])
    return names


def set_column_names(store: ProjectStore, run_id: int, names: list[str]) -> None:
    """Name run ``run_id``'s probability columns ``names`` (an undo's names of before)."""
    store.set_setting(_key(run_id), list(names))


def class_probabilities(store: ProjectStore, run_id: int, db_ids: list[int],
                        labels: Mapping[int, tuple[str, str]]) -> dict[str, list[float]]:
    """``p_<class>`` columns of a fine-tuned run: each class's calibrated probability, per image.

    The round keeps them in ``runs/<file>.npz`` (``params["proba"]``; see
    :mod:`core.learning.calibration`): under the folder's estimated class
    fractions, so a cut such as ``p_spiral > 0.9`` keeps galaxies nine in ten
    of which are spirals.  The columns are named after the classes as they are
    now (:func:`column_names`; two merged into one are summed).  An image the
    user labelled with one of these classes gets 1 for it and 0 for the others
    (its label is the catalogue's).  Empty for runs without them.
    """
    import numpy as np

    from core.store.layout import RUNS_DIR, member_path

    run = store.run(run_id)
    name, names = (dict(run.params).get("proba") if run is not None else None), column_names(store, run_id)
    path = member_path(store.folder, RUNS_DIR, name, ".npz")  # a plain name of a file inside runs/, else nothing
    if path is None or not names:
        return {}
    with np.load(path, allow_pickle=False) as data:
        where = {int(i): r for r, i in enumerate(data["image_ids"])}
        proba = np.asarray(data["soft"], np.float64)[:, :len(names)]
    classes = list(dict.fromkeys(names))
    into = np.zeros((len(names), len(classes)))  # each stored column into its class's column now
    into[np.arange(len(names)), [classes.index(n) for n in names]] = 1.0
    proba = proba @ into
    out = np.full((len(db_ids), len(classes)), np.nan)
    for r, db_id in enumerate(db_ids):
        if db_id in where:
            out[r] = proba[where[db_id]]
        user = labels.get(db_id)
        if user is not None and user[1] == "user" and user[0] in classes:
            out[r] = np.eye(len(classes))[classes.index(user[0])]
    return {f"p_{c}": out[:, j].tolist() for j, c in enumerate(classes)}
