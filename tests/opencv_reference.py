"""The app's image path as it was with OpenCV (before issue 22), kept only as the tests' reference.

``core`` no longer imports cv2 (``core.images.ops`` and ``core.images.decode``
replace it).  :func:`opencv_path` puts the old OpenCV calls back in their place
for the duration of a ``with`` block, so a test can compute the same images,
crops, morphology and features both ways and compare them.  cv2 is a test
dependency (the ``dev`` extra); tests that use this skip without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np


def cv2_resize_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(image, (int(size[0]), int(size[1])), interpolation=cv2.INTER_AREA)


def cv2_resize_linear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(image, (int(size[0]), int(size[1])), interpolation=cv2.INTER_LINEAR)


def cv2_gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigma)


def cv2_box_blur3(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.blur(image, (3, 3))


def cv2_connected_components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    import cv2

    return cv2.connectedComponents(mask, connectivity=8)


def cv2_rgb_to_gray(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def cv2_rotate180(image: np.ndarray, xc: float, yc: float) -> np.ndarray:
    import cv2

    h, w = image.shape
    return cv2.warpAffine(image.astype(np.float32), np.float32([[-1, 0, 2 * xc], [0, -1, 2 * yc]]), (w, h),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def cv2_decode(raw: bytes | np.ndarray, reduce: int = 1) -> np.ndarray | None:
    """The old ``core.images.io._decode``, returning RGB (or grey) as the new one does (the file's bytes or an array of them)."""
    import cv2

    raw = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes | bytearray) else raw
    if reduce > 1:
        flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
        array = cv2.imdecode(raw, flag)
    else:
        array = cv2.imdecode(raw, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if array is None or array.ndim == 2:
        return array
    return np.ascontiguousarray(array[:, :, 2::-1])


@contextlib.contextmanager
def opencv_path() -> Iterator[None]:
    """Within the block, decoding and every image operation of core run through OpenCV, as before issue 22."""
    import core.features.morphology as morphology
    import core.images.io as io
    import core.images.ops as ops

    patches = [(ops, "resize_area", cv2_resize_area), (ops, "resize_linear", cv2_resize_linear),
               (ops, "gaussian_blur", cv2_gaussian_blur), (ops, "box_blur3", cv2_box_blur3),
               (ops, "connected_components", cv2_connected_components), (ops, "rgb_to_gray", cv2_rgb_to_gray),
               (ops, "rotate180", cv2_rotate180), (morphology, "box_blur3", cv2_box_blur3),
               (morphology, "connected_components", cv2_connected_components),
               (morphology, "rotate180", cv2_rotate180), (io, "_decode", cv2_decode)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
