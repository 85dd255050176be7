"""The image operations the app needs, in numpy and scipy, reproducing OpenCV's numerics.

Until issue 22 these were ``cv2`` calls; OpenCV (with the FFmpeg, AVIF and
OpenBLAS libraries its module links) was 179 MB of a 1,131 MB bundle.  The
feature models were trained on OpenCV's output, so each function here computes
what the OpenCV 5.1 call it replaces computes, and ``tests/core/test_image_ops.py``
compares them pixel for pixel with ``cv2`` (when it is installed: it is a test
dependency now, never a run-time one):

* :func:`resize_area` (``cv2.INTER_AREA``, shrinking): uint8 bit-identical.
  Integer factors take OpenCV's fast path (2 x 2 blocks: ``(sum + 2) >> 2``;
  other blocks ``round_half_even(sum * float32(1 / area))``); other factors its
  area-overlap tables, accumulated in float32 in OpenCV's order (each source
  pixel's weight added in turn along a row, then each row's; scipy's sparse
  product adds in storage order), then rounded half to even as
  ``saturate_cast`` does.  float32 images are identical for other factors and
  within 2 float32 ulps for integer ones (OpenCV's fast float path sums in
  another order); float64 within 1e-7.
* :func:`resize_linear` (``cv2.INTER_LINEAR``): uint8 bit-identical.  OpenCV
  computes it in fixed point: half-pixel centres, 11-bit coefficients
  (``rint(w * 2048)``), an exact integer pass along rows, then the vectorised
  column pass ``((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16) + 2 >> 2``.
  Along columns the weight of a row outside the image is *not* clamped (the
  row index is), which the rows at the top and bottom edges show.  An exact
  2x shrink is an area average, as in OpenCV.
* :func:`gaussian_blur` (``cv2.GaussianBlur(img, (0, 0), sigma)``): OpenCV's
  kernel size rule and kernel (float32 for float32 images, float64 for float64),
  reflect-101 borders (scipy's ``"mirror"``); within float rounding (the sums
  run in another order).
* :func:`box_blur3` (``cv2.blur(img, (3, 3))``): a sum in float64, times 1/9,
  reflect-101 borders, as OpenCV's box filter does for float32 images.
* :func:`connected_components` (``cv2.connectedComponents(mask, connectivity=8)``):
  scipy's labelling of the same 8-connected regions, renumbered in OpenCV's
  order: identical labels.
* :func:`rgb_to_gray` (``cv2.COLOR_RGB2GRAY`` on uint8): OpenCV's 15-bit fixed
  point weights of 0.299, 0.587, 0.114, rounded: identical.
* :func:`rotate180` (``cv2.warpAffine`` of a 180-degree turn, bilinear, zero
  outside): float32 coordinates and fused interpolations as OpenCV 5.1's
  vectorised warp; within float32 rounding.

Nothing here imports OpenCV.  Decoding (Pillow, pypng, tifffile) and PNG
writing are in :mod:`core.images.decode`; the montage's text is Pillow's
(:mod:`core.catalog.montage`).  The area shrink and the bilinear row pass are
scipy sparse products (in C), cached per pair of sizes.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["box_blur3", "connected_components", "gaussian_blur", "gaussian_kernel", "resize_area",
           "resize_linear", "rgb_to_gray", "rotate180"]


def _area_table(ssize: int, dsize: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's ``computeResizeAreaTab``: (destination, source, weight) in its order (by destination, sources ascending)."""
    scale = ssize / dsize
    dst: list[int] = []
    src: list[int] = []
    alpha: list[float] = []

    def add(d: int, s: int, a: float) -> None:
        dst.append(d)
        src.append(s)
        alpha.append(a)

    for dx in range(dsize):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, ssize - fsx1)
        sx1, sx2 = int(np.ceil(fsx1)), int(np.floor(fsx2))
        sx2 = min(sx2, ssize - 1)
        sx1 = min(sx1, sx2)
        if sx1 - fsx1 > 1e-3:
            add(dx, sx1 - 1, (sx1 - fsx1) / cell)
        for sx in range(sx1, sx2):
            add(dx, sx, 1.0 / cell)
        if fsx2 - sx2 > 1e-3:
            add(dx, sx2, min(min(fsx2 - sx2, 1.0), cell) / cell)
    return np.asarray(dst), np.asarray(src), np.asarray(alpha)


