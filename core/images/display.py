"""What the user sees of an image: the model's crop and a display stretch.

Display only: nothing here feeds the feature models, which keep reading images
through :func:`core.images.io.read_image` and :mod:`core.images.preprocess`.  An
astronomer judges morphology on a stretch of their choosing (faint arms under
``asinh`` or ``log``, a saturated core under ``linear`` with a high upper
limit), so the stretch is a parameter of the view, never of the catalogue.

The stretches follow the usual astronomical definitions (as in
``astropy.visualization``): the data are first mapped to ``t`` in [0, 1]
between two percentile limits, then

* ``linear``: ``t``
* ``sqrt``: ``sqrt(t)``
* ``log``: ``log(a t + 1) / log(a + 1)`` with ``a = 1000``
* ``asinh``: ``asinh(t / b) / asinh(1 / b)`` with ``b = 0.1``

``as read`` is the image as the feature models receive it (8-bit files
untouched, FITS and 16-bit through the robust asinh of :mod:`core.images.io`).
FITS cubes are shown as RGB when they have three planes, else one plane at a
time; with ``per_band`` every band gets its own limits (colours then show the
shape in each band rather than the ratio between them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.images.io import IMAGE_READERS, ImageReadError, read_image, reader_for
from core.images.preprocess import Preprocessing, crop_image

STRETCHES = ("as read", "linear", "sqrt", "log", "asinh")
LOG_A = 1000.0
ASINH_B = 0.1


@dataclass(frozen=True)
class Stretch:
    """A display stretch.

    Parameters
    ----------
    kind : {"as read", "linear", "sqrt", "log", "asinh"}
        The curve; ``as read`` shows what the feature model gets.
    lower, upper : float
        Percentiles of the data that map to black and white.
    per_band : bool
        Separate limits for each band of a colour image or FITS cube.
    band : int
        For FITS cubes: ``-1`` shows the three planes as RGB (or plane 0 when
        there are not three), ``i >= 0`` shows plane ``i`` in grey.
    """

    kind: str = "as read"
    lower: float = 0.5
    upper: float = 99.5
    per_band: bool = False
    band: int = -1

    def __post_init__(self) -> None:
        if self.kind not in STRETCHES:
            raise ValueError(f"stretch must be one of {STRETCHES}, not {self.kind!r}")
        if not 0.0 <= self.lower < self.upper <= 100.0:
            raise ValueError("percentile limits need 0 <= lower < upper <= 100")


def read_raw(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the pixel values before any display stretch, as float32 (height, width, bands).

    Asks the file's reader in :data:`core.images.io.IMAGE_READERS` (the same
    registry the feature models read through): FITS gives the first HDU with
    image data, rows flipped so north is up, planes moved last, NaNs kept;
    rasters give the decoded RGB values (0-255, or 0-65535 for 16-bit files).
    A reader without ``read_raw`` gives its RGB output.
    """
    p = Path(path)
    reader = reader_for(p) or IMAGE_READERS.get(IMAGE_READERS.default)
    if reader.options.read_raw is None:
        return np.ascontiguousarray(read_image(p), dtype=np.float32)
    return reader.options.read_raw(p)


def _curve(t: np.ndarray, kind: str) -> np.ndarray:
    if kind == "sqrt":
        return np.sqrt(t)
    if kind == "log":
        return np.log1p(LOG_A * t) / np.log1p(LOG_A)
    if kind == "asinh":
        return np.arcsinh(t / ASINH_B) / np.arcsinh(1.0 / ASINH_B)
    return t


def apply_stretch(data: np.ndarray, stretch: Stretch) -> np.ndarray:
    """Stretch linear pixel values for display.

    Parameters
    ----------
    data : ndarray of shape (height, width) or (height, width, bands)
        Pixel values (any real dtype; NaN marks masked pixels, shown black).
    stretch : Stretch
        Curve and percentile limits (``as read`` is treated as ``linear`` here).

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
        RGB for display.  One band becomes grey; three bands are RGB; with more,
        ``stretch.band`` picks one (the first when it is ``-1``).
    """
    x = np.asarray(data, np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"expected an image of shape (h, w) or (h, w, bands), got {x.shape}")
    bands = x.shape[2]
    if stretch.band >= 0:
        x = x[:, :, min(stretch.band, bands - 1)][:, :, None]
    elif bands not in (1, 3):
        x = x[:, :, :1]
    finite = np.isfinite(x)
    if not finite.any():
        raise ImageReadError("the image holds no finite pixel values")
    out = np.zeros(x.shape, np.float32)
    groups = [[i] for i in range(x.shape[2])] if stretch.per_band else [list(range(x.shape[2]))]
    for group in groups:
        part, ok = x[:, :, group], finite[:, :, group]
        values = part[ok]
        if values.size == 0:
            continue
        # Limits from at most ~65,000 evenly strided values: a sorted 424x424x3 frame costs ~20 ms per
        # thumbnail on the GUI thread, and the strided estimate moves a limit by well under a grey level.
        sample = values[:: max(1, values.size // 65536)]
        lo, hi = np.percentile(sample, [stretch.lower, stretch.upper])
        if hi <= lo:
            hi = lo + max(abs(float(lo)) * 1e-6, 1e-12)
        t = np.clip((np.where(ok, part, lo) - lo) / (hi - lo), 0.0, 1.0)
        out[:, :, group] = _curve(t, stretch.kind)
    rgb = (out * 255.0 + 0.5).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb)


def band_count(path: str | os.PathLike[str]) -> int:
    """Number of planes of a FITS image (1 for 2-D; 3 for colour rasters)."""
    return int(read_raw(path).shape[2])


def render(path: str | os.PathLike[str], stretch: Stretch | None = None, prep: Preprocessing | None = None,
           size: int | None = None) -> np.ndarray:
    """The image as shown: cropped as the model sees it, stretched, shrunk to fit ``size``.

    Parameters
    ----------
    path : path-like
        Image file.
    stretch : Stretch, optional
        Display stretch; None or ``as read`` shows the pixels the model reads.
    prep : Preprocessing, optional
        Crop to apply (the run's); None shows the whole frame.
    size : int, optional
        Longest side of the result; None keeps the resolution.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
    """
    import cv2

    if stretch is None or stretch.kind == "as read":
        rgb = read_image(path)
    else:
        rgb = apply_stretch(read_raw(path), stretch)
    if prep is not None:
        rgb = crop_image(rgb, prep)
    if size is not None:
        h, w = rgb.shape[:2]
        scale = size / max(h, w)
        if scale < 1:
            rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)
