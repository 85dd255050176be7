"""Work on a survey's rows cut into pieces, so that another thread gets the interpreter lock between them.

A job of the app runs on a thread of its own, but one C call (a dict built
from 200,000 pairs, a copy into a freshly allocated array of 60 MB, whose every
page the kernel maps on first touch) keeps the interpreter lock for its whole
length: the window, which needs the lock every few ms, does not answer
meanwhile.  Python hands the lock over only between bytecodes, so the same
work done as a short Python loop over pieces of :data:`PIECE_ROWS` rows costs
the same and lets the window in between each.  The pieces are counted in
:data:`stats` (what the tests check; never a time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

#: Most rows one C call of this module works on (a few ms each at 200,000 galaxies' widths).
PIECE_ROWS = 8_192

#: The rows of the largest piece done so far and how many pieces (reset by the tests).
stats = {"largest": 0, "pieces": 0}


def count_piece(rows: int) -> None:
    """One piece of ``rows`` rows done (:data:`stats`)."""
    stats["pieces"] += 1
    stats["largest"] = max(stats["largest"], rows)


def dict_in_pieces(keys: Sequence, values: Sequence) -> dict:
    """``dict(zip(keys, values))``, the same dict, made by updates of at most :data:`PIECE_ROWS` pairs.

    ``keys`` and ``values`` must slice (a list, an array).  At 200,000 galaxies
    one ``dict(zip(...))`` of a joined column by path kept the lock for 30-70 ms.
    """
    out: dict = {}
    n = min(len(keys), len(values))
    for a in range(0, n, PIECE_ROWS):
        b = min(a + PIECE_ROWS, n)
        count_piece(b - a)
        out.update(zip(keys[a:b], values[a:b]))
    return out


def clear_in_pieces(items: list) -> None:
    """Empty ``items`` from its end, :data:`PIECE_ROWS` at a time, so that what only it held is freed in pieces.

    ``list.clear()`` of an export's 200,000 catalogue rows (a dataclass, its dict,
    a dozen numbers and texts each) freed 2.6 million objects in one call: 110-190 ms
    with the lock held, the longest wait of the window in a VOTable export.
    """
    while items:
        count_piece(min(PIECE_ROWS, len(items)))
        del items[-PIECE_ROWS:]


def joined_in_pieces(lines: Sequence[str]) -> Iterator[str]:
    """The concatenation of ``lines``, as the strings of :data:`PIECE_ROWS` lines each, for a file to write in turn.

    A survey's CSV catalogue (30 MB at 200,000 galaxies) was one string, joined,
    checked for undecodable names and encoded by the file in three calls that each
    kept the lock for tens of ms.  The same bytes are written.
    """
    for a in range(0, len(lines), PIECE_ROWS):
        count_piece(min(PIECE_ROWS, len(lines) - a))
        yield "".join(lines[a:a + PIECE_ROWS])


def table_as_array(table: Table) -> np.ndarray:
    """``table.as_array()`` of a table without masked columns, its rows copied :data:`PIECE_ROWS` at a time.

    astropy copies each column into the new structured array in one call, and
    the first (the path, 28 characters wide) touches every page of it for the
    first time: 170 ms with the lock held for a catalogue of 200,000 galaxies
    (1.9 s on a machine short of memory), in every VOTable export.  The same
    array, the same byte order rules (native, as ``as_array`` makes it).
    """
    from astropy.table import Column

    columns = list(table.columns.values())
    if table.has_masked_columns or any(type(col) is not Column for col in columns):
        return table.as_array()  # masked or mixin columns (Quantity, Time): astropy's own rules, in one call
    dtype = [(col.info.name, col.dtype if col.dtype.isnative else col.dtype.newbyteorder("="), col.shape[1:])
             for col in columns]  # what as_array gives each plain column (astropy's descr, a private helper)
    data = np.empty(len(table), dtype=dtype)
    for a in range(0, len(table), PIECE_ROWS):
        block = data[a:a + PIECE_ROWS]
        count_piece(len(block))
        for col in columns:
            block[col.info.name] = col[a:a + PIECE_ROWS]
    return data
