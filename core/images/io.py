"""Finding and reading galaxy images: JPEG, PNG, TIFF and FITS, one reader per format.

Every reader returns an RGB ``uint8`` array of shape (height, width, 3): the
form the feature models, the thumbnails and the app all share.  Data with more
than 8 bits (16-bit PNG/TIFF, float FITS) goes through a robust asinh stretch,
the usual way astronomers display a galaxy whose core is thousands of times
brighter than its outskirts.  A file that cannot be read raises
:class:`ImageReadError` with a reason a person can act on; callers list it and
carry on with the rest of the folder.

The formats are the entries of :data:`IMAGE_READERS` (by file suffix): each
entry's factory decodes a file to RGB ``uint8`` for the feature models and the
thumbnails, and its :class:`ReaderOptions` give its suffixes and, for the
display stretches, the pixel values before any stretch.  Scanning, image ids,
feature extraction (:func:`read_image`) and display
(:func:`core.images.display.read_raw`) all ask the registry, so a new format
is one reader function and one :meth:`~core.registry.Registry.add` call.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.registry import Registry

RASTER_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz", ".fit.fz", ".fts.fz")
#: Folders never scanned: the project store and hidden folders.
SKIP_DIRS = {".galaxy-sorter", "__pycache__"}


class ImageReadError(Exception):
    """An image file could not be read; ``str(error)`` says why."""


class NoImagesFound(FileNotFoundError):
    """A folder holds no image any reader of :data:`IMAGE_READERS` claims; ``hint`` says what to do."""

    hint = "Choose a folder that holds galaxy images (JPEG, PNG, TIFF or FITS)."


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a run, with the reason shown to the user."""

    path: str
    reason: str


@dataclass(frozen=True)
class ReaderOptions:
    """What callers need to know about an image reader.

    Attributes
    ----------
    suffixes : tuple of str
        Lower-case file suffixes the reader claims (``.fits.gz`` counts as one suffix).
    read_raw : callable(Path) -> ndarray, optional
        The pixel values before any display stretch, float32 of shape (height,
        width, bands) (:func:`core.images.display.read_raw`); None: the display
        stretches the reader's RGB output.
    """

    suffixes: tuple[str, ...]
    read_raw: Callable[[Path], np.ndarray] | None = None


#: The image readers: name -> entry whose factory is ``read(path) -> RGB uint8 (height, width, 3)``
#: (raising :class:`ImageReadError` with a reason), with :class:`ReaderOptions`.  A file goes to the
#: reader with the longest matching suffix (:func:`reader_for`).
IMAGE_READERS: Registry[ReaderOptions] = Registry("image reader", default="raster", options_type=ReaderOptions)


def image_suffixes() -> tuple[str, ...]:
    """Every suffix some reader of :data:`IMAGE_READERS` claims, longest first."""
    return tuple(sorted({s for e in IMAGE_READERS for s in e.options.suffixes}, key=len, reverse=True))


def reader_for(path: str | os.PathLike[str]):  # -> Entry[ReaderOptions] | None
    """The entry of :data:`IMAGE_READERS` that reads ``path`` (by suffix, the longest match), or None."""
    lower = Path(path).name.lower()
    best, best_len = None, 0
    for entry in IMAGE_READERS:
        for suffix in entry.options.suffixes:
            if lower.endswith(suffix) and len(suffix) > best_len:
                best, best_len = entry, len(suffix)
    return best


def is_image_name(name: str) -> bool:
    """Return True when some reader of :data:`IMAGE_READERS` claims ``name``'s suffix."""
    return reader_for(name) is not None


