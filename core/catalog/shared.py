"""Images that a join gave the same catalogue row: told, not hidden.

A join gives every image at most one catalogue row, but two images can get the
same one: by id, ``a/g0.png`` and ``b/g0.png`` (or ``ngc0.png`` beside the band
set ``ngc0_g/_r/_i.fits``) both answer to ``g0``; by sky position, two cutouts of
one galaxy, or two galaxies closer than the radius to one source, are each
matched to their nearest source (TOPCAT's "best match for each row").  Both
images keep the row (for two cutouts of one galaxy it is right), but the
catalogue's values may belong to one of them only, so the join says how many
share a row and names the first pairs, as it names the catalogue rows it skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

SHARED_SHOWN = 3
"""How many groups of images sharing a row a join names; the rest are counted."""


def _name(path: str) -> str:
    """A file's name with its folder (``a/g0.png``), so two files of one name in two folders read apart."""
    return os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))


def shared_rows(paths: Sequence[str], index: np.ndarray,
                where: Callable[[int], str] | None = None) -> tuple[int, list[str]]:
    """How many images share their catalogue row with another image, and the first groups in words.

    Parameters
    ----------
    paths : sequence of str
        The images, in the order of ``index``.
    index : ndarray of int, shape (n_images,)
        Each image's catalogue row, -1 where it matched none.
    where : callable, optional
        A row's place in words (``line 7``: :func:`core.catalog.positions.row_place`); ``row N`` by default.

    Returns
    -------
    count : int
        Images whose row is also another image's (every member of each group counts).
    examples : list of str
        The first :data:`SHARED_SHOWN` groups by catalogue row, each as ``a/g0.png = b/g0.png (line 4)``,
        then ``and N more`` where there are more groups.
    """
    where = where or (lambda row: f"row {row + 1}")
    index = np.asarray(index, np.int64)
    matched = np.flatnonzero(index >= 0)
    rows, inverse, counts = np.unique(index[matched], return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    examples = []
    groups = rows[counts > 1]
    for r in groups[:SHARED_SHOWN]:
        members = matched[index[matched] == r]
        names = " = ".join(_name(str(paths[i])) for i in members[:3]) + (" = ..." if len(members) > 3 else "")
        examples.append(f"{names} ({where(int(r))})")
    if len(groups) > SHARED_SHOWN:
        examples.append(f"and {len(groups) - SHARED_SHOWN:,} more")
    return int(shared.sum()), examples


def shared_note(count: int, examples: Sequence[str]) -> str:
    """What :func:`shared_rows` found, in words (empty when no two images share a row)."""
    if not count:
        return ""
    return (f"{count:,} image(s) share their catalogue row with another image, so its values may be only one's: "
            + "; ".join(examples))
