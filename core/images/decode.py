"""JPEG, PNG and TIFF decoding without OpenCV (Pillow, with pypng and tifffile for 16-bit colour), and PNG writing.

What :mod:`core.images.io` asked of ``cv2.imdecode`` and now asks of
:func:`decode_raster`:

* **8-bit colour and grey** through Pillow, in RGB order (OpenCV gave BGR).
  Pillow's JPEG decoding is libjpeg-turbo's, as OpenCV's: the pixels are
  identical (``tests/core/test_image_ops.py`` compares them).  Alpha is dropped,
  palettes become RGB, 1-bit images 0/255 grey, as OpenCV did.
* **EXIF orientation**: the picture is turned upright
  (``ImageOps.exif_transpose``), as ``IMREAD_ANYCOLOR`` did; ``upright=False``
  keeps the stored orientation, as ``IMREAD_UNCHANGED`` did for the raw values.
* **Reduced JPEG decoding** of huge images: ``Image.draft`` asks libjpeg for
  1/2, 1/4 or 1/8 of the size, what ``IMREAD_REDUCED_COLOR_2/4/8`` asked.
* **16-bit grey** PNG and TIFF through Pillow (mode ``I;16``).  **16-bit
  colour**, which Pillow reads as 8-bit, through pypng (PNG) and tifffile
  (TIFF), so the values stay exact; tifffile needs the imagecodecs package for
  LZW, the usual TIFF compression, so a small LZW decoder is given to it here.
* **Decompression bombs**: Pillow warns above ``MAX_IMAGE_PIXELS`` (89 million
  pixels) and refuses twice that; OpenCV refused above 2**30 pixels.  Huge
  rasters have the app's own handling (``BIG_IMAGE_PIXELS`` in
  :mod:`core.images.io`: decoded one at a time, reduced, shrunk), so Pillow's
  limit is set to OpenCV's when this module is imported (refusing above 2**30,
  as before; a limit set higher or switched off by the user is kept) and its
  warning is not shown.

A file none of them can read gives None; the caller says why to the user.
:func:`encode_png` writes PNG files byte for byte as ``cv2.imwrite`` did.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
import zlib

import numpy as np

__all__ = ["decode_raster", "encode_png", "lzw_decode"]


def lzw_decode(data: bytes, out: object = None) -> bytes:
    """Decode TIFF's LZW (MSB-first codes of 9-12 bits, 256 clears, 257 ends; the "early change" variant).

    Pure Python: a few MB a second, for the rare 16-bit colour TIFF (8-bit
    and grey TIFFs are decoded by Pillow's C code).
    """
    result = bytearray()
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    bits, nbits, pos, width = 0, 0, 0, 9
    prev: bytes | None = None
    n = len(data)
    while True:
        while nbits < width:
            if pos >= n:
                return bytes(result)
            bits = (bits << 8) | data[pos]
            pos += 1
            nbits += 8
        nbits -= width
        code = (bits >> nbits) & ((1 << width) - 1)
        bits &= (1 << nbits) - 1
        if code == 256:
            table = table[:258]
            width, prev = 9, None
            continue
        if code == 257:
            return bytes(result)
        if prev is None:
            entry = table[code]
        elif code < len(table):
            entry = table[code]
            table.append(prev + entry[:1])
        else:  # the code being defined: the previous string and its first byte
            entry = prev + prev[:1]
            table.append(entry)
        result += entry
        prev = entry
        if len(table) + 1 >= (1 << width) and width < 12:
            width += 1


def _tiff16_colour(data: bytes) -> np.ndarray | None:
    """A 16-bit colour TIFF's first image, exact (tifffile), or None when it cannot be read."""
    import tifffile

    codecs = getattr(tifffile.TIFF.DECOMPRESSORS, "_codecs", None)  # tifffile's table (2026.x)
    if isinstance(codecs, dict):
        codecs.setdefault(5, lzw_decode)  # LZW without imagecodecs; without the table, LZW files are unreadable
    try:
        array = tifffile.imread(io.BytesIO(data), key=0)
    except Exception:  # noqa: BLE001 - any failure of a damaged file is "not readable" to the user
        return None
    return np.asarray(array)


def _png16_colour(data: bytes) -> np.ndarray | None:
    """A 16-bit colour PNG's pixels, exact (pypng), or None when it cannot be read."""
    import png

    try:
        width, height, rows, info = png.Reader(bytes=data).asDirect()
        array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    except Exception:  # noqa: BLE001 - any failure of a damaged file is "not readable" to the user
        return None
    return array.reshape(height, width, info["planes"])


def _wide_colour(image: object, data: bytes) -> bool:
    """Whether Pillow would read this file's colour samples with more than 8 bits (and cut them to 8)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.mode not in ("RGB", "RGBA"):
        return False
    if image.format == "PNG":
        return len(data) > 24 and data[24] > 8  # IHDR's bit depth
    if image.format == "TIFF":
        return max(image.tag_v2.get(258, (8,)) or (8,)) > 8
    return False


def decode_raster(data: bytes, reduce: int = 1, upright: bool = True) -> np.ndarray | None:
    """Decode a JPEG, PNG or TIFF file's bytes to an array in RGB order, or None when unreadable.

    Parameters
    ----------
    data : bytes
        The file's contents.
    reduce : {1, 2, 4, 8}
        JPEG only: decode straight to 1/``reduce`` of the size (the full image
        is never in memory), as ``IMREAD_REDUCED_COLOR_*``; the result is colour.
    upright : bool
        Turn the picture as its EXIF orientation says (the default, as every
        viewer shows it); False keeps the stored pixels, for the raw values.

    Returns
    -------
    ndarray or None
        (h, w) grey or (h, w, 3) RGB, uint8, or uint16 for 16-bit files
        (float32 or int32 for such TIFFs), as the file stores them; None for a
        file that is not a readable image (corrupt, truncated, unknown).
    """
    from PIL import Image, ImageOps

    _limit_like_opencv()
    try:
        image = Image.open(io.BytesIO(data))
        if _wide_colour(image, data):
            array = _png16_colour(data) if image.format == "PNG" else _tiff16_colour(data)
            if array is not None and array.ndim == 3 and array.shape[2] in (2, 4):
                array = array[:, :, :-1]  # the alpha plane, dropped as OpenCV did
            return None if array is None or array.size == 0 else array
        if reduce > 1 and image.format == "JPEG":
            image.draft("RGB", (image.width // reduce, image.height // reduce))
        if upright:
            image = ImageOps.exif_transpose(image)
        image.load()
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged files; all are "not readable"
        return None
    return _to_array(image, colour=reduce > 1)


#: OpenCV's cap on a decoded image (``CV_IO_MAX_IMAGE_PIXELS``): Pillow refuses above twice its MAX_IMAGE_PIXELS.
OPENCV_MAX_PIXELS = 1 << 30


@functools.cache
def _limit_like_opencv() -> None:
    """Once: Pillow's bomb limit at OpenCV's, its bomb warning off (the app's own BIG_IMAGE_PIXELS handling applies)."""
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is not None and 2 * Image.MAX_IMAGE_PIXELS < OPENCV_MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = OPENCV_MAX_PIXELS // 2
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    # a damaged EXIF block only loses the orientation, the pixels are read (as OpenCV read them)
    warnings.filterwarnings("ignore", message="Corrupt EXIF data", category=UserWarning)


def _to_array(image: object, colour: bool) -> np.ndarray | None:
    from PIL import Image

    assert isinstance(image, Image.Image)
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        array = np.asarray(image).astype(np.uint16)
    elif mode in ("I", "F"):
        array = np.asarray(image)
    elif mode in ("L", "LA", "1"):
        array = np.asarray(image.convert("L"))
    else:
        array = np.asarray(image.convert("RGB"))
    if colour and array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return array if array.size else None



def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray) -> bytes:
    """A uint8 grey, RGB or RGBA array as PNG, byte for byte the file ``cv2.imwrite`` wrote.

    OpenCV's defaults: the "sub" filter on every row, zlib level 1 with the RLE
    strategy, libpng's smaller window for small images, 8 KiB IDAT chunks, no
    other chunks.  Byte-identical files keep the image ids (a hash of the file)
    that stores made on the built-in sample hold (``tests/reliability/test_identity.py``).
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"encode_png takes uint8 grey, RGB or RGBA arrays, not {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = image.reshape(h, w * channels).astype(np.int16)
    sub = rows.copy()
    sub[:, channels:] = rows[:, channels:] - rows[:, :-channels]
    raw = np.concatenate([np.ones((h, 1), np.uint8), (sub & 0xFF).astype(np.uint8)], axis=1).tobytes()
    window_bits, size = 15, (w * channels + 1) * h
    if size <= 16384:  # libpng's png_deflate_claim: the smallest window that holds the image
        half = 1 << (window_bits - 1)
        while size + 262 <= half:
            half >>= 1
            window_bits -= 1
    deflate = zlib.compressobj(1, zlib.DEFLATED, window_bits, 8, zlib.Z_RLE)
    stream = bytearray(deflate.compress(raw) + deflate.flush())
    if size <= 16384:  # and png_compress_IDAT's optimize_cmf: the header then names the image's own size
        cinfo = stream[0] >> 4
        half = 1 << (cinfo + 7)
        if size <= half:
            while True:
                half >>= 1
                cinfo -= 1
                if not (cinfo > 0 and size <= half):
                    break
            stream[0] = (stream[0] & 0x0F) | (cinfo << 4)
            flags = stream[1] & 0xE0
            stream[1] = flags + 0x1F - ((stream[0] << 8) + flags) % 0x1F
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))]
    out += [_chunk(b"IDAT", bytes(stream[i : i + 8192])) for i in range(0, len(stream), 8192)]
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)
