"""Classical morphology parameters of the central galaxy, fast enough for whole folders.

The vocabulary astronomers already use to describe a galaxy's light, computed from
the colour JPEG (not calibrated photometry: the values are for sorting and
colouring, not for comparison with published catalogues).  Each image is
cropped like the feature models' input (:class:`~core.images.preprocess.Preprocessing`)
and area-binned to at most ``size`` pixels (128 by default), which makes a
galaxy take about a millisecond instead of statmorph's seconds.

Steps, for one image
    1. Luminance ``L`` = mean of R, G, B.  Sky level and noise: median and 1.4826
       times the median absolute deviation of the outer ring of the crop (the
       pixels farther than 0.45 of the side from the centre).
    2. Segmentation: pixels of the 3x3-smoothed ``L`` more than 2 noise levels
       above the sky, keeping the connected region that contains the centre (or
       lies nearest to it).  ``I = L - sky`` inside it, 0 outside, negatives
       clipped.
    3. Centre ``(xc, yc)``: the flux-weighted centroid of ``I``.

Parameters (names as in Conselice 2003 and Lotz, Primack & Madau 2004)
    ``concentration``  C = 5 log10(r80 / r20), where r20 and r80 are the radii of
        circles around the centre holding 20 % and 80 % of the segment's flux.
        About 2.5-3 for discs, 4-5 for ellipticals.
    ``asymmetry``      A = sum |I - I180| / (2 sum |I|), where I180 is ``I``
        rotated by 180 degrees about the centre (no background correction).
        Near 0 for smooth symmetric galaxies, higher for spiral arms, clumps
        and mergers.
    ``gini``           G = sum_i (2i - n - 1) f_i / (mean(f) n (n - 1)) over the n
        segment pixels sorted by flux f_i ascending: 0 when the light is spread
        evenly, 1 when one pixel holds it all.
    ``m20``            M20 = log10(sum_bright M_i / M_tot), M_i = f_i r_i^2: the
        second moment of the brightest pixels holding 20 % of the flux relative
        to the total second moment.  About -2.5 for ellipticals, -1.5 or higher
        for discs with bright knots.
    ``ellipticity``    1 - b/a from the flux-weighted second moments of ``I``.
    ``colour``         -2.5 log10(B / R) over the segment, B and R the blue and
        red channel sums above their own sky: larger is redder.
    ``colour_gradient`` colour inside the half-light radius minus colour outside
        it: positive for red bulges in bluer discs.
    ``r50``            half-light radius as a fraction of the crop side (size).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.images.io import ImageReadError, SkippedFile, read_image
from core.images.ops import box_blur3, connected_components, rotate180
from core.images.preprocess import Preprocessing, crop_image, resize_square
from core.progress import Cancelled, ProgressFn, StopFn
from core.store.layout import MORPHOLOGY_FILE, open_in_store

#: Column names, in the order of :func:`morphology_table`'s array.
NAMES = ("concentration", "asymmetry", "gini", "m20", "ellipticity", "colour", "colour_gradient", "r50")


def _sky(values: np.ndarray) -> tuple[float, float]:
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return med, max(mad, 1e-3)


def _segment(lum: np.ndarray, sky: float, noise: float) -> np.ndarray:
    smooth = box_blur3(lum)
    mask = (smooth > sky + 2.0 * noise).astype(np.uint8)
    n, labels = connected_components(mask)
    h, w = lum.shape
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    centre = labels[h // 2, w // 2]
    if centre == 0:
        ys, xs = np.nonzero(labels)
        nearest = np.argmin((ys - h / 2) ** 2 + (xs - w / 2) ** 2)
        centre = labels[ys[nearest], xs[nearest]]
    return labels == centre


def _radius_at(radii: np.ndarray, flux: np.ndarray, fraction: float) -> float:
    order = np.argsort(radii)
    cum = np.cumsum(flux[order])
    idx = int(np.searchsorted(cum, fraction * cum[-1]))
    return float(radii[order][min(idx, len(order) - 1)])


def morphology_of_image(image: np.ndarray, prep: Preprocessing | None = None, size: int = 128) -> np.ndarray:
    """Return the :data:`NAMES` parameters of one RGB uint8 image (NaN where undefined).

    Parameters
    ----------
    image : ndarray of shape (height, width, 3)
        The decoded image.
    prep : Preprocessing, optional
        Crop applied first (default: the product's fixed 0.5 crop).
    size : int
        The crop is area-binned to at most ``size`` x ``size`` pixels.
    """
    prep = prep or Preprocessing()
    crop = crop_image(image, prep)
    side = min(size, min(crop.shape[:2]))
    rgb = resize_square(crop, side).astype(np.float32)
    lum = rgb.mean(axis=2)
    h, w = lum.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ring = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 > (0.45 * min(h, w)) ** 2
    sky, noise = _sky(lum[ring])
    mask = _segment(lum, sky, noise)
    out = np.full(len(NAMES), np.nan, dtype=np.float64)
    if mask.sum() < 5:
        return out
    img = np.where(mask, np.clip(lum - sky, 0, None), 0.0).astype(np.float64)
    total = img.sum()
    if total <= 0:
        return out
    xc, yc = float((img * xx).sum() / total), float((img * yy).sum() / total)
    f = img[mask]
    r2 = ((xx - xc) ** 2 + (yy - yc) ** 2)[mask].astype(np.float64)
    r = np.sqrt(r2)
    r20, r50, r80 = (_radius_at(r, f, q) for q in (0.2, 0.5, 0.8))
    concentration = 5.0 * np.log10(max(r80, 0.5) / max(r20, 0.5))
    # 180-degree rotation about (xc, yc), bilinear, zero outside (as OpenCV's warpAffine computed it).
    rot = rotate180(img.astype(np.float32), xc, yc)
    both = mask | (rot > 0)
    asymmetry = float(np.abs(img - rot)[both].sum() / (2.0 * np.abs(img)[both].sum()))
    fs = np.sort(f)
    n = len(fs)
    gini = float(((2 * np.arange(1, n + 1) - n - 1) * fs).sum() / (fs.mean() * n * (n - 1))) if n > 1 else np.nan
    moments = f * r2
    order = np.argsort(-f)
    cum = np.cumsum(f[order])
    bright = order[: int(np.searchsorted(cum, 0.2 * total)) + 1]
    m20 = float(np.log10(max(moments[bright].sum(), 1e-12) / max(moments.sum(), 1e-12)))
    dx, dy = (xx - xc)[mask], (yy - yc)[mask]
    cxx, cyy, cxy = (f * dx * dx).sum() / total, (f * dy * dy).sum() / total, (f * dx * dy).sum() / total
    tr, det = cxx + cyy, cxx * cyy - cxy ** 2
    disc = np.sqrt(max(tr * tr / 4 - det, 0.0))
    a2, b2 = tr / 2 + disc, max(tr / 2 - disc, 0.0)
    ellipticity = float(1.0 - np.sqrt(b2 / a2)) if a2 > 0 else np.nan
    chan = []
    for c in (0, 2):  # R and B
        csky, _ = _sky(rgb[..., c][ring])
        chan.append(np.clip(rgb[..., c] - csky, 0, None)[mask].astype(np.float64))
    red, blue = chan

    def colour(sel: np.ndarray) -> float:
        rs, bs = red[sel].sum(), blue[sel].sum()
        return float(-2.5 * np.log10(bs / rs)) if rs > 0 and bs > 0 else np.nan

    inner = r <= r50
    out[:] = (concentration, asymmetry, gini, m20, ellipticity, colour(np.ones_like(inner)),
              colour(inner) - colour(~inner), r50 / side)
    return out


@dataclass
class MorphologyResult:
    """Parameters of the readable images, aligned with ``paths``."""

    paths: list[Path]
    values: np.ndarray
    skipped: list[SkippedFile]
    seconds: float

    @property
    def names(self) -> tuple[str, ...]:
        """Column names of ``values``."""
        return NAMES


def morphology_table(
    paths: Sequence[str | os.PathLike[str]],
    prep: Preprocessing | None = None,
    size: int = 128,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> MorphologyResult:
    """Compute :data:`NAMES` for every readable image.

    Parameters
    ----------
    paths : sequence of path-like
        Image files.
    prep : Preprocessing, optional
        Crop (default: fixed 0.5).
    size : int
        Binned crop side in pixels (at most).
    progress : callable(fraction, message), optional
        Called every 64 images.
    should_stop : callable() -> bool, optional
        Polled every 64 images; raises :class:`~core.progress.Cancelled`.

    Returns
    -------
    MorphologyResult
        ``values`` of shape (n_readable, len(NAMES)); NaN where a parameter is undefined
        (for example no pixel above the sky near the centre).
    """
    start = time.perf_counter()
    kept: list[Path] = []
    rows: list[np.ndarray] = []
    skipped: list[SkippedFile] = []
    for i, p in enumerate(paths):
        try:
            rows.append(morphology_of_image(read_image(p), prep, size))
            kept.append(Path(p))
        except ImageReadError as exc:
            skipped.append(SkippedFile(str(p), str(exc)))
        if (i + 1) % 64 == 0:
            if progress:
                progress((i + 1) / len(paths), f"morphology {i + 1}/{len(paths)}")
            if should_stop and should_stop():
                raise Cancelled("morphology cancelled")
    values = np.stack(rows) if rows else np.zeros((0, len(NAMES)))
    return MorphologyResult(kept, values, skipped, time.perf_counter() - start)


# ----------------------------------------------------------------- kept in the project store
#: The parameters the catalogue and the map offer (``colour_gradient`` and ``r50`` stay in the table only).
CATALOGUE_NAMES = NAMES[:6]
#: The file in the project store folder holding one row of :data:`NAMES` per image id (named by the store's layout).
STORE_FILE = MORPHOLOGY_FILE
_CACHE: dict[str, tuple[tuple[int, int], dict[str, object]]] = {}


def _store_file(store: object) -> Path:
    """The store's morphology file (:attr:`ProjectStore.morphology_file`); a bare folder for worker threads."""
    named = getattr(store, "morphology_file", None)
    return named if isinstance(named, Path) else Path(getattr(store, "folder", store)) / MORPHOLOGY_FILE  # type: ignore[arg-type]


def load_morphology(store: object) -> dict[str, object] | None:
    """The stored values of a project store (or its folder), or None when there are none.

    Returns a dict with ``ids`` (image ids), ``values`` (one row of :data:`NAMES` per id,
    NaN where undefined or unreadable), ``prep`` (the crop, as a dict) and ``size``.
    Cached on the file's modification time, so map recolourings do not read the file again.
    """
    path = _store_file(store)
    try:
        st = path.stat()
        mtime = (st.st_mtime_ns, st.st_size)
    except OSError:
        return None
    cached = _CACHE.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    import json

    with np.load(path, allow_pickle=False) as data:
        names = tuple(str(n) for n in data["names"])
        values = np.full((len(data["ids"]), len(NAMES)), np.nan)
        for j, name in enumerate(NAMES):
            if name in names:
                values[:, j] = data["values"][:, names.index(name)]
        out: dict[str, object] = {"ids": data["ids"].astype(np.int64), "values": values,
                                  "prep": json.loads(str(data["prep"])), "size": int(data["size"])}
    _CACHE[str(path)] = (mtime, out)
    return out


def _save_morphology(store: object, ids: np.ndarray, values: np.ndarray, prep: Preprocessing, size: int) -> None:
    import json
    from dataclasses import asdict

    path = _store_file(store)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    tmp.unlink(missing_ok=True)  # a stale one of a killed process (never followed: unlink removes a link itself)
    try:
        # Through the store's guard: a fresh file, never through a link planted at that name.
        with os.fdopen(open_in_store(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb") as fh:
            np.savez(fh, ids=ids.astype(np.int64), values=values.astype(np.float64), names=np.array(NAMES),
                     prep=np.array(json.dumps(asdict(prep))), size=np.array(size))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def morphology_values(store: object, image_ids: Sequence[int] | np.ndarray,
                      names: Sequence[str] = CATALOGUE_NAMES) -> np.ndarray | None:
    """Stored ``names`` columns for ``image_ids`` (NaN rows where an image has none), or None when nothing is stored."""
    data = load_morphology(store)
    if data is None:
        return None
    ids, values = np.asarray(data["ids"]), np.asarray(data["values"])
    cols = [NAMES.index(n) for n in names]
    want = np.asarray(image_ids, np.int64).reshape(-1)
    out = np.full((len(want), len(cols)), np.nan)
    if len(ids) == 0 or len(want) == 0:
        return out
    order = np.argsort(ids, kind="stable")
    pos = np.clip(np.searchsorted(ids[order], want), 0, len(ids) - 1)
    hit = ids[order][pos] == want
    out[hit] = values[order[pos[hit]]][:, cols]
    return out


def compute_morphology(
    store: object,
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    prep: Preprocessing | None = None,
    size: int = 128,
    workers: int | None = None,
) -> dict[str, object]:
    """Compute :data:`NAMES` for the images of ``paths`` that the store has no values for, and keep them.

    Parameters
    ----------
    store : ProjectStore, Project or path-like
        The project store (its image ids key the rows; the values go to ``<store folder>/morphology.npz``),
        a project (its store) or a store folder (opened here and closed after: for worker threads).
    paths : sequence of path-like
        Images registered in the store; those already computed are skipped, so a second call costs nothing.
    progress, should_stop : callables, optional
        See :mod:`core.progress`.  On cancel the rows computed so far are kept, then
        :class:`~core.progress.Cancelled` is raised.
    prep, size : optional
        Crop and binned side (see :func:`morphology_of_image`); default: the fixed 0.5 crop, 128 px.
        The app and the CLI pass the run's crop, so the parameters measure what the features saw (a tight
        crop for galaxies small in their frames); ``rotations`` is ignored.  Stored values computed with
        another crop or size are recomputed.
    workers : int, optional
        Threads (decoding and OpenCV release the GIL); default ``min(8, cpu count)``.

    Returns
    -------
    dict
        ``computed`` (how many images were computed now), ``unreadable`` (of those, files that could not be
        read: their values are empty, kept as done so they are not read again each time), ``total`` (rows
        stored), ``seconds``.
    """
    if isinstance(store, (str, os.PathLike)):  # a worker thread opens its own connection (see Project.reload_features)
        from core.store.database import ProjectStore

        own = ProjectStore(store)
        try:
            return compute_morphology(own, paths, progress, should_stop, prep, size, workers)
        finally:
            own.close()
    store = getattr(store, "store", store)  # a Project: its store
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import asdict

    if getattr(store, "read_only", False):
        from core.store.layout import ReadOnlyStore

        raise ReadOnlyStore(f"the project store {getattr(store, 'folder', store)} is read-only: "
                            f"morphology parameters cannot be kept")
    start = time.perf_counter()
    prep = replace(prep, rotations=False) if prep is not None else Preprocessing()  # one view is measured
    known = store.image_ids()  # type: ignore[attr-defined]
    old = load_morphology(store)
    if old is not None and (old["size"] != size or old["prep"] != asdict(prep)):
        old = None  # computed another way: start afresh
    done_ids = list(old["ids"]) if old is not None else []  # type: ignore[call-overload]
    done_rows = list(old["values"]) if old is not None else []  # type: ignore[call-overload]
    have = {int(i) for i in done_ids}
    todo = []
    for p in paths:
        i = known.get(str(p))
        if i is not None and int(i) not in have:
            have.add(int(i))
            todo.append((int(i), p))

    unreadable: list[int] = []

    def one(item: tuple[int, str | os.PathLike[str]]) -> np.ndarray:
        try:
            return morphology_of_image(read_image(item[1]), prep, size)
        except ImageReadError:
            unreadable.append(item[0])  # list.append is atomic: the pool's threads share it
            return np.full(len(NAMES), np.nan)  # kept as done: an unreadable file is not retried every time

    def save() -> None:
        if done_ids:
            _save_morphology(store, np.array(done_ids), np.stack(done_rows), prep, size)

    n_new = len(todo)
    chunk = 64
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        try:
            for k in range(0, n_new, chunk):
                part = todo[k:k + chunk]
                done_rows.extend(pool.map(one, part))
                done_ids.extend(i for i, _ in part)
                if progress:
                    progress(min(k + chunk, n_new) / n_new, f"morphology {min(k + chunk, n_new)}/{n_new}")
                if should_stop and should_stop():
                    raise Cancelled("morphology cancelled")
        finally:
            if n_new:
                save()
    return {"computed": n_new, "unreadable": len(unreadable), "total": len(done_ids),
            "seconds": time.perf_counter() - start}


def morphology_record(store: object) -> dict[str, object] | None:
    """How the stored values were computed (for the catalogue's sidecar), or None when there are none."""
    data = load_morphology(store)
    if data is None:
        return None
    return {"columns": list(CATALOGUE_NAMES), "crop": data["prep"], "size": data["size"],
            "images": len(data["ids"]),  # type: ignore[arg-type]
            "definitions": "core/features/morphology.py (docstring); README 'Morphology parameters'",
            "note": "from the colour JPEG, for sorting and colouring, not calibrated photometry"}