@functools.lru_cache(maxsize=256)
def _area_matrix(ssize: int, dsize: int, wt: type):  # -> scipy.sparse.csr_matrix
    """:func:`_area_table` as a sparse (dsize, ssize) matrix whose rows keep the weights in OpenCV's order.

    scipy's sparse-times-dense product adds each row's terms in storage order,
    ``y += a * x`` from zero, in the matrix's dtype: OpenCV's loop (its weights
    are float32 for every image type but float64), done in C.
    """
    from scipy.sparse import csr_matrix

    d, s, alpha = _area_table(ssize, dsize)
    indptr = np.searchsorted(d, np.arange(dsize + 1))  # the table is sorted by destination already
    return csr_matrix((alpha.astype(wt), s, indptr), shape=(dsize, ssize))


def _turned(a: np.ndarray) -> np.ndarray:
    """(rows, cols, channels) to a contiguous (cols, rows, channels) copy, each pixel's channels moved as one item."""
    a = np.ascontiguousarray(a)
    rows, cols, channels = a.shape
    pixels = a.view(np.dtype((np.void, channels * a.itemsize))).reshape(rows, cols)  # 3-4x faster than a 3-D transpose
    return np.ascontiguousarray(pixels.T).view(a.dtype).reshape(cols, rows, channels)


def _area_general(image: np.ndarray, w: int, h: int, wt: type) -> np.ndarray:
    """OpenCV's general area resize in ``wt``: along each row, then down the columns, each a sparse product.

    The rows are turned into columns first (a copy of the source, in its own type), so both passes are
    products of a sparse matrix with contiguous rows.
    """
    H, W = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    turned = _turned(image.reshape(H, W, channels)).reshape(W, H * channels)
    across = _area_matrix(W, w, wt) @ turned.astype(wt)  # (w, H * channels)
    across = _turned(across.reshape(w, H, channels)).reshape(H, w * channels)
    out = _area_matrix(H, h, wt) @ across
    return out.reshape((h, w) + image.shape[2:])


