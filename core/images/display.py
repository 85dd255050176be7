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
* ``lupton``: three bands composed into colour with
  ``astropy.visualization.make_lupton_rgb`` (Lupton et al. 2004): one asinh
  curve of the summed intensity scales all three bands, so a galaxy's colour
  stays its colour from the faint arms to the saturated core (the way SDSS
  and HSC colour images are made); the percentile limits set black and white.

``as read`` is the image as the feature models receive it (8-bit files
untouched, FITS and 16-bit through the fixed asinh of :mod:`core.images.fits`).
FITS cubes are shown as RGB when they have three planes, else one plane at a
time; with ``per_band`` every band gets its own limits (colours then show the
shape in each band rather than the ratio between them).  FITS files of one
galaxy named by band (``NGC1_g.fits``, ``NGC1_r.fits``, ``NGC1_i.fits``) are
shown together as one colour image (:func:`core.images.fits.band_files`): the
reddest band is red, the bluest blue, as the model gets them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.images.fits import BANDS, band_files
from core.images.io import FITS_SUFFIXES, IMAGE_READERS, ImageReadError, read_image, reader_for
from core.images.preprocess import Preprocessing, crop_image

STRETCHES = ("as read", "linear", "sqrt", "log", "asinh", "lupton")
__all__ = ["BANDS", "STRETCHES", "Stretch", "apply_stretch", "band_count", "band_files", "is_fits", "model_crop",
           "read_raw", "render", "stretch_limits"]
#: Lupton et al.'s softening: how far the asinh curve stays linear before it bends.
LUPTON_Q = 8.0
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


