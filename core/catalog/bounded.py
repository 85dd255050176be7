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

import os
from collections.abc import Iterator
from typing import TextIO

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
