"""Figures and folders made from a cluster: a montage PNG and a copy (or links) of its files.

A montage is the figure astronomers put in papers: a grid of the cluster's
galaxies, cropped as the model saw them, most confident first, each with its id.
Qt-free (Pillow draws the text and writes the PNG), so the CLI and scripts can make them.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.images.display import Stretch, render
from core.images.ids import image_ids
from core.images.io import ImageReadError
from core.images.preprocess import Preprocessing
from core.progress import Cancelled
from core.vocabulary import cluster_name


def montage(paths: Sequence[str], *, tile: int = 128, columns: int | None = None, gap: int = 4,
            prep: Preprocessing | None = None, stretch: Stretch | None = None, captions: bool = True,
            title: str = "", progress: Callable[[float, str], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """A grid of the images of ``paths``, as an RGB uint8 array.

    Parameters
    ----------
    paths : sequence of str
        Images in the order to show (row by row).
    tile : int
        Side of each square tile in pixels.
    columns : int, optional
        Tiles per row; default the ceiling of the square root of the count.
    gap : int
        Pixels between tiles (white, like a printed figure).
    prep : Preprocessing, optional
        Crop of each image (the run's, so the montage shows what the model saw).
    stretch : Stretch, optional
        Display stretch (default: as read).
    captions : bool
        Write each image's id (a band set's base name) in its tile's lower left corner.
    title : str
        A line of text above the grid.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
    """
    from PIL import Image, ImageDraw, ImageFont

    from core.images.ops import resize_area, resize_linear

    n = len(paths)
    ids = image_ids(paths) if captions else []
    if n == 0:
        raise ValueError("a montage needs at least one image")
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    head = 30 if title else 0
    out = np.full((head + rows * tile + (rows + 1) * gap, cols * tile + (cols + 1) * gap, 3), 255, np.uint8)
    if title:
        canvas = Image.fromarray(out)
        ImageDraw.Draw(canvas).text((gap, 21), title, fill=(0, 0, 0), font=ImageFont.load_default(16), anchor="ls")
        out = np.array(canvas)
    caption_font = ImageFont.load_default(10 if tile < 160 else 13)
    for i, path in enumerate(paths):
        if should_stop is not None and should_stop():
            raise Cancelled()
        try:
            img = render(path, stretch, prep)
            img = (resize_area if img.shape[0] >= tile else resize_linear)(img, (tile, tile))
        except ImageReadError:
            img = np.full((tile, tile, 3), 85, np.uint8)
        if captions:
            text = ids[i]
            canvas = Image.fromarray(np.ascontiguousarray(img))
            draw = ImageDraw.Draw(canvas)
            left, top, right, bottom = draw.textbbox((2, tile - 4), text, font=caption_font, anchor="ls")
            draw.rectangle((0, top - 2, min(tile, right + 2), tile), fill=(0, 0, 0))
            draw.text((2, tile - 4), text, fill=(255, 255, 255), font=caption_font, anchor="ls")
            img = np.array(canvas)
        r, c = divmod(i, cols)
        y, x = head + gap + r * (tile + gap), gap + c * (tile + gap)
        out[y : y + tile, x : x + tile] = img
        if progress is not None:
            progress((i + 1) / n, f"Montage {i + 1}/{n}")
    return out


def write_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an RGB uint8 array as PNG (through a temporary file, so no half-written figure is left)."""
    from core.images.decode import encode_png

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(encode_png(np.ascontiguousarray(image)))
    os.replace(tmp, path)
    return path


