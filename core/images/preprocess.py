"""From a decoded image to a model's input: crop, resize, normalise.

Galaxy cutouts put the object in the middle, but surveys frame it very
differently: a Kaggle/SDSS cutout fills a quarter of its 424 px frame, other
surveys leave the galaxy a few pixels wide in a sea of sky and neighbours.
Clustering follows whatever varies most between images, so the crop decides
whether it sees morphology or framing.  Two crops are offered:

* ``fixed``: the central square of a given fraction of the shorter side (the
  Kaggle winner cut 424 to 207 px, about 0.5);
* ``auto``: a square fitted to the central object, found by thresholding a
  smoothed image above the sky and keeping the connected region nearest the
  centre.  It falls back to the fixed crop when nothing stands above the sky.

A model may also declare a crop of its own in its metadata
(``galaxy_sorter.crop = "measured"``, :func:`measured_crop`): inside the
user's crop it frames the central galaxy at a fixed multiple of its measured
second-moment radius, so a galaxy a sixth of the usual size reaches the network
at the same apparent size as in training (issue 24).  The training script calls
the same function, so training and extraction agree on scale.  A model may
hold several views of each image (``galaxy_sorter.views``, :class:`ModelView`,
:func:`model_square`): ``galaxy_duo`` runs galaxy_cnn on the user's crop and
galaxy_cnn2 on the measured one, stacked as the channels of one input.

Optionally the features are averaged over the 8 rotations and flips of the
crop (morphology does not depend on orientation); see
:func:`dihedral_variants`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.images import ops

CROP_MODES = ("fixed", "auto", "none")
#: The smallest crop side, as a fraction of the image, that a run takes (the CLI's and the app's limit alike).
MIN_CROP_FRACTION = 0.05


@dataclass(frozen=True)
class Preprocessing:
    """How images are cropped before the model sees them.

    Parameters
    ----------
    crop : {"fixed", "auto", "none"}
        Centre crop of ``crop_fraction``, crop fitted to the central object, or none.
    crop_fraction : float
        Side of the fixed crop as a fraction of the shorter image side; also the
        fallback of the automatic crop.
    rotations : bool
        Average the features over the 8 rotations/flips (8x the cost).
    """

    crop: str = "fixed"
    crop_fraction: float = 0.5
    rotations: bool = False

    def __post_init__(self) -> None:
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}, not {self.crop!r}")
        if not MIN_CROP_FRACTION <= self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must lie between {MIN_CROP_FRACTION} and 1")

    def as_dict(self) -> dict[str, object]:
        """Return the settings as a JSON-ready dict (for cache keys and sidecars)."""
        return asdict(self)


def centre_crop(image: np.ndarray, fraction: float) -> np.ndarray:
    """Return the central square whose side is ``fraction`` of the shorter side."""
    h, w = image.shape[:2]
    side = max(8, int(round(min(h, w) * fraction)))
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def central_object_fraction(image: np.ndarray, margin: float = 1.3, min_fraction: float = 0.12) -> float | None:
    """Estimate the crop fraction that frames the object at the image centre.

    Returns None when no region stands out from the sky near the centre.
    The object is the connected region, 3 noise levels above the sky on a
    lightly smoothed luminance image, that contains the centre or lies nearest
    to it; the crop's half side is ``margin`` times the region's farthest pixel
    from the centre.
    """
    gray = image.mean(axis=2).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    h, w = gray.shape
    small_scale = 128.0 / max(h, w)
    if small_scale < 1:
        gray = ops.resize_area(gray, (max(8, int(w * small_scale)), max(8, int(h * small_scale))))
    else:
        small_scale = 1.0
    gray = ops.gaussian_blur(gray, 1.5)
    sky = float(np.median(gray))
    noise = 1.4826 * float(np.median(np.abs(gray - sky)))
    noise = max(noise, 1e-3 * max(float(gray.max()) - sky, 1e-6))
    mask = (gray > sky + 3.0 * noise).astype(np.uint8)
    count, labels = ops.connected_components(mask)
    if count <= 1:
        return None
    gh, gw = gray.shape
    cy, cx = (gh - 1) / 2.0, (gw - 1) / 2.0
    window = labels[int(cy) - 2 : int(cy) + 3, int(cx) - 2 : int(cx) + 3]
    centre_ids = [v for v in np.unique(window) if v != 0]
    if centre_ids:
        best = max(centre_ids, key=lambda v: int((labels == v).sum()))
    else:
        ys, xs = np.nonzero(labels)
        d = (ys - cy) ** 2 + (xs - cx) ** 2
        best = labels[ys[d.argmin()], xs[d.argmin()]]
        if d.min() > (0.25 * min(gh, gw)) ** 2:
            return None
    ys, xs = np.nonzero(labels == best)
    reach = float(max(np.abs(ys - cy).max(), np.abs(xs - cx).max())) + 1.0
    fraction = 2.0 * margin * reach / min(gh, gw)
    return float(np.clip(fraction, min_fraction, 1.0))


def crop_image(image: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Apply the crop that ``prep`` asks for."""
    if prep.crop == "none":
        return image
    if prep.crop == "auto":
        fraction = central_object_fraction(image)
        return centre_crop(image, prep.crop_fraction if fraction is None else fraction)
    return centre_crop(image, prep.crop_fraction)