def printable_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` as text that can always be printed and stored (undecodable bytes as ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _name_is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is not UTF-8, kept by Python as a lone surrogate
        return False
    return True


#: The ORIGIN card of a catalogue written by :mod:`core.catalog.tables` (FITS binary table, no pixels).
CATALOGUE_ORIGIN = b"ORIGIN  = 'Galaxy Sorter'"


def is_catalogue_fits(path: str | os.PathLike[str]) -> bool:
    """Whether a ``.fits`` file is a catalogue this program wrote (an empty primary HDU and ``ORIGIN = 'Galaxy Sorter'``).

    Reads at most the first 64 KiB; the scanner asks only for FITS files that
    have a sidecar beside them (``<name>.json``, or ``<stem>.json`` from older versions), as every catalogue does.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(FINGERPRINT_BLOCK)
    except OSError:
        return False
    primary = [head[i:i + 80] for i in range(0, min(len(head), 2880), 80)]
    no_pixels = any(c.startswith(b"NAXIS   =") and c[10:30].strip() == b"0" for c in primary)
    return no_pixels and CATALOGUE_ORIGIN in head


def scan_images(folder: str | os.PathLike[str], recursive: bool = True) -> tuple[list[Path], list[SkippedFile]]:
    """Return the image files under ``folder`` (sorted) and what could not be scanned, with reasons.

    Hidden folders and the project store (``.galaxy-sorter``) are not entered,
    and a FITS catalogue this program wrote (:func:`is_catalogue_fits`, checked
    only for a FITS file with a ``.json`` sidecar beside it) is not an image.
    Band files of one galaxy (:func:`core.images.fits.band_group`) are one
    image, listed as the reddest band's file.
    An image whose name is not valid UTF-8 (it could be neither stored nor
    exported faithfully) and a subfolder that cannot be listed are reported as
    skipped instead of stopping or silently shrinking the run.
    Raises ``NotADirectoryError`` when ``folder`` is not a readable folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    found: list[Path] = []
    skipped: list[SkippedFile] = []

    def on_error(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else root
        if Path(where) == root:
            raise NotADirectoryError(f"{root} cannot be read ({exc.strerror})")
        skipped.append(SkippedFile(printable_path(where),
                                   f"folder cannot be read ({exc.strerror}); its images are left out"))

    indexes: dict[str, object] = {}  # each folder's band index (core.images.fits.band_index), made once

    def keep(dirpath: str | Path, name: str, names: set[str]) -> bool:
        if not (is_image_name(name) and not name.startswith(".")):
            return False
        if name.lower().endswith(FITS_SUFFIXES):
            sidecars = {f"{name}.json", f"{image_id(name)}.json"}  # core.catalog.pair.sidecar_path; older <stem>.json
            if sidecars & names and is_catalogue_fits(Path(dirpath) / name):
                return False
            from core.images.fits import band_group, band_index  # here: core.images.fits imports this module

            index = indexes.get(str(dirpath))
            if index is None:
                index = indexes[str(dirpath)] = band_index(names)
            group = band_group(name, index=index)
            if group is not None and group[0] != name:  # one band of a set: read with its representative
                return False
        if not _name_is_text(name):
            skipped.append(SkippedFile(printable_path(Path(dirpath) / name),
                                       "the file name is not valid UTF-8; rename the file to include it"))
            return False
        return True

    if recursive:
        for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
            names = set(filenames)
            found.extend(Path(dirpath) / f for f in filenames if keep(dirpath, f, names))
    else:
        try:
            entries = list(root.iterdir())
        except OSError as exc:
            raise NotADirectoryError(f"{root} cannot be read ({exc.strerror})") from exc
        names = {p.name for p in entries}
        found = [p for p in entries if p.is_file() and keep(root, p.name, names)]
    return sorted(found), sorted(skipped, key=lambda s: s.path)


def scan_folder(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Return the image files under ``folder``, sorted by path (see :func:`scan_images` for what is left out)."""
    return scan_images(folder, recursive)[0]


#: Bytes read from the head of a file to recognise one of our FITS catalogues (the fingerprint
#: itself hashes the whole file since issue 19).
FINGERPRINT_BLOCK = 64 * 1024

#: Bytes read per call while hashing a file for its fingerprint.
FINGERPRINT_CHUNK = 1024 * 1024


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """Return a content fingerprint of a file: ``"c2:<size>:<SHA-1 of every byte>"``.

    The whole file is hashed (issue 19): reading only its first and last 64 KiB
    missed a same-size edit in the middle of a large file whose modification
    time was set back, and the cache then served the old features.  The cost is
    paid only when a file's change time moved (a copied folder, an edited file;
    see :class:`core.store.cache.FeatureCache`), and ``benchmarks/cache_verify.py``
    measures it.  The same fingerprint is an image's content identity in the
    project store (a renamed or moved file keeps its label).  The ``c2:`` prefix
    marks the whole-file form: a fingerprint of the older head-and-tail form
    never equals it, so such a cached row is recomputed rather than trusted.
    Raises ``OSError`` when the file cannot be read.
    A band set's representative (:func:`core.images.fits.band_files`) is
    fingerprinted over all its files, so a changed band gives a new one.
    """
    if Path(path).name.lower().endswith(FITS_SUFFIXES):
        from core.images.fits import band_files  # here: core.images.fits imports this module

        group = band_files(path)
        if group is not None and group[0].name == Path(path).name:
            size, digest = 0, hashlib.sha1()
            for member in group:
                part = _fingerprint_one(member)
                size += int(part.split(":")[1])
                digest.update(part.encode())
            return f"c2:{size}:{digest.hexdigest()}"
    return _fingerprint_one(path)


def _fingerprint_one(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        while chunk := fh.read(FINGERPRINT_CHUNK):
            digest.update(chunk)
    return f"c2:{size}:{digest.hexdigest()}"


def image_id(path: str | os.PathLike[str]) -> str:
    """Return the id of an image: its file name without the image suffix(es)."""
    name = Path(path).name
    lower = name.lower()
    for suffix in image_suffixes():
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def asinh_stretch(data: np.ndarray, softening: float = 10.0, upper_percentile: float = 99.7) -> np.ndarray:
    """Map linear flux to 0..1 with a robust arcsinh stretch.

    The sky level is the median (of each band: bands of a cube often sit on
    different skies) and the noise the scaled median absolute deviation, so
    bright cores and a few hot pixels do not set the scale.  The stretch is
    linear within ``softening`` noise levels of the sky and logarithmic above,
    reaching 1 at ``upper_percentile``.  Channels of an RGB cube share one
    scale so colours survive.  NaNs (masked pixels) become sky.  This is the
    stretch the feature models see for linear data
    (:data:`core.images.fits.MODEL_STRETCH`).

    Parameters
    ----------
    data : ndarray of shape (height, width) or (height, width, channels)
        Linear pixel values, any dtype.
    softening : float
        Noise multiples over which the stretch stays linear.
    upper_percentile : float
        Percentile of the sky-subtracted data that maps to 1.

    Returns
    -------
    ndarray of float32, same shape, values in [0, 1].
    """
    x = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        raise ImageReadError("the image holds no finite pixel values")
    if float(np.max(x[finite])) == float(np.min(x[finite])):
        raise ImageReadError(f"every pixel has the same value ({x[finite][0]:g}): a blank image, nothing to cluster")
    if x.ndim == 3:  # each band's own sky, one noise and scale for all
        skies = [float(np.median(x[:, :, b][finite[:, :, b]])) if finite[:, :, b].any() else 0.0
                 for b in range(x.shape[2])]
        x = x - np.asarray(skies)
    values = x[finite]
    sky = 0.0 if x.ndim == 3 else float(np.median(values))
    noise = 1.4826 * float(np.median(np.abs(values - sky)))
    top = float(np.percentile(values, upper_percentile)) - sky
    if noise <= 0:
        noise = max(top, 1e-12) / 1000.0
    if top <= 0:
        top = noise * 10
    soft = softening * noise
    y = np.where(finite, x - sky, 0.0)
    out = np.arcsinh(np.clip(y, 0, None) / soft) / np.arcsinh(top / soft)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Turn a decoded raster (grey or RGB(A); 8 or 16 bit) into RGB uint8."""
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype != np.uint8:
        array = (asinh_stretch(array) * 255.0 + 0.5).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


#: Most pixels a FITS image may have (a 7,000 x 7,000 plane; 400 MB as float64).  Rasters have
#: the app's own cap (BIG_IMAGE_PIXELS); without this one a 1 MB ``.fits.gz`` of zeros could ask for gigabytes.
FITS_MAX_PIXELS = 50_000_000


def read_fits_data(path: str | os.PathLike[str], dtype: np.dtype | type | None = None) -> np.ndarray:
    """The pixel array of a FITS file's first HDU with image data (2-D or more), squeezed, as stored.

    See :func:`core.images.fits.read_fits_hdu` (which also gives the header); damaged
    files raise :class:`ImageReadError`.
    """
    from core.images.fits import read_fits_hdu

    return read_fits_hdu(path, dtype)[0]


def _read_fits(path: Path) -> np.ndarray:
    from core.images.fits import read_fits_rgb  # imported here: core.images.fits imports this module

    return read_fits_rgb(path)


#: Images with more pixels than this are decoded one at a time, whatever the number of decoding threads:
#: a 12,000 x 12,000 RGB image takes 432 MB decoded, and four at once could exhaust a laptop's memory.
BIG_IMAGE_PIXELS = 40_000_000
#: Longest side such an image keeps (the models see at most 299 pixels of it; previews fit a screen).
BIG_IMAGE_SIDE = 4096
_BIG_DECODE = threading.Semaphore(1)


def raster_size(raw: bytes | np.ndarray) -> tuple[int, int] | None:
    """Width and height from a PNG or JPEG header (no decoding), or None when the header says nothing."""
    data = bytes(raw[: 1 << 16]) if isinstance(raw, np.ndarray) else raw[: 1 << 16]
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
    return None


def _decode(raw: bytes, reduce: int = 1) -> np.ndarray | None:
    """A raster's pixels in RGB order (grey stays one plane), upright; JPEGs at 1/``reduce`` size (Pillow)."""
    from core.images.decode import decode_raster

    return decode_raster(raw, reduce)


def _decode_big(raw: bytes, width: int, height: int) -> np.ndarray | None:
    """Decode a huge raster, alone, and shrink it to :data:`BIG_IMAGE_SIDE` before the next one starts."""
    from core.images.ops import resize_area

    with _BIG_DECODE:
        reduce = 1
        if raw[:2] == b"\xff\xd8":
            while reduce < 8 and max(width, height) / (reduce * 2) >= BIG_IMAGE_SIDE:
                reduce *= 2
        array = _decode(raw, reduce)
        if array is None or array.size == 0:
            return None
        rgb = _to_rgb_uint8(array)
        del array
        scale = BIG_IMAGE_SIDE / max(rgb.shape[:2])
        if scale < 1:
            rgb = resize_area(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))))
        return np.ascontiguousarray(rgb)


def _read_raster(p: Path) -> np.ndarray:
    """JPEG, PNG or TIFF to RGB uint8 (huge ones decoded alone and shrunk)."""
    try:
        raw = p.read_bytes()  # the file once, as Pillow takes it (no array to copy back)
    except OSError as exc:
        raise ImageReadError(f"cannot read the file ({exc.strerror})") from exc
    size_wh = raster_size(raw)
    if size_wh is not None and size_wh[0] * size_wh[1] > BIG_IMAGE_PIXELS:
        rgb = _decode_big(raw, *size_wh)
    else:
        array = _decode(raw)
        rgb = None if array is None or array.size == 0 else _to_rgb_uint8(array)
    if rgb is None:
        raise ImageReadError("not a readable image (corrupt, truncated or not an image)")
    return rgb


def _raster_raw(p: Path) -> np.ndarray:
    """A raster's decoded values (0-255, or 0-65535 for 16-bit files), RGB, as float32 (h, w, bands).

    As stored: not turned by its EXIF orientation (as OpenCV's ``IMREAD_UNCHANGED`` read it).
    """
    from core.images.decode import decode_raster

    raw = decode_raster(p.read_bytes(), upright=False)
    if raw is None or raw.size == 0:
        raise ImageReadError("not a readable image (corrupt, truncated or not an image)")
    if raw.ndim == 2:
        raw = raw[:, :, None]
    elif raw.shape[2] >= 3:
        raw = raw[:, :, :3]
    return np.ascontiguousarray(raw, dtype=np.float32)


def _fits_raw(p: Path) -> np.ndarray:
    """A FITS image's values as stored, float32 (h, w, planes), north up, NaNs kept (:func:`core.images.fits.read_fits_raw`)."""
    from core.images.fits import read_fits_raw

    return read_fits_raw(p)


IMAGE_READERS.add("raster", _read_raster, "JPEG, PNG, TIFF", "8- and 16-bit rasters through Pillow",
                  suffixes=RASTER_SUFFIXES, read_raw=_raster_raw)
IMAGE_READERS.add("fits", _read_fits, "FITS", "an image, a cube of bands or a band set, fixed asinh, north up",
                  suffixes=FITS_SUFFIXES, read_raw=_fits_raw)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one image as RGB uint8 of shape (height, width, 3).

    Raises :class:`ImageReadError` with a human-readable reason for missing,
    empty, corrupt or unsupported files.
    """

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"cannot open the file ({exc.strerror})") from exc
    if size == 0:
        raise ImageReadError("the file is empty")
    # A name no reader claims (a file given by hand) is tried with the default reader, as before readers.
    reader = reader_for(p) or IMAGE_READERS.get(IMAGE_READERS.default)
    rgb = reader.factory(p)
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise ImageReadError(f"the image is too small ({rgb.shape[1]}x{rgb.shape[0]} pixels)")
    if int(rgb.min()) == int(rgb.max()):
        raise ImageReadError(f"every pixel has the same value ({int(rgb.min())}): a blank image, nothing to cluster")
    return rgb


def thumbnail(path: str | os.PathLike[str], size: int = 128) -> np.ndarray:
    """Read an image and shrink it to fit ``size`` x ``size`` (RGB uint8), for grids and hover previews."""
    from core.images.ops import resize_area

    rgb = read_image(path)
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        rgb = resize_area(rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
    return np.ascontiguousarray(rgb)
