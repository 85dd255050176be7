"""The feature model a folder gets when the user leaves the choice to the app: one band or colour (issue 24).

Why
    Survey folders come in colour (SDSS gri, HSC) or in one band (a JWST NIRCam
    filter, one FITS plane per galaxy).  The label-trained ``galaxy_duo`` is the
    better representation of colour images, but it loses much of a single band:
    GC1-SDSS band i, linear probe 0.795 against 0.902 in colour.
    ``galaxy_trio`` adds a third network, self-supervised on Kaggle images with
    one band as a training condition, and keeps more of one band.  Measured in
    ``benchmarks/robustness.py`` on the one-band cells of the three labelled sets:
    the probe's mean rose by 0.033 (nine cells), DEC's by +0.006 balanced ACC and
    +0.003 ARI (twelve cells, 5 seeds; GC1-SDSS band i +0.041 / +0.040).  In
    colour, DEC on galaxy_trio is 0.005-0.007 lower than on galaxy_duo, so colour
    folders keep galaxy_duo (``docs/models.md``, "galaxy_trio").

What
    :data:`AUTO` is a model choice, not a model.  :func:`choose_model` resolves it
    from a sample of the folder's images.  A run records the model it really used,
    so a reopened run, its feature cache and its reproduction do not depend on this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: The model choice that lets the folder decide (the app's and the CLI's default).
AUTO = "auto"
#: What a folder of single-band images gets under :data:`AUTO`; colour folders get the registry's default.
ONE_BAND_MODEL = "galaxy_trio"
#: Images looked at: spread evenly over the folder's sorted paths, so the choice is the same every time.
SAMPLE = 16
#: A pixel is coloured when two of its channels differ by more than this (of 255): JPEG's chroma noise on a grey
#: image stays within 2-3.
CHANNEL_TOLERANCE = 6
#: An image is one band when at most this share of its pixels is coloured.  Grey images give 0; Kaggle's colour
#: cutouts shrunk to 1/6 of their size on their own sky (the faintest colour measured) 0.0144 at the median and
#: under 0.002 for about 7 % of images, so all 16 of a sample under it does not happen by chance.
COLOURED_SHARE = 0.002


def is_one_band(rgb: np.ndarray) -> bool:
    """Whether an RGB image (as :func:`core.images.io.read_image` gives it) holds one band in three channels.

    A grey JPEG or PNG, or a 2-D FITS plane, is read as three equal channels; a
    colour composite has channels that differ over most of the galaxy.
    """
    x = rgb.astype(np.int16)
    coloured = (np.abs(x[..., 0] - x[..., 1]) > CHANNEL_TOLERANCE) | (np.abs(x[..., 1] - x[..., 2]) > CHANNEL_TOLERANCE)
    return float(coloured.mean()) <= COLOURED_SHARE


def sample_paths(paths: Sequence[Path], sample: int = SAMPLE) -> list[Path]:
    """Up to ``sample`` of ``paths``, evenly spread over their sorted order (deterministic, no random draw)."""
    ordered = sorted(paths, key=str)
    if len(ordered) <= sample:
        return ordered
    return [ordered[int(i)] for i in np.linspace(0, len(ordered) - 1, sample).round()]


def sample_images(paths: Sequence[Path], sample: int = SAMPLE) -> list[np.ndarray]:
    """The readable images of :func:`sample_paths`, as 128 px RGB thumbnails: what the folder's rules look at.

    The pipeline reads them once and hands them to both rules, the model choice
    here and DEC's start (:mod:`core.features.framing`).  Unreadable images are
    left out (the pipeline lists them as skipped).
    """
    from core.images.io import ImageReadError, thumbnail

    images = []
    for path in sample_paths(paths, sample):
        try:
            images.append(thumbnail(path, 128))
        except (ImageReadError, OSError, ValueError):
            continue
    return images


def folder_is_one_band(paths: Sequence[Path], sample: int = SAMPLE,
                       images: Sequence[np.ndarray] | None = None) -> tuple[bool, int]:
    """Whether every readable image of a sample of ``paths`` is one band, and how many were read.

    ``images``: :func:`sample_images` of ``paths`` when the caller has read them
    already.  With none readable the folder counts as colour, the default's case.
    """
    images = sample_images(paths, sample) if images is None else images
    read = len(images)
    return read > 0 and all(is_one_band(rgb) for rgb in images), read


def choose_model(name: str, paths: Sequence[Path], default: str | None = None,
                 images: Sequence[np.ndarray] | None = None) -> tuple[str, str | None]:
    """The model to run for the choice ``name`` on ``paths``, and a sentence for the user when the folder decided.

    Parameters
    ----------
    name : str
        A registered model (returned as is) or :data:`AUTO`.
    paths : sequence of Path
        The folder's images.
    default : str, optional
        What colour folders get under :data:`AUTO` (default: the registry's default model).
    images : sequence of ndarray, optional
        :func:`sample_images` of ``paths``, when the caller has read them already.

    Returns
    -------
    (model, note)
        ``note`` is None unless :data:`AUTO` picked the one-band model.
    """
    if name != AUTO:
        return name, None
    if default is None:
        from core.features.extract import DEFAULT_MODEL

        default = DEFAULT_MODEL
    one_band, read = folder_is_one_band(paths, images=images)
    if not one_band:
        return default, None
    return ONE_BAND_MODEL, (f"The folder holds single-band images ({read} of {read} sampled are grey), so its "
                            f"features come from {ONE_BAND_MODEL}, which keeps more of one band than {default}. "
                            "Choose another model (the Features box, or --model) to override.")
