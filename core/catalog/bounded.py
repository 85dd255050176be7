"""Reading a user's table (truth labels, a catalogue) with a bound on what it may cost.

A path given on the command line or in a dialog may be anything: ``/dev/zero``
has no line breaks and no end, a named pipe may never close, a file may be a
mistaken 40 GB dump.  :func:`bounded_lines` hands the CSV reader one line at a
time and stops with a one-line :class:`TableTooLargeError` once a line, the
row count or the byte count passes a cap far above any real table (the 1M-row
Galaxy Zoo vote file is about 330 MB), so the reading never needs more memory
than the caps allow.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from array import array
from collections.abc import Iterator, Sequence
from typing import TextIO, overload

import numpy as np

#: Longest line a table may have (characters): a real row is a few hundred.
MAX_LINE_CHARS = 1 << 20
#: Most characters read from one table (1 GiB of text).
MAX_TABLE_CHARS = 1 << 30
#: Most lines read from one table.
MAX_TABLE_LINES = 10_000_000


class TableTooLargeError(ValueError):
    """A table passed one of the caps; the message names the file and the cap."""


def bounded_lines(fh: TextIO, path: str | os.PathLike[str], *, max_line: int | None = None,
                  max_chars: int | None = None, max_lines: int | None = None) -> Iterator[str]:
    """Yield the lines of ``fh`` (for :func:`csv.reader`), refusing a table past the caps.

    Parameters
    ----------
    fh : text file
        Opened with ``newline=""`` as :mod:`csv` wants.
    path : path-like
        Named in the error.
    max_line, max_chars, max_lines : int, optional
        The caps (characters per line, characters in all, lines); default
        :data:`MAX_LINE_CHARS`, :data:`MAX_TABLE_CHARS`, :data:`MAX_TABLE_LINES`.

    Raises
    ------
    TableTooLargeError
        As soon as a cap is passed: at most ``max_line`` characters of a line
        without end are ever held (``/dev/zero`` is refused after 1 MiB).
    """
    max_line = MAX_LINE_CHARS if max_line is None else max_line
    max_chars = MAX_TABLE_CHARS if max_chars is None else max_chars
    max_lines = MAX_TABLE_LINES if max_lines is None else max_lines
    total = lines = 0
    while True:
        line = fh.readline(max_line + 1)
        if not line:
            return
        if len(line) > max_line:
            raise TableTooLargeError(f"{path}: a line is longer than {max_line:,} characters: "
                                     f"not a CSV table (a device, or binary data?)")
        total += len(line)
        lines += 1
        if total > max_chars or lines > max_lines:
            raise TableTooLargeError(f"{path} is larger than a table is read ({max_lines:,} lines or "
                                     f"{max_chars >> 20:,} MiB at most): split it, or pass the rows you need")
        yield line


def unique_names(header: list[str]) -> list[str]:
    """The header with a repeated name numbered, as TOPCAT and astropy do: ``mag, mag`` -> ``mag, mag_1``.

    A table keyed by column name would otherwise keep one of the two columns
    and drop the other without a word.  The first keeps its name; each repeat
    takes the lowest ``_<n>`` no other column has.  Empty names stay empty.
    """
    taken = set(header)
    seen: set[str] = set()
    out = []
    for name in header:
        if name and name in seen:
            n = 1
            while f"{name}_{n}" in taken:
                n += 1
            name = f"{name}_{n}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out


#: The separators a table may use; the header line says which (:func:`separator`).
SEPARATORS = (",", ";", "\t")
#: A number written with a decimal comma, as a spreadsheet in a European locale saves it beside ``;``.
_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d+,\d+(?:[eE][+-]?\d+)?\s*")


def separator(line: str) -> str:
    """The separator of a table from its header line: of ``,`` ``;`` and tab, the one found most outside quotes.

    A spreadsheet in a European locale saves "CSV" with ``;`` (the comma is its
    decimal mark) and VizieR writes tab-separated tables: read with commas, the
    header would be one column named ``id;mass;z``.  Only the header line is
    looked at, so the rows stay read as strictly; a tie, or no separator at all
    (a one-column table), is a comma.
    """
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    return max(counts, key=counts.__getitem__)  # the first of the most: a comma on a tie


def decimal_point(cell: str) -> str:
    """A number written with a decimal comma (``-1,5``, ``2,0e-3``) with a point instead; other cells as they are."""
    return cell.replace(",", ".") if _DECIMAL_COMMA.fullmatch(cell) else cell


class CsvRows(Sequence[tuple[int, list[str]]]):
    """The rows of a table as (file line, cells), kept as blocks of cells and where each row ends.

    A list of (line, list of cells) was two objects of the garbage collector's
    per row: a survey's table of 200,000 rows made 400,000, which every
    collection visited while they were young (gen1 collections of 140 ms on the
    GUI thread while a job read a truth file or a catalogue; the app collects on
    the GUI thread only, :mod:`app.collector`).  One list of every cell is one
    object, but a collection visits each of its references (50 ms for the 4
    million cells of a million-row table).  So the cells are kept in blocks of
    whole rows, each a numpy array of objects once full (:data:`_BLOCK` cells),
    which the collector does not visit; the line numbers and row ends are in
    arrays of int.  A row is made, as a fresh list, when asked.
    """

    def __init__(self) -> None:
        self.lines = array("q")
        self._ends = array("q")  # where each row's cells end, counted over all the cells
        self._blocks: list[np.ndarray] = []  # full blocks of cells, whole rows each
        self._firsts = array("q")  # the first cell of each full block
        self._open: list[str] = []  # the block being filled
        self._open_first = 0

    def append(self, line: int, row: list[str]) -> None:
        """Add the row ``row`` that starts on file line ``line``."""
        self.lines.append(line)
        self._open.extend(row)
        self._ends.append(self._open_first + len(self._open))
        if len(self._open) >= _BLOCK:
            self.close_block()

    def close_block(self) -> None:
        """Keep the cells added since the last block as a block (the reading calls it once more at the end)."""
        if self._open:
            self._blocks.append(object_array(self._open))
            self._firsts.append(self._open_first)
            self._open_first += len(self._open)
            self._open = []

    def _cells(self, start: int, end: int) -> list[str]:
        if start >= self._open_first:
            return self._open[start - self._open_first:end - self._open_first]
        k = bisect.bisect_right(self._firsts, start) - 1  # a row never spans two blocks
        first = self._firsts[k]
        return self._blocks[k][start - first:end - first].tolist()

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> tuple[int, list[str]]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[int, list[str]]]: ...

    def __getitem__(self, i: int | slice) -> tuple[int, list[str]] | list[tuple[int, list[str]]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]
        return self.lines[i], self._cells(self._ends[i - 1] if i else 0, self._ends[i])

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        start = 0
        for line, end in zip(self.lines, self._ends):
            yield line, self._cells(start, end)
            start = end


#: Cells in one block of :class:`CsvRows`.
_BLOCK = 1 << 16


def object_array(values: list[str]) -> np.ndarray:
    """``values`` (the same objects) as a numpy array of objects, which the garbage collector never visits.

    A collection visits every reference of a list it looks at (30 ms a list of a
    million); the app collects on the GUI thread only (:mod:`app.collector`), while
    a job may hold a table of a million rows for seconds.
    """
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def csv_rows(path: str | os.PathLike[str], error: type[ValueError] = ValueError, *, header_only: bool = False
             ) -> tuple[list[str], CsvRows]:
    """Header and (line number, row) of a CSV file, read strictly: one bad quote loses no line unsaid.

    Python's :mod:`csv` reader, left to itself, takes an unclosed quote as a
    field that runs to the next quote or to the end of the file: the rows after
    it vanish into one cell and the table is read as shorter than it is.  Here
    the reading is strict (``strict=True``) and a field holding a line break is
    taken for that unclosed quote, so such a file is refused with the line to
    fix; truth files and joined catalogues are read by this one function.
    The separator is a comma, or ``;`` or a tab when the header line is
    separated so (:func:`separator`); in a ``;`` table a number written with a
    decimal comma is read with a point (:func:`decimal_point`), as the
    spreadsheet that wrote it meant.

    Parameters
    ----------
    path : path-like
        A UTF-8 (or UTF-8 with BOM) CSV file with a header row, separated by
        commas, semicolons or tabs; read through :func:`bounded_lines`.
    error : type of ValueError
        The exception raised (a truth file's own, say).
    header_only : bool
        Read the header row alone (no rows returned): what a dialog offering the
        columns needs, at once, however long the table.

    Returns
    -------
    header : list of str
        The header's cells, stripped; a repeated name numbered (:func:`unique_names`).
    rows : CsvRows
        Each row after the header with the file line it starts on: a sequence of
        (int, list of str), with no object per row for the garbage collector.

    Raises
    ------
    ValueError
        ``error``, naming the file and the line: an empty file, an unclosed
        quote, a field over the :mod:`csv` field limit (128 KiB), another CSV
        error, text that is not UTF-8, or a table past the caps.
    """
    import csv

    line = 1
    unclosed = "a quote is not closed, so the lines after it would be lost; fix the quote"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = bounded_lines(fh, path)
            first = next(lines, "")
            sep = separator(first)
            reader = csv.reader(itertools.chain([first] if first else [], lines), delimiter=sep, strict=True)
            try:
                header = unique_names([h.strip() for h in next(reader)])
            except StopIteration:
                raise error(f"{path} is empty") from None
            rows = CsvRows()
            if header_only:
                return header, rows
            line = reader.line_num
            for row in reader:
                if any("\n" in f or "\r" in f for f in row):
                    raise error(f"{path}, line {line + 1}: {unclosed}")
                rows.append(line + 1, [decimal_point(c) for c in row] if sep == ";" else row)
                line = reader.line_num
            rows.close_block()
    except csv.Error as exc:
        if "end of data" in str(exc):
            raise error(f"{path}, line {line + 1}: {unclosed}") from None
        if "field limit" in str(exc):
            raise error(f"{path}, line {line + 1}: a field is longer than {csv.field_size_limit():,} characters, "
                        f"more than any table cell (binary data, or a quote that runs on?)") from None
        raise error(f"{path}, line {line + 1}: not a valid CSV row ({exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except TableTooLargeError as exc:
        raise error(str(exc)) from None
    return header, rows