#: Side of the measured crop in second-moment radii (``galaxy_sorter.crop_scale`` overrides it per model).
MEASURED_CROP_SCALE = 6.0


def moment_radius(image: np.ndarray, size: int = 128) -> float | None:
    """Flux-weighted second-moment (RMS) radius of the central object, as a fraction of the shorter side.

    Fast (a few tenths of a millisecond): the image is area-binned to at most
    ``size`` px, the sky and its noise are the median and MAD of the outer 10% border,
    and the object is the connected region 2 noise levels above the sky (on a
    3 px box-smoothed image) that holds the centre or lies nearest to it.  The
    radius is ``sqrt(sum f r^2 / sum f)`` about the flux centroid, with
    ``f = image - sky`` inside the region.  Returns None when nothing stands
    above the sky (a blank or saturated frame).
    """
    if image.ndim == 3:  # luminance first, then bin the single plane
        image = ops.rgb_to_gray(image) if image.shape[2] == 3 else image.mean(axis=2)
    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1.0:
        image = ops.resize_area(image, (max(8, round(w * scale)), max(8, round(h * scale))))
    lum = image.astype(np.float32)
    h, w = lum.shape
    b = max(2, round(0.1 * min(h, w)))
    ring = np.concatenate([lum[:b].ravel(), lum[-b:].ravel(), lum[b:-b, :b].ravel(), lum[b:-b, -b:].ravel()])
    sky = float(np.median(ring))
    noise = max(1.4826 * float(np.median(np.abs(ring - sky))), 1e-3 * max(float(lum.max()) - sky, 1e-6), 1e-3)
    mask = (ops.box_blur3(lum) > sky + 2.0 * noise).astype(np.uint8)
    count, labels = ops.connected_components(mask)
    if count <= 1:
        return None
    centre = labels[h // 2, w // 2]
    if centre == 0:
        ys, xs = np.nonzero(labels)
        nearest = int(np.argmin((ys - h / 2) ** 2 + (xs - w / 2) ** 2))
        centre = labels[ys[nearest], xs[nearest]]
    ys, xs = np.nonzero(labels == centre)
    f = np.clip(lum[ys, xs] - sky, 0.0, None).astype(np.float64)
    total = f.sum()
    if len(ys) < 3 or total <= 0:
        return None
    yc, xc = (f * ys).sum() / total, (f * xs).sum() / total
    r2 = (f * ((ys - yc) ** 2 + (xs - xc) ** 2)).sum() / total
    return float(np.sqrt(r2 + 0.25)) / min(h, w)  # + half a pixel squared: a point source is not zero wide


def measured_fraction(image: np.ndarray, scale: float = MEASURED_CROP_SCALE, min_fraction: float = 0.08) -> float:
    """Side of the measured crop as a fraction of the shorter side: ``scale`` radii, within [min_fraction, 1]."""
    r = moment_radius(image)
    return 1.0 if r is None else float(np.clip(scale * r, min_fraction, 1.0))


def measured_crop(image: np.ndarray, scale: float = MEASURED_CROP_SCALE, whole: np.ndarray | None = None) -> np.ndarray:
    """The central square of ``scale`` second-moment radii of the central object (the whole image if none).

    What a model that declares ``galaxy_sorter.crop = "measured"`` sees: measured
    inside the user's crop ``image``; when the galaxy fills that crop (the
    measured square would be larger) and the uncropped ``whole`` image is given,
    it is measured again there and may grow up to the whole frame, so a large
    galaxy is framed like a small one instead of cut (GC1-HSC: the 0.5 crop cut
    three in four).  ``models/train_galaxy_net2.py`` crops its training images
    with this very function.
    """
    return measured_crops(image, (scale,), whole)[0]


def measured_crops(image: np.ndarray, scales: Sequence[float], whole: np.ndarray | None = None,
                   min_fraction: float = 0.08) -> list[np.ndarray]:
    """:func:`measured_crop` at several ``scales``, the galaxy measured once (a multi-scale view costs one measure)."""
    def fraction(radius: float | None, scale: float) -> float:
        return 1.0 if radius is None else float(np.clip(scale * radius, min_fraction, 1.0))

    radius = moment_radius(image)
    outer: list[float | None] = []  # the radius in ``whole``, measured the first time a crop needs it
    crops = []
    for scale in scales:
        side = fraction(radius, scale)
        if side >= 1.0 and whole is not None and min(whole.shape[:2]) > min(image.shape[:2]):
            if not outer:
                outer.append(moment_radius(whole))
            grown = fraction(outer[0], scale) * min(whole.shape[:2])
            if grown > min(image.shape[:2]):
                crops.append(centre_crop(whole, grown / min(whole.shape[:2])))
                continue
        crops.append(centre_crop(image, side))
    return crops


@dataclass(frozen=True)
class ModelView:
    """One view of an image that a model's input holds.

    Parameters
    ----------
    crop : {"none", "measured"}
        ``"none"``: the user's crop as it is; ``"measured"``: :func:`measured_crop`
        at ``crop_scale`` radii inside it.
    crop_scale : float
        Side of the measured crop in second-moment radii.
    size : int
        Side of the view's square in pixels (centred, zero-padded, in an input
        square that may be larger: the largest view's).
    """

    crop: str = "none"
    crop_scale: float = MEASURED_CROP_SCALE
    size: int = 48

    def __post_init__(self) -> None:
        if self.crop not in ("none", "measured"):
            raise ValueError(f"a model view's crop is 'none' or 'measured', not {self.crop!r}")


def parse_views(text: str | None) -> tuple[ModelView, ...] | None:
    """The views of a model's ``galaxy_sorter.views`` metadata (a JSON list of :class:`ModelView` fields); None if absent."""
    if not text:
        return None
    return tuple(ModelView(**item) for item in json.loads(text))


def model_square(image: np.ndarray, prep: Preprocessing, views: Sequence[ModelView], size: int) -> np.ndarray:
    """One image as a model's input square: the user's crop, then each view's crop, resized and stacked.

    Each view's RGB square is centred in a ``size`` x ``size`` square (zero
    around a smaller view) and the views follow one another as channels, so a
    model of two views gets a (size, size, 6) array; the ONNX graph slices each
    view back out (``models/export_galaxy_duo.py``).  One view gives the plain
    (size, size, 3) square.  Rotations (:func:`dihedral_variants`) keep a
    centred view centred.
    """
    crop = crop_image(image, prep)
    measured = iter(measured_crops(crop, [v.crop_scale for v in views if v.crop == "measured"], whole=image))
    squares = []
    for view in views:
        seen = next(measured) if view.crop == "measured" else crop
        square = resize_square(seen, view.size)
        if view.size < size:
            a = (size - view.size) // 2
            b = size - view.size - a
            square = np.pad(square, ((a, b), (a, b), (0, 0)))
        squares.append(square)
    return squares[0] if len(squares) == 1 else np.concatenate(squares, axis=2)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize to ``size`` x ``size``: area averaging when shrinking, bilinear when enlarging."""
    h, w = image.shape[:2]
    if min(h, w) >= size:
        return ops.resize_area(image, (size, size))
    return ops.resize_linear(image, (size, size))


def dihedral_variants(image: np.ndarray) -> list[np.ndarray]:
    """Return the 8 rotations by 90 degrees and their mirror images."""
    out = []
    for k in range(4):
        rotated = np.rot90(image, k)
        out.append(rotated)
        out.append(rotated[:, ::-1])
    return [np.ascontiguousarray(v) for v in out]


def to_model_input(images: list[np.ndarray], scale: float, offset: float, out: np.ndarray | None = None) -> np.ndarray:
    """Stack RGB uint8 squares into an NCHW float32 batch normalised as ``x*scale+offset``.

    Parameters
    ----------
    images : list of ndarray
        RGB uint8 squares of one size, each of shape (size, size, 3) (3 channels per view:
        (size, size, 6) for a model of two views, :func:`model_square`).
    scale, offset : float
        The model's normalisation.
    out : ndarray of shape (len(images), channels, size, size), float32, optional
        Where to write the batch: a slice of a preallocated batch lets worker
        threads prepare each image in place, so the thread running the model
        never stacks, converts or transposes (that copy cost a tenth of the
        inference time of EfficientNet-Lite0 when it ran between model calls).

    Returns
    -------
    ndarray of shape (len(images), channels, size, size), float32
        ``out`` when given.  The values are bit-identical either way: each is
        ``float32(x) * float32(scale) + float32(offset)`` rounded in float32.
    """
    if out is None:
        size, channels = (images[0].shape[0], images[0].shape[2]) if images else (0, 3)
        out = np.empty((len(images), channels, size, size), np.float32)
    s32, o32 = np.float32(scale), np.float32(offset)
    for row, image in zip(out, images):
        np.multiply(image.transpose(2, 0, 1), s32, out=row)
        row += o32
    return out
