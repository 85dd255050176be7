"""FITS to the model's input: the bands found and put in colour order, one fixed stretch, recorded.

A survey delivers a galaxy as linear flux in one of three forms, and all three
reach the feature models through :func:`read_fits_rgb` (the reader of
:data:`core.images.io.IMAGE_READERS` for FITS):

* one 2-D image HDU: one band, given to the model as grey (the band in all
  three channels);
* a cube of ``n_bands x height x width`` (at most :data:`MAX_BANDS` planes);
* band files of one galaxy sharing a stem, ``<stem>_<band>.fits``,
  ``<stem>-<band>.fits`` or ``<stem>.<band>.fits`` (:func:`band_group`), two or
  more in a folder: read together as one image.

Colour order: the reddest band goes to R, the bluest to B (an SDSS/HSC
``g, r, i`` set gives ``(i, r, g) -> (R, G, B)``, the way the Galaxy Zoo JPEGs
the models trained on were made).  A band is known from the header
(``BANDS = 'g,r,i'``; ``BAND0..``/``FILTER0..`` or ``BAND1..``/``FILTER1..`` per
plane; ``FILTER``/``BAND`` of a 2-D image) or, for band files, from the name.
When every plane's band is known the planes are ordered by wavelength and, of
more than three, g, r, i are kept (else the reddest three); when not, the file
order stands: plane 0 is R, plane 1 G, plane 2 B (the order of an RGB cube, as
DS9 writes one), and of more than three planes the first three are used.  Two
bands give R = the redder, B = the bluer, G = their mean.

The stretch the model sees is fixed (:data:`MODEL_STRETCH`), computed from the
image alone: each band's sky (median) is subtracted, then one robust asinh
curve (noise from the median absolute deviation, linear within 10 noise levels,
1 at the 99.7th percentile) scales all bands, so colours survive.  Ten noise
levels, not three, keep the sky as dark and quiet as in the survey JPEGs the
models trained on: on 700 Kaggle training-split images turned back into linear
flux, k-means on galaxy_cnn features reached 0.929 / 0.762 (bal. ACC / ARI)
with 10, 0.847 / 0.240 with 3, 0.931 / 0.702 on the JPEGs themselves
(``benchmarks/fits_stretch.py``; ``docs/user-guide.md``, FITS).  It never
depends on the display stretch the user picks in the app
(:mod:`core.images.display`), and every run records it in its sidecar.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from core.images.io import FITS_MAX_PIXELS, FITS_SUFFIXES, ImageReadError, asinh_stretch

#: Band names by wavelength (SDSS ugriz, HSC grizy, then near-infrared), bluest first.
BANDS = ("u", "g", "r", "i", "z", "y", "j", "h", "k", "ks")
#: Effective wavelengths in micrometres of the named bands (SDSS/HSC, 2MASS).
WAVELENGTH_UM = {"u": 0.355, "g": 0.47, "r": 0.62, "i": 0.75, "z": 0.89, "y": 0.98,
                 "j": 1.25, "h": 1.65, "ks": 2.15, "k": 2.2}
#: Most planes a cube may have to be read as bands of one image (more: a spectral cube or a time series).
MAX_BANDS = 16
#: The stretch the feature models see for linear data (FITS, 16-bit rasters): fixed, recorded in every sidecar.
MODEL_STRETCH: dict[str, object] = {
    "name": "asinh", "version": 2,
    "sky": "median of each band's finite pixels, subtracted per band",
    "noise": "1.4826 x median absolute deviation of all sky-subtracted pixels",
    "softening_noise_levels": 10.0, "upper_percentile": 99.7,
    "scale": "one for all bands (colours kept)", "nan": "sky",
    "colour": "reddest band R, bluest B (known bands by wavelength, else file order); one band grey",
    "orientation": "FITS rows flipped: north up",
}
_FILTER_NUMBER = re.compile(r"^f(\d{3,4})(w|m|n|lp|w2)?$")


def band_wavelength(name: str | None, telescope: str = "") -> float | None:
    """Wavelength in micrometres of a band or filter name, or None when it is not known.

    Accepts the bare band (``g``, ``Ks``), survey spellings (``HSC-G``,
    ``HSC-R2``, ``SDSS_r``, ``DECam g``, ``g'``) and HST/JWST filters
    (``F814W`` is 814 nm; ``F200W`` on JWST, and any three-digit number below
    200, is in units of 10 nm: 2.00 um; four digits, MIRI's ``F1000W``: 10.0 um).
    """
    if not name:
        return None
    text = str(name).strip().lower()
    found = _FILTER_NUMBER.match(text)
    if found:
        number = int(found.group(1))
        if len(found.group(1)) == 4 or number < 200 or "jwst" in telescope.lower():
            return number / 100.0
        return number / 1000.0
    token = re.split(r"[^a-z0-9]+", text.replace("'", ""))
    last = next((t for t in reversed(token) if t), "")
    last = last.rstrip("0123456789") or last
    return WAVELENGTH_UM.get(last)


def header_bands(header, n: int) -> list[str | None]:
    """The band name of each of ``n`` planes as the header gives it (None where it says nothing).

    ``BANDS``/``FILTERS`` listing ``n`` names (comma or space separated), else
    ``BAND<k>``/``FILTER<k>`` per plane counted from 0 or from 1, else for one
    plane ``FILTER``, ``BAND`` or ``FILTNAM1``.
    """
    for key in ("BANDS", "FILTERS"):
        value = header.get(key)
        if isinstance(value, str):
            names = [v for v in re.split(r"[,\s]+", value.strip()) if v]
            if len(names) == n:
                return names
    for key in ("BAND", "FILTER"):
        for start in (0, 1):
            names = [header.get(f"{key}{k + start}") for k in range(n)]
            if all(isinstance(v, str) and v.strip() for v in names):
                return [str(v).strip() for v in names]
    if n == 1:
        for key in ("FILTER", "BAND", "FILTNAM1"):
            value = header.get(key)
            if isinstance(value, str) and value.strip():
                return [value.strip()]
    return [None] * n


def fits_shape(header) -> tuple[int, ...]:
    """The data axes a FITS header declares (``ZNAXISn`` for a tile-compressed image), size-1 axes dropped."""
    prefix = "ZNAXIS" if "ZNAXIS" in header else "NAXIS"
    try:
        axes = tuple(int(header.get(f"{prefix}{i}", 0)) for i in range(1, int(header.get(prefix, 0)) + 1))
    except (TypeError, ValueError):
        raise ImageReadError("the FITS header's axis sizes are not whole numbers") from None
    if any(n < 0 for n in axes):
        raise ImageReadError("the FITS header declares a negative axis size")
    return tuple(n for n in axes if n != 1)


def image_hdu(hdul):  # -> an astropy HDU or None
    """The HDU of an opened FITS file that holds its image: the first image HDU of 2-D or more (size-1 axes
    dropped).  The pixels and the sky position (:func:`core.catalog.sky.wcs_centre`) are both read from it:
    a table HDU (NAXIS 2 too) or a 1 x N primary before the image gave the position of another HDU, or none."""
    return next((h for h in hdul if getattr(h, "is_image", False) and len(fits_shape(h.header)) >= 2), None)


def read_fits_hdu(path: str | os.PathLike[str], dtype: np.dtype | type | None = None) -> tuple[np.ndarray, object]:
    """The pixels (squeezed, BSCALE/BZERO applied) and header of a FITS file's first image HDU of 2-D or more.

    Tile-compressed HDUs are read like plain ones; integer pixels equal to the
    header's ``BLANK`` become NaN (float32).  Damaged files, files without an
    image and images over :data:`core.images.io.FITS_MAX_PIXELS` raise
    :class:`ImageReadError` with the reason.
    """
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = image_hdu(hdul)
            if hdu is None:
                raise ImageReadError("the FITS file has no image data (no 2-D or 3-D HDU)")
            # The header says how big the data is before any of it is read: a small
            # .fits.gz (zeros compress 1000:1) can declare gigabytes of pixels.
            pixels = int(np.prod(fits_shape(hdu.header), dtype=np.int64))
            if pixels > FITS_MAX_PIXELS:
                raise ImageReadError(f"the FITS image is too large ({pixels:,} pixels; at most "
                                     f"{FITS_MAX_PIXELS:,} are read): cut it out smaller")
            header = hdu.header.copy()
            data = np.asarray(hdu.data)
    except ImageReadError:
        raise
    except Exception as exc:  # astropy raises many types for damaged files
        raise ImageReadError(f"not a readable FITS file ({type(exc).__name__}: {exc})") from exc
    if data.dtype.kind not in "fiu":
        raise ImageReadError(f"unsupported FITS data type {data.dtype} (pixels must be integers or reals)")
    blank = header.get("BLANK")
    if data.dtype.kind in "iu" and isinstance(blank, int):
        # BLANK is the value as stored; astropy gives unsigned data (BITPIX 16 or 32 with BZERO 2**15 or 2**31)
        # scaled to its physical values, so the stored value is compared after the same scaling
        physical = blank * header.get("BSCALE", 1) + header.get("BZERO", 0)
        if float(physical).is_integer() and (data == int(physical)).any():
            data = np.where(data == int(physical), np.nan, data.astype(np.float32))
    return np.squeeze(np.asarray(data, dtype)), header


def _planes(data: np.ndarray) -> np.ndarray:
    """A squeezed FITS array as (height, width, bands): cubes are (bands, y, x); (y, x, 3 or 4) is accepted too."""
    if data.ndim == 2:
        return data[:, :, None]
    if data.ndim == 3 and data.shape[0] <= MAX_BANDS:
        return np.moveaxis(data, 0, -1)
    if data.ndim == 3 and data.shape[2] in (3, 4) and min(data.shape[:2]) > MAX_BANDS:
        return data[:, :, :3]
    if data.ndim == 3:
        raise ImageReadError(f"a FITS cube of {data.shape[0]} planes ({'x'.join(map(str, data.shape))}) is "
                             f"not bands of one image (at most {MAX_BANDS}): a spectral cube or a time "
                             f"series? Save the bands you want as 2-D images")
    raise ImageReadError(f"unsupported FITS data shape {'x'.join(map(str, data.shape))}: "
                         f"a 2-D image or a cube of bands (bands x height x width) is needed")


def colour_order(names: list[str | None], telescope: str = "") -> list[int]:
    """Which planes become R, G, B (1 index: grey; 2: red and blue, green their mean), reddest first.

    By wavelength when every plane's band is known (of more than three: g, r, i
    when present, else the reddest three), else the file order.
    """
    waves = [band_wavelength(n, telescope) for n in names]
    if len(names) == 1:
        return [0]
    if all(w is not None for w in waves):
        order = sorted(range(len(names)), key=lambda k: waves[k], reverse=True)  # type: ignore[arg-type,return-value]
        if len(order) > 3:
            gri = [waves.index(WAVELENGTH_UM[b]) for b in ("i", "r", "g") if WAVELENGTH_UM[b] in waves]
            order = gri if len(gri) == 3 else order[:3]
        return order
    return list(range(min(3, len(names))))


def to_colour(planes: np.ndarray, order: list[int]) -> np.ndarray:
    """The planes ``order`` picks as (height, width, 1 or 3), reddest first; two become red, mean, blue."""
    picked = planes[:, :, order]
    if picked.shape[2] == 2:
        mean = np.nanmean(picked, axis=2, keepdims=True) if np.isnan(picked).any() else picked.mean(2, keepdims=True)
        picked = np.concatenate([picked[:, :, :1], mean, picked[:, :, 1:]], axis=2)
    return picked


def _band_of_stem(stem: str) -> tuple[str, str, str] | None:
    """``(base, separator, band)`` when a file stem ends in ``_<band>``, ``-<band>`` or ``.<band>``."""
    for sep in ("_", "-", "."):
        base, _, band = stem.rpartition(sep)
        if base and band.lower() in BANDS:
            return base, sep, band.lower()
    return None


def _band_of_name(name: str) -> str | None:
    split = _split_fits_name(name)
    parsed = None if split is None else _band_of_stem(split[0])
    return None if parsed is None else parsed[2]


#: The FITS suffixes, longest first (``.fits.gz`` before ``.gz``-less ones), sorted once.
_SUFFIXES_LONGEST_FIRST = tuple(sorted(FITS_SUFFIXES, key=len, reverse=True))


def _split_fits_name(name: str) -> tuple[str, str] | None:
    lower = name.lower()
    suffix = next((s for s in _SUFFIXES_LONGEST_FIRST if lower.endswith(s)), None)
    return None if suffix is None else (name[: -len(suffix)], name[len(name) - len(suffix):])


#: A folder's band sets (:func:`band_index`): (base, separator, lower-case FITS suffix) -> band -> file name.
BandIndex = dict[tuple[str, str, str], dict[str, str]]


def band_index(names: Iterable[str]) -> BandIndex:
    """Every FITS name of one folder that ends in a band, grouped by galaxy, in one pass over the names.

    :func:`band_group` compared one name with every name of its folder, and the
    scanner asked it for every file: a folder of 15,000 band files took 42 s to
    scan, a survey's folder hours.  Indexed once, each galaxy's bands are one
    lookup.  A band written twice (``_i`` and ``_I``) keeps the first name met.
    """
    index: BandIndex = {}
    for other in names:
        split = _split_fits_name(other)
        parsed = None if split is None else _band_of_stem(split[0])
        if parsed is not None:
            index.setdefault((parsed[0], parsed[1], split[1].lower()), {}).setdefault(parsed[2], other)
    return index


def band_group(name: str, names: Iterable[str] | None = None, *, index: BandIndex | None = None) -> list[str] | None:
    """The file names of the band set ``name`` belongs to, reddest first, or None when it is alone.

    Only names are compared: ``<base><sep><band><suffix>`` with ``sep`` one of
    ``_ - .``, a band of :data:`BANDS` (any case) and the same FITS suffix, and at
    least two bands for one base.  Of four or more, g, r, i are taken when
    present, else the reddest three.  The first name is the set's representative
    (the image the scanner lists; the others are read with it).  The folder's
    names come as ``names`` or, for many calls on one folder, as their
    :func:`band_index`.
    """
    split = _split_fits_name(name)
    parsed = None if split is None else _band_of_stem(split[0])
    if parsed is None:
        return None
    base, sep, _ = parsed
    found = (band_index(names or ()) if index is None else index).get((base, sep, split[1].lower()), {})
    if len(found) < 2:
        return None
    by_wave = sorted(found, key=BANDS.index, reverse=True)
    chosen = ["i", "r", "g"] if all(b in found for b in "gri") else by_wave[:3]
    return [found[b] for b in chosen]


#: The band index of the folders read last (:func:`folder_band_index`): folder -> (its mtime, index).
_FOLDER_INDEX: OrderedDict[str, tuple[int, BandIndex]] = OrderedDict()
_FOLDER_INDEX_LOCK = threading.Lock()
#: Folders whose band index is kept.
FOLDER_INDEX_KEPT = 8
#: A folder changed this recently (ns) is listed again, whatever its mtime says.
RACY_NS = 2_000_000_000


def folder_band_index(folder: str | os.PathLike[str]) -> BandIndex:
    """The :func:`band_index` of a folder's files, listed once while the folder is unchanged (its mtime).

    Every read, thumbnail and fingerprint of a band file asks for its set: the
    folder was listed and searched each time (6.7 ms a call in a folder of
    15,000 band files).  A folder changed in the last :data:`RACY_NS` is listed
    again each time (a file added within the tick of the folder's clock would
    not move its mtime: git's "racy" rule).  Safe from any thread.  Raises
    ``OSError`` when the folder cannot be listed.
    """
    key = os.fspath(folder)
    mtime = os.stat(key).st_mtime_ns
    with _FOLDER_INDEX_LOCK:
        hit = _FOLDER_INDEX.get(key)
        if hit is not None and hit[0] == mtime and time.time_ns() - mtime > RACY_NS:
            _FOLDER_INDEX.move_to_end(key)
            return hit[1]
    index = band_index(os.listdir(key))
    with _FOLDER_INDEX_LOCK:
        _FOLDER_INDEX[key] = (mtime, index)
        while len(_FOLDER_INDEX) > FOLDER_INDEX_KEPT:
            _FOLDER_INDEX.popitem(last=False)
    return index


def band_files(path: str | os.PathLike[str]) -> list[Path] | None:
    """The band files of the galaxy of a FITS file named by band, reddest first (:func:`band_group`), or None."""
    p = Path(path)
    split = _split_fits_name(p.name)
    if split is None or _band_of_stem(split[0]) is None:
        return None
    try:
        index = folder_band_index(p.parent)
    except OSError:
        return None
    group = band_group(p.name, index=index)
    return None if group is None else [p.parent / n for n in group]


def read_fits_planes(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str | None], str]:
    """Linear pixels of one FITS file or band set: float32 (height, width, bands), north up, NaNs kept.

    Returns the planes in the file's order (a band set's reddest first), each
    plane's band name where known, and the header's ``TELESCOP``.  Band files of
    different sizes raise :class:`ImageReadError`.
    """
    p = Path(path)
    group = band_files(p)
    if group is not None:
        planes = []
        for f in group:
            try:
                planes.append(read_fits_hdu(f, np.float32)[0])
            except ImageReadError as exc:  # say which band of the set it is
                raise ImageReadError(f"band file {f.name}: {exc}") from exc
        shapes = {q.shape for q in planes}
        if len(shapes) != 1 or planes[0].ndim != 2:
            raise ImageReadError(f"the band files {', '.join(f.name for f in group)} are not 2-D images of one size "
                                 f"({', '.join('x'.join(map(str, q.shape)) for q in planes)})")
        names: list[str | None] = [_band_of_name(f.name) for f in group]
        return np.ascontiguousarray(np.stack(planes, axis=-1)[::-1]), names, ""
    data, header = read_fits_hdu(p, np.float32)
    planes = _planes(data)
    telescope = str(header.get("TELESCOP", ""))  # type: ignore[attr-defined]
    return np.ascontiguousarray(planes[::-1]), header_bands(header, planes.shape[2]), telescope


def read_fits_raw(path: str | os.PathLike[str]) -> np.ndarray:
    """The display's linear pixels: every plane, reddest first where the bands are known, float32 (h, w, bands).

    A band set gives the planes the model is given (two bands: red, their mean,
    blue); a cube keeps all its planes (the display's band picker reaches each), in
    colour order when every band is known.
    """
    planes, names, telescope = read_fits_planes(path)
    if len(names) == 2:  # red, mean, blue: as the model gets them
        return np.ascontiguousarray(to_colour(planes, colour_order(names, telescope)))
    if all(band_wavelength(n, telescope) is not None for n in names) and len(names) > 1:
        order = colour_order(names, telescope)
        rest = [k for k in range(len(names)) if k not in order]
        planes = planes[:, :, order + rest]
    return np.ascontiguousarray(planes)


def model_rgb(planes: np.ndarray, names: list[str | None], telescope: str = "") -> np.ndarray:
    """Linear flux (height, width, bands) to the model's RGB uint8 with the fixed stretch (:data:`MODEL_STRETCH`).

    The one function from linear data to what the feature models see, whatever
    the file held: bands put in colour order (:func:`colour_order`), one band
    replicated to three channels.  The display stretch plays no part.
    """
    colour = to_colour(planes, colour_order(names, telescope))
    stretched = asinh_stretch(colour, float(MODEL_STRETCH["softening_noise_levels"]),  # type: ignore[arg-type]
                              float(MODEL_STRETCH["upper_percentile"]))  # type: ignore[arg-type]
    rgb = (stretched * 255.0 + 0.5).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb)


def read_fits_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """A FITS image, cube or band set as the feature models see it: RGB uint8 (height, width, 3), north up."""
    return model_rgb(*read_fits_planes(path))