def is_fits(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a FITS file."""
    return Path(path).name.lower().endswith(FITS_SUFFIXES)


def read_raw(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the pixel values before any display stretch, as float32 (height, width, bands).

    The file's reader in :data:`core.images.io.IMAGE_READERS` (the registry the
    feature models read through) gives them: FITS through
    :func:`core.images.fits.read_fits_raw` (band files of one galaxy stacked,
    the bands in the colour order the model gets, rows flipped so north is up,
    NaNs kept); rasters the decoded RGB values
    (0-255, or 0-65535 for 16-bit files).  A reader without ``read_raw`` gives
    its RGB output.
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


def _bands(data: np.ndarray, stretch: Stretch) -> np.ndarray:
    """The planes shown, as float32 (height, width, 1 or 3)."""
    x = np.asarray(data, np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"expected an image of shape (h, w) or (h, w, bands), got {x.shape}")
    bands = x.shape[2]
    if stretch.band >= 0:
        return x[:, :, min(stretch.band, bands - 1)][:, :, None]
    return x[:, :, :1] if bands not in (1, 3) else x


def _groups(x: np.ndarray, stretch: Stretch) -> list[list[int]]:
    return [[i] for i in range(x.shape[2])] if stretch.per_band else [list(range(x.shape[2]))]


def stretch_limits(data: np.ndarray, stretch: Stretch) -> list[tuple[float, float] | None]:
    """The values shown black and white, one pair per band group (None for a group with no finite value).

    Limits from the pixels of a strided grid of at most ~65,000 positions: a sorted 424x424x3 frame
    costs ~20 ms per thumbnail, and the strided estimate moves a limit by well under a grey level.
    """
    x = _bands(data, stretch)
    found = False
    limits: list[tuple[float, float] | None] = []
    h, w = x.shape[:2]
    for group in _groups(x, stretch):
        step = max(1, int(np.ceil(np.sqrt(h * w * len(group) / 65536))))  # a strided grid, read in place
        sample = x[::step, ::step, group].ravel()
        sample = sample[np.isfinite(sample)]
        if sample.size == 0 and np.isfinite(x[:, :, group]).any():
            part = x[:, :, group]
            sample = part[np.isfinite(part)]
        if sample.size == 0:
            limits.append(None)
            continue
        found = True
        lo, hi = np.percentile(sample, [stretch.lower, stretch.upper])
        if hi <= lo:
            hi = lo + max(abs(float(lo)) * 1e-6, 1e-12)
        limits.append((float(lo), float(hi)))
    if not found:
        raise ImageReadError("the image holds no finite pixel values")
    return limits


def apply_stretch(data: np.ndarray, stretch: Stretch,
                  limits: list[tuple[float, float] | None] | None = None) -> np.ndarray:
    """Stretch linear pixel values for display.

    Parameters
    ----------
    data : ndarray of shape (height, width) or (height, width, bands)
        Pixel values (any real dtype; NaN marks masked pixels, shown black).
    stretch : Stretch
        Curve and percentile limits (``as read`` is treated as ``linear`` here).
    limits : list of (float, float), optional
        The values shown black and white per band group, from :func:`stretch_limits`
        (of the full-resolution frame when ``data`` is a shrunk copy of it); by default
        the percentiles of ``data``.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
        RGB for display.  One band becomes grey; three bands are RGB; with more,
        ``stretch.band`` picks one (the first when it is ``-1``).
    """
    x = _bands(data, stretch)
    if limits is None:
        limits = stretch_limits(x, Stretch(stretch.kind, stretch.lower, stretch.upper, stretch.per_band))
    finite = np.isfinite(x)
    if stretch.kind == "lupton":
        return _lupton(x, finite, limits)
    out = np.zeros(x.shape, np.float32)
    for group, lim in zip(_groups(x, stretch), limits):
        if lim is None:
            continue
        lo, hi = lim
        part, ok = x[:, :, group], finite[:, :, group]
        t = np.clip((np.where(ok, part, lo) - lo) / (hi - lo), 0.0, 1.0)
        out[:, :, group] = _curve(t, stretch.kind)
    rgb = (out * 255.0 + 0.5).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb)


def _lupton(x: np.ndarray, finite: np.ndarray, limits: list[tuple[float, float] | None]) -> np.ndarray:
    """Compose bands (height, width, 1 or 3) into RGB with ``make_lupton_rgb``; ``limits`` from :func:`stretch_limits`.

    The lower limit of each band (shared unless ``per_band``) is its black
    level; the span up to the upper limit is Lupton's linear stretch; one grey
    band is composed with itself.
    """
    from astropy.visualization import ManualInterval, make_lupton_rgb

    if x.shape[2] == 1:
        x, finite = np.repeat(x, 3, axis=2), np.repeat(finite, 3, axis=2)
    bands = [lim if lim is not None else (0.0, 1.0) for lim in limits]
    bands = bands * 3 if len(bands) == 1 else bands
    planes = [np.where(finite[:, :, b], x[:, :, b], bands[b][0]) for b in range(3)]
    # Lupton's curve asinh(Q I / stretch) / Q with the upper limit white: the curve asinh(8 I / span) / asinh(8),
    # linear over the first eighth of the span between the limits and logarithmic above, ending at 1 on the upper
    # limit.  Lupton's own Q = 8 and stretch = span left the upper limit at asinh(8) / 8, 35 % grey: the brightest
    # galaxy dim, and the "limits %" not meaning what they say.
    span = max(hi - lo for lo, hi in bands)
    q = float(np.arcsinh(LUPTON_Q))
    rgb = make_lupton_rgb(*planes, interval=[ManualInterval(vmin=lo) for lo, _ in bands], stretch=span * q / LUPTON_Q,
                          Q=q)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def band_count(path: str | os.PathLike[str]) -> int:
    """Number of planes of a FITS image (1 for 2-D; 3 for colour rasters)."""
    return int(read_raw(path).shape[2])


def model_crop(path: str | os.PathLike[str], prep: Preprocessing) -> Preprocessing:
    """The automatic crop of ``prep`` as the fixed crop the model gets for ``path``.

    The automatic crop is found on the image as the model reads it; found on a
    stretched image instead, it would move with the stretch (a log stretch lifts the
    sky's noise above the object's threshold).
    """
    from core.images.preprocess import central_object_fraction

    fraction = central_object_fraction(read_image(path))
    return Preprocessing("fixed", prep.crop_fraction if fraction is None else float(fraction))


def _shrink(raw: np.ndarray, longest: int) -> np.ndarray:
    """``raw`` area-averaged so its longest side is ``longest`` (unchanged when it is smaller already)."""
    from core.images.ops import resize_area

    h, w = raw.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return raw
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return resize_area(raw, size)  # all planes at once: the same per-plane arithmetic


def render(path: str | os.PathLike[str], stretch: Stretch | None = None, prep: Preprocessing | None = None,
           size: int | None = None) -> np.ndarray:
    """The image as shown: cropped as the model sees it, stretched, shrunk to fit ``size``.

    With ``size`` and a stretch, the frame is first area-averaged to the display size
    (so that the crop still covers ``size`` pixels), then stretched, then cropped: the
    curve and the percentile limits run on the pixels shown, not on the full-resolution
    frame (5-25 times fewer pixels for a thumbnail; ``benchmarks/display_speed.py``).
    The limits come from the full-resolution frame (a strided sample), as in the preview,
    so a thumbnail and the preview of one galaxy look alike; averaging before the curve
    moves a pixel by a few grey levels at most (``tests/core/test_display.py``).

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
    from core.images.ops import resize_area

    if stretch is None or stretch.kind == "as read":
        rgb = read_image(path)
    else:
        raw = read_raw(path)
        limits = None
        if prep is not None and prep.crop == "auto":  # the crop the model sees, found on the image it reads
            prep = model_crop(path, prep)
        if size is not None:
            fraction = 1.0 if prep is None or prep.crop == "none" else prep.crop_fraction
            limits = stretch_limits(raw, stretch)  # of the full frame: averaging would darken the sky
            raw = _shrink(_bands(raw, stretch), max(int(np.ceil(size / fraction)), 128))
        rgb = apply_stretch(raw, Stretch(stretch.kind, stretch.lower, stretch.upper, stretch.per_band)
                            if limits is not None else stretch, limits)
    if prep is not None:
        rgb = crop_image(rgb, prep)
    if size is not None:
        h, w = rgb.shape[:2]
        scale = size / max(h, w)
        if scale < 1:
            rgb = resize_area(rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
    return np.ascontiguousarray(rgb)