def cluster_montages(paths: Sequence[str], clusters: np.ndarray, confidence: np.ndarray, names: dict[int, str],
                     folder: str | os.PathLike[str], *, per_cluster: int = 36, tile: int = 128,
                     prep: Preprocessing | None = None, stretch: Stretch | None = None,
                     progress: Callable[[float, str], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """One montage PNG per cluster (``montage_<cluster>_<name>.png``): its ``per_cluster`` most confident galaxies.

    Returns the files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clusters = np.asarray(clusters)
    ids = sorted(int(c) for c in np.unique(clusters))
    written = []
    for k, c in enumerate(ids):
        rows = np.flatnonzero(clusters == c)
        rows = rows[np.argsort(-np.asarray(confidence)[rows], kind="stable")][:per_cluster]
        name = cluster_name(c, names)
        image = montage([paths[r] for r in rows], tile=tile, prep=prep, stretch=stretch,
                        title=f"{name}: {len(rows)} most confident of {int((clusters == c).sum())}",
                        should_stop=should_stop)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
        safe = safe.encode()[:96].decode(errors="ignore")  # a file name has 255 bytes; the cluster number is its key
        written.append(write_png(image, folder / f"montage_{c}_{safe}.png"))
        if progress is not None:
            progress((k + 1) / len(ids), f"Montage of {name}")
    return written


def copy_files(paths: Sequence[str], folder: str | os.PathLike[str], *, link: bool = False,
               progress: Callable[[float, str], None] | None = None,
               should_stop: Callable[[], bool] | None = None, gone: list[str] | None = None) -> list[Path]:
    """Copy (or symbolically link) ``paths`` into ``folder``; an existing file of the same name is kept.

    A galaxy stored as band files (``ngc1_g.fits``, ``ngc1_r.fits``,
    ``ngc1_i.fits``: :func:`core.images.fits.band_files`) is listed by one of
    them and comes with all of them; one alone, opened in the new folder, was a
    one-band galaxy.  Returns the new files.  Links point at the absolute
    original path.  ``progress(fraction, message)`` follows the files;
    ``should_stop()`` stops between two of them (raises ``Cancelled``: the
    files made so far stay, each whole, as :func:`shutil.copy2` wrote it).
    With a ``gone`` list, a source that is gone or cannot be read is put there
    and the others are still copied (no dangling link is made); without one it
    raises, as an error writing ``folder`` always does.
    """
    from core.images.fits import band_files
    from core.images.io import FITS_SUFFIXES

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    every = [member for p in paths
             for member in ((p.lower().endswith(FITS_SUFFIXES) and band_files(p)) or [p])]
    for i, p in enumerate(every):
        if should_stop is not None and should_stop():
            raise Cancelled()
        src = Path(p).resolve()
        dst = folder / src.name
        if gone is not None and not os.access(src, os.R_OK):  # moved, deleted or unreadable since it was clustered
            gone.append(str(p))
        elif not (dst.exists() or dst.is_symlink()):
            if link:
                dst.symlink_to(src)
            else:
                shutil.copy2(src, dst)
            made.append(dst)
        if progress is not None:
            progress((i + 1) / len(every), f"{'Linking' if link else 'Copying'} files {i + 1}/{len(every)}")
    return made


def crosstab(rows: Sequence[object], cols: Sequence[object]) -> tuple[list[object], list[object], np.ndarray]:
    """Counts of every (row value, column value) pair, e.g. cluster x label.

    Returns the sorted row values, the sorted column values and the counts of
    shape (n_row_values, n_column_values).  ``None`` column values (no label)
    are left out.
    """
    numbers = np.asarray(rows) if isinstance(rows, np.ndarray) else None
    if numbers is not None and numbers.dtype.kind in "iu" and numbers.ndim == 1 and len(numbers) == len(cols):
        # A million clusters against a few thousand labels (a reopened survey, issue 22): only the
        # labelled rows go through Python; the row values come from numpy.
        return crosstab_coded(numbers, *class_codes(cols))
    pairs = [(r, c) for r, c in zip(rows, cols) if c is not None]
    rv = sorted(set(rows), key=_order)
    cv = sorted({c for _, c in pairs}, key=_order)
    ri, ci = {v: i for i, v in enumerate(rv)}, {v: i for i, v in enumerate(cv)}
    table = np.zeros((len(rv), len(cv)), np.int64)
    for r, c in pairs:
        table[ri[r], ci[c]] += 1
    return rv, cv, table


def class_codes(cols: Sequence[object]) -> tuple[np.ndarray, list[object]]:
    """Each value's class number (-1 for None) and the classes in :func:`crosstab`'s order (numbers, then text).

    Made once for a column that does not change (a truth file, a joined column),
    the counts of each recount are one pass in numpy (:func:`crosstab_coded`).
    """
    labelled = np.flatnonzero(np.not_equal(np.asarray(cols, dtype=object), None))
    values = [cols[i] for i in labelled]
    classes = sorted(set(values), key=_order)
    index = {v: i for i, v in enumerate(classes)}
    codes = np.full(len(cols), -1, np.int64)
    codes[labelled] = np.fromiter((index[v] for v in values), np.int64, len(values))
    return codes, classes


def crosstab_coded(rows: np.ndarray, codes: np.ndarray, classes: list[object]) -> tuple[list[object], list[object], np.ndarray]:
    """:func:`crosstab` of integer ``rows`` against the classes :func:`class_codes` numbered (-1: not counted)."""
    uniques, row_of = np.unique(np.asarray(rows), return_inverse=True)  # integers: numeric order is _order's
    table = np.zeros((len(uniques), len(classes)), np.int64)
    hit = codes >= 0
    np.add.at(table, (row_of.ravel()[hit], codes[hit]), 1)
    return uniques.tolist(), list(classes), table


def _order(value: object) -> tuple[int, object]:
    """Numbers in numeric order before text in alphabetical order."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value))
    return (1, str(value))
