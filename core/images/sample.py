"""The built-in sample: rendered synthetic galaxies with known classes.

These are **synthetic** images, made by this module, not observations: smooth
Sersic ellipticals (n = 4, random axis ratio), face-on disks with a bulge and
logarithmic spiral arms, and edge-on disks with a dust lane.  Each is rendered
with a random size, orientation, colour and position jitter, convolved with a
Gaussian PSF, and given sky noise, so the run command and the tests have a
small labelled folder that does not depend on ``../shared``.  The same seed
always renders the same folder.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

CLASSES = ("elliptical", "spiral", "edge_on")


def _grid(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    c = (size - 1) / 2.0 + rng.uniform(-2, 2, size=2)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = rng.uniform(0, np.pi)
    dx, dy = x - c[0], y - c[1]
    return dx * np.cos(theta) + dy * np.sin(theta), -dx * np.sin(theta) + dy * np.cos(theta), theta


def _sersic(r: np.ndarray, r_e: float, n: float) -> np.ndarray:
    b = 2.0 * n - 1.0 / 3.0
    return np.exp(-b * ((r / r_e) ** (1.0 / n) - 1.0))


def render_galaxy(kind: str, size: int = 128, rng: np.random.Generator | None = None) -> np.ndarray:
    """Render one synthetic galaxy of class ``kind`` as RGB uint8 (size, size, 3)."""
    from core.images.ops import gaussian_blur

    rng = rng or np.random.default_rng()
    u, v, _ = _grid(size, rng)
    scale = size / 128.0
    if kind == "elliptical":
        q = rng.uniform(0.55, 1.0)
        r = np.hypot(u, v / q)
        light = _sersic(r, rng.uniform(5, 9) * scale, 4.0)
        colour = np.array([1.0, 0.82, 0.62])  # red and dead
        img = light[..., None] * colour
    elif kind == "spiral":
        incl = rng.uniform(0.65, 1.0)
        r = np.hypot(u, v / incl)
        phi = np.arctan2(v / incl, u)
        h = rng.uniform(9, 14) * scale
        disk = np.exp(-r / h)
        pitch = np.deg2rad(rng.uniform(12, 25))
        n_arms = rng.choice([2, 2, 3])
        phase = rng.uniform(0, 2 * np.pi)
        arms = np.cos(n_arms * (phi - np.log(r + 1e-3) / np.tan(pitch)) + phase)
        arms = np.clip(arms, 0, None) ** 3
        bulge = 0.6 * _sersic(r, 3.0 * scale, 2.0)
        blue = disk * (0.35 + 1.4 * arms * np.clip(r / (2.5 * h), 0, 1))
        img = bulge[..., None] * np.array([1.0, 0.85, 0.65]) + blue[..., None] * np.array([0.65, 0.8, 1.0])
    elif kind == "edge_on":
        h = rng.uniform(12, 18) * scale
        z0 = rng.uniform(1.2, 2.2) * scale
        disk = np.exp(-np.abs(u) / h) / np.cosh(v / z0) ** 2
        bulge = 0.5 * _sersic(np.hypot(u, v / 0.7), 3.5 * scale, 2.0)
        lane = 1.0 - 0.7 * np.exp(-((v - rng.uniform(-0.4, 0.4) * scale) / (0.6 * scale)) ** 2) * (np.abs(u) < 2.2 * h)
        img = (disk * lane)[..., None] * np.array([0.8, 0.85, 1.0]) + bulge[..., None] * np.array([1.0, 0.85, 0.65])
    else:
        raise ValueError(f"unknown galaxy class {kind!r}; choose one of {CLASSES}")
    img = img / img.max()
    img = gaussian_blur(img, rng.uniform(0.8, 1.6) * scale)
    # Display stretch as in survey colour composites: the faint disk and arms show.
    soft = 0.03
    img = np.arcsinh(img / soft) / np.arcsinh(1.0 / soft) * rng.uniform(0.75, 1.0)
    # a faint neighbour now and then, as in real cutouts
    if rng.random() < 0.3:
        yy, xx = np.mgrid[0:size, 0:size]
        cy, cx = rng.uniform(0, size, 2)
        img += 0.3 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (1.5 * scale) ** 2))[..., None]
    img = img + rng.normal(0.03, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_sample(folder: str | os.PathLike[str], per_class: int = 30, size: int = 128, seed: int = 0) -> Path:
    """Write ``per_class`` PNG galaxies of each class and ``labels.csv`` into ``folder``.

    Returns the folder.  Files are named ``<class>_<nnn>.png``; ``labels.csv`` has
    columns ``id,morphology``.
    """
    from core.images.decode import encode_png

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for kind in CLASSES:
        for i in range(per_class):
            name = f"{kind}_{i:03d}"
            img = render_galaxy(kind, size, rng)
            (folder / f"{name}.png").write_bytes(encode_png(img))  # the bytes OpenCV wrote: the same image ids
            rows.append((name, kind))
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "morphology"])
        writer.writerows(rows)
    (folder / "README.txt").write_text(
        "Synthetic galaxies rendered by core/images/sample.py (not observations): Sersic ellipticals,\n"
        "spirals with logarithmic arms and edge-on disks, with PSF blur and noise.\n"
        "labels.csv gives the class each was rendered as.\n")
    return folder


def make_band_sample(folder: str | os.PathLike[str], n: int = 3, size: int = 96, seed: int = 0) -> list[Path]:
    """Write ``n`` synthetic spirals as three FITS files each, ``spiral_<k>_g/r/i.fits``; returns the files.

    A red bulge (old stars: brighter in i than in g) and blue arms (young
    stars: brighter in g) over sky noise, in linear flux units as a survey
    delivers them: each galaxy's three files are one colour image for the model
    and the display (:func:`core.images.fits.band_files`).  Seeded: the same
    ``seed`` writes the same files.
    """
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(n):
        y, x = np.mgrid[:size, :size] - (size - 1) / 2.0
        angle = rng.uniform(0, np.pi)
        r, theta = np.hypot(x, y), np.arctan2(y, x) + angle
        bulge = _sersic(r, size / 24, 4.0)
        arms = np.exp(-r / (size / 6)) * (1 + np.cos(2 * theta - r / (size / 20))) ** 3 / 8
        for band, (b_w, a_w) in {"g": (0.3, 1.6), "r": (0.7, 1.0), "i": (1.0, 0.6)}.items():
            flux = 400 * b_w * bulge / bulge.max() + 40 * a_w * arms + rng.normal(0, 0.8, r.shape)
            path = folder / f"spiral_{k}_{band}.fits"
            fits.PrimaryHDU(flux.astype(np.float32)).writeto(path, overwrite=True)
            written.append(path)
    return written