def resize_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink ``image`` to ``size`` = (width, height) by area averaging, as ``cv2.resize(..., INTER_AREA)``.

    Parameters
    ----------
    image : ndarray (h, w) or (h, w, channels), uint8, float32 or float64
        What to shrink.
    size : (int, int)
        Width and height of the result, each at most the image's (enlarging
        goes to :func:`resize_linear`, where OpenCV's area mode differs slightly).

    Returns
    -------
    ndarray of ``image``'s dtype
        uint8: bit-identical to OpenCV 5.1; float: within 2 ulps.
    """
    w, h = int(size[0]), int(size[1])
    H, W = image.shape[:2]
    if (w, h) == (W, H):
        return image.copy()
    if w > W or h > H:
        return resize_linear(image, size)
    kx, ky = W / w, H / h
    if image.dtype == np.uint8 and kx == int(kx) and ky == int(ky):
        kx, ky = int(kx), int(ky)
        blocks = image.reshape((h, ky, w, kx) + image.shape[2:]).astype(np.int32).sum(axis=(1, 3))
        if kx == ky == 2:
            return ((blocks + 2) >> 2).astype(np.uint8)
        return np.rint(blocks.astype(np.float32) * np.float32(1.0 / (kx * ky))).astype(np.uint8)
    wt = np.float64 if image.dtype == np.float64 else np.float32
    out = _area_general(image, w, h, wt)
    if image.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(image.dtype)


@functools.lru_cache(maxsize=256)
def _linear_coefficients(ssize: int, dsize: int, clamp: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's linear-resize sources and 11-bit weights for one axis (``clamp``: zero weight outside, as along rows)."""
    scale = 1.0 / (dsize / ssize)
    f = ((np.arange(dsize) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp:
        left, right = s < 0, s >= ssize - 1
        f[left | right] = 0.0
        s[left] = 0
        s[right] = ssize - 1
    w0 = np.rint((np.float32(1.0) - f) * np.float32(2048.0)).astype(np.int32)
    w1 = np.rint(f * np.float32(2048.0)).astype(np.int32)
    out = (np.clip(s, 0, ssize - 1), np.clip(s + 1, 0, ssize - 1), w0, w1)
    for a in out:
        a.flags.writeable = False  # cached: shared by every call of the same sizes
    return out


@functools.lru_cache(maxsize=256)
def _linear_matrix(ssize: int, dsize: int):  # -> scipy.sparse.csr_matrix
    """The row pass's 11-bit weights as a sparse (dsize, ssize) float32 matrix (two per row, or one at the edges)."""
    from scipy.sparse import csr_matrix

    s0, s1, w0, w1 = _linear_coefficients(ssize, dsize, clamp=True)
    rows = np.repeat(np.arange(dsize), 2)
    matrix = csr_matrix((np.stack([w0, w1], 1).ravel().astype(np.float32), (rows, np.stack([s0, s1], 1).ravel())),
                        shape=(dsize, ssize))
    return matrix  # duplicates (s0 == s1 at an edge) are summed: one weight of 2048


def _linear_rows(image: np.ndarray, w: int) -> np.ndarray:
    """The exact integer row pass of OpenCV's uint8 bilinear resize, (H, w[, channels]) int32.

    Done as a float32 sparse product on the turned image: every product and sum is
    an integer below 2**24 (at most 255 * 2049), so float32 holds it exactly.
    """
    H, W = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    turned = _turned(image.reshape(H, W, channels)).reshape(W, H * channels)
    across = _linear_matrix(W, w) @ turned.astype(np.float32)  # (w, H * channels)
    rows = _turned(across.reshape(w, H, channels)).astype(np.int32)
    return rows.reshape((H, w) + image.shape[2:])


def resize_linear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` to ``size`` = (width, height) bilinearly, as ``cv2.resize(..., INTER_LINEAR)``.

    uint8 images are bit-identical to OpenCV 5.1 (its fixed-point arithmetic,
    module docstring); float images use the same float32 weights in floating
    point (close to OpenCV, not bit-identical; the app resizes only uint8 so).
    """
    w, h = int(size[0]), int(size[1])
    H, W = image.shape[:2]
    if (w, h) == (W, H):
        return image.copy()
    if W == 2 * w and H == 2 * h:  # OpenCV turns an exact halving into an area average
        return resize_area(image, size)
    sx0, sx1, a0, a1 = _linear_coefficients(W, w, clamp=True)
    sy0, sy1, b0, b1 = _linear_coefficients(H, h, clamp=False)
    extra = (1,) * (image.ndim - 2)
    a0, a1 = a0.reshape((1, -1) + extra), a1.reshape((1, -1) + extra)
    b0, b1 = b0.reshape((-1, 1) + extra), b1.reshape((-1, 1) + extra)
    if image.dtype == np.uint8:
        rows = _linear_rows(image, w)
        rows >>= 4  # the column pass shifts each row by 4 first: once per source row, not per output row
        out = rows[sy0] * b0  # at most 32,640 * 2048: int32 holds it
        out >>= 16
        lower = rows[sy1] * b1
        lower >>= 16
        out += lower
        out += 2
        out >>= 2
        return np.clip(out, 0, 255, out=out).astype(np.uint8)
    src = image.astype(np.float32)
    scale = np.float32(1.0 / 2048.0)
    rows = src[:, sx0] * (a0 * scale).astype(np.float32) + src[:, sx1] * (a1 * scale).astype(np.float32)
    out = rows[sy0] * (b0 * scale).astype(np.float32) + rows[sy1] * (b1 * scale).astype(np.float32)
    return out.astype(image.dtype)


def gaussian_kernel(sigma: float, dtype: type = np.float64) -> np.ndarray:
    """OpenCV's Gaussian kernel for ``ksize=(0, 0)``: ``round(sigma * (3 or 4) * 2 + 1) | 1`` taps, normalised.

    OpenCV uses 3 sigmas each side for uint8 images and 4 for others; the app
    blurs only float images, so 4.  The taps are computed in float64 and
    normalised there, then cast to ``dtype`` (float32 for float32 images).
    """
    n = int(np.rint(sigma * 4 * 2 + 1)) | 1
    x = np.arange(n) - (n - 1) * 0.5
    k = np.exp((-0.5 / (sigma * sigma)) * x * x)
    return (k * (1.0 / k.sum())).astype(dtype)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``cv2.GaussianBlur(image, (0, 0), sigma)`` for float images: the same kernel, reflect-101 borders.

    Separable, rows then columns, in the image's float precision; each
    channel on its own.  Within float rounding of OpenCV (the sums run in
    another order).
    """
    from scipy.ndimage import correlate1d

    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"gaussian_blur takes float32 or float64 images, not {image.dtype}")
    k = gaussian_kernel(sigma, np.float32 if image.dtype == np.float32 else np.float64)
    out = correlate1d(image, k, axis=1, mode="mirror")
    return correlate1d(out, k, axis=0, mode="mirror")


def box_blur3(image: np.ndarray) -> np.ndarray:
    """``cv2.blur(image, (3, 3))`` for a float32 plane: the 3 x 3 mean, summed in float64, reflect-101 borders."""
    x = np.pad(image.astype(np.float64), 1, mode="reflect")  # numpy's "reflect" is OpenCV's REFLECT_101
    rows = x[:, :-2] + x[:, 1:-1] + x[:, 2:]
    total = rows[:-2] + rows[1:-1] + rows[2:]
    return (total * (1.0 / 9.0)).astype(image.dtype)


def connected_components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """8-connected regions of a mask: (number of labels with the background's 0, int32 labels), as OpenCV's.

    scipy finds the regions; they are then numbered as OpenCV 5.1's default
    (block-based) labelling numbers them: in the order of the first 2 x 2 block,
    scanned row of blocks by row of blocks, that holds a pixel of the region.
    The number matters where two regions tie in size
    (:func:`core.images.preprocess.central_object_fraction` keeps the first).
    """
    from scipy.ndimage import label

    labels, count = label(mask, structure=np.ones((3, 3), dtype=bool))
    labels = labels.astype(np.int32, copy=False)
    if count > 1:
        h, w = labels.shape
        blocks = np.zeros((h + h % 2, w + w % 2), np.int32)
        blocks[:h, :w] = labels
        # pixels in block-scan order: each 2 x 2 block in turn, blocks row by row
        scan = blocks.reshape(blocks.shape[0] // 2, 2, blocks.shape[1] // 2, 2).transpose(0, 2, 1, 3).ravel()
        found = scan[scan > 0]
        first = np.full(count + 1, found.size, np.int64)
        first[found[::-1]] = np.arange(found.size - 1, -1, -1)  # the last write wins: each label's first place
        number = np.zeros(count + 1, np.int32)
        number[np.argsort(first[1:], kind="stable") + 1] = np.arange(1, count + 1, dtype=np.int32)
        labels = number[labels]
    return int(count) + 1, labels


def rgb_to_gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 to grey as ``cv2.COLOR_RGB2GRAY``: ``(9798 R + 19235 G + 3735 B + 2**14) >> 15`` (0.299, 0.587, 0.114)."""
    if image.dtype != np.uint8:  # OpenCV's float conversion: the weights themselves
        return (image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114).astype(image.dtype)
    # In float32 every product and sum here is an integer below 2**24, so exact whatever the order of the
    # sum; the scaling by 2**-15 is exact too, and floor() is the shift.
    total = image.astype(np.float32) @ _GREY_WEIGHTS
    total += np.float32(1 << 14)
    total *= np.float32(1.0 / (1 << 15))
    return np.floor(total).astype(np.uint8)


#: RGB2GRAY's fixed-point weights (0.299, 0.587, 0.114 times 2**15, rounded).
_GREY_WEIGHTS = np.array([9798, 19235, 3735], np.float32)


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 ``a * b + c`` rounded once, as a fused multiply-add (the product is exact in float64)."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


def rotate180(image: np.ndarray, xc: float, yc: float) -> np.ndarray:
    """A float32 plane turned 180 degrees about (``xc``, ``yc``), bilinear, zero outside.

    As ``cv2.warpAffine(image, float32([[-1, 0, 2 xc], [0, -1, 2 yc]]), INTER_LINEAR,
    BORDER_CONSTANT 0)`` in OpenCV 5.1, whose vectorised warp works in float32
    coordinates: the source point is ``(float32(2 xc) - x, float32(2 yc) - y)``,
    and the value two fused linear interpolations along x, then one along y.
    Within 4e-6 of OpenCV on values up to 100 (a few pixels in a thousand differ
    in the last bits).
    """
    h, w = image.shape
    f32 = np.float32
    ys, xs = np.indices((h, w), dtype=np.float32)
    sx = (f32(2 * xc) - xs).astype(f32)
    sy = (f32(2 * yc) - ys).astype(f32)
    ix, iy = np.floor(sx), np.floor(sy)
    fx, fy = (sx - ix).astype(f32), (sy - iy).astype(f32)
    ix, iy = ix.astype(np.int64), iy.astype(np.int64)
    padded = np.zeros((h + 2, w + 2), f32)
    padded[1:-1, 1:-1] = image

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= -1) & (yy <= h) & (xx >= -1) & (xx <= w)
        return np.where(inside, padded[np.clip(yy, -1, h) + 1, np.clip(xx, -1, w) + 1], f32(0.0)).astype(f32)

    p00, p01, p10, p11 = at(iy, ix), at(iy, ix + 1), at(iy + 1, ix), at(iy + 1, ix + 1)
    top = _fma32(fx, p01 - p00, p00)
    bottom = _fma32(fx, p11 - p10, p10)
    return _fma32(fy, bottom - top, top)
