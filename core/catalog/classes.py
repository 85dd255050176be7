"""Which joined catalogue columns sort galaxies into classes, and each galaxy's class in one of them.

The *Cluster x label* table counts the clusters against the user's labels, a
truth file's classes or a joined column (``cat_*``).  A joined column is offered
only when it is class-like (:func:`class_like`): a magnitude or an object id would
make a table of one column per galaxy (8 x 200,000 cells took 31 s to build).
A column's cells become classes as the table names them (:func:`class_of`), and
:func:`column_codes` numbers them for :func:`core.catalog.montage.crosstab_coded`.
Qt-free: the app decides what to offer on its GUI thread and codes the columns
off it; nothing here goes through Python once per galaxy where numpy can.
"""

from __future__ import annotations

import numpy as np

from core.catalog.montage import class_codes

#: Most distinct values a joined column may have to be offered as classes to count the clusters against.
MAX_CLASSES = 50
#: Cells looked at together while a text column's distinct values are gathered (:func:`class_like`).
_CHUNK = 65_536


def class_like(values: np.ndarray) -> bool:
    """Whether a joined column sorts galaxies into a few classes, as opposed to measuring or naming each one.

    Parameters
    ----------
    values : ndarray
        A joined column in image order: floats (NaN where unmatched) or text (``""`` where unmatched).

    Returns
    -------
    bool
        True for text, or whole numbers (a T-type), of at most :data:`MAX_CLASSES`
        distinct values and fewer values than the galaxies given one; False for
        a magnitude, an id, or a column of no value.

    Notes
    -----
    Text is gathered a chunk of :data:`_CHUNK` cells at a time in C (``set`` of
    a list), and stops at the chunk that passes :data:`MAX_CLASSES`: an id column
    costs one chunk, a class column of a million galaxies a few ms; looking at
    each cell in Python took 69 ms of the GUI thread for four columns of 200,000
    when a join's result was shown.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        finite = values[np.isfinite(values)]
        if not len(finite) or not np.all(finite == np.round(finite)):
            return False
        distinct = len(np.unique(finite))
        return distinct <= MAX_CLASSES and distinct < len(finite)
    seen: set[object] = set()
    given = 0
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK].tolist()
        seen.update(chunk)
        seen.discard("")
        if len(seen) > MAX_CLASSES:
            return False
        given += len(chunk) - chunk.count("")
    return 0 < len(seen) < given


def class_columns(columns: dict[str, np.ndarray]) -> list[str]:
    """The names of the class-like columns (:func:`class_like`) of a join, in their order."""
    return [name for name, values in columns.items() if class_like(values)]


def class_of(value: object) -> str | None:
    """A joined cell as a class: text as is, a whole number without ``.0``; empty or NaN is no class (None)."""
    if isinstance(value, str):
        return value or None
    v = float(value)  # type: ignore[arg-type]
    if v != v:
        return None
    return str(int(v)) if v.is_integer() else f"{v:g}"


def column_codes(values: np.ndarray) -> tuple[np.ndarray, list[object]]:
    """Each galaxy's class number in a joined column (-1: none) and the classes, as :func:`class_codes` gives them
    for the column's cells made classes one by one (:func:`class_of`).

    A column of numbers is coded through its distinct values (``np.unique``), each
    named once: the cells of a million galaxies went through :func:`class_of` one
    by one.  A text column is coded by :func:`class_codes`.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "fiu":
        return class_codes([class_of(v) for v in values.tolist()])
    numbers = values.astype(np.float64)
    given = ~np.isnan(numbers)
    distinct, inverse = np.unique(numbers[given], return_inverse=True)
    names = [class_of(v) for v in distinct.tolist()]
    classes = sorted(set(names))  # all text: class_codes' order (text in alphabetical order)
    number = {name: i for i, name in enumerate(classes)}
    codes = np.full(len(values), -1, np.int64)
    codes[given] = np.asarray([number[name] for name in names], np.int64)[inverse.ravel()]
    return codes, list(classes)
