"""Cost of showing a galaxy: thumbnails with the model's crop and the display stretches.

One command::

    .venv/bin/python benchmarks/display_speed.py [--images 100]

On the first ``--images`` Galaxy Zoo JPEGs of ``../shared/data/galaxy-zoo-kaggle``
(424x424) and on a synthetic 512x512x3 float32 FITS cube, prints the median
milliseconds per image of: the old whole-frame thumbnail (``core.images.io.thumbnail``),
the cropped thumbnail as read, and each stretch (linear, sqrt, log, asinh;
per band) for a 96 px thumbnail and the full-size preview, with ratios to the
old thumbnail from the same run.  All of it runs on the GUI thread when a
thumbnail scrolls into view, so these decide whether scrolling stays smooth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "galaxy-zoo-kaggle" / "images"


def per_image(fn, paths: list[str], repeat: int = 3) -> float:
    """Median over ``repeat`` passes of the mean milliseconds per image."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for p in paths:
            fn(p)
        times.append((time.perf_counter() - t) / len(paths) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args(argv)
    from astropy.io import fits

    from core.images.display import Stretch, render
    from core.images.io import thumbnail
    from core.images.preprocess import Preprocessing

    jpegs = sorted(str(p) for p in DATA.glob("*.jpg"))[: args.images]
    if not jpegs:
        print(f"no images in {DATA}")
        return 1
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    cube = tmp / "cube.fits"
    fits.PrimaryHDU(rng.gamma(2.0, 10.0, (3, 512, 512)).astype(np.float32)).writeto(cube)
    cubes = [str(cube)] * 10
    prep = Preprocessing()
    print(f"{len(jpegs)} Galaxy Zoo JPEGs (424 px) and a 512x512x3 float32 FITS cube; ms per image, median of 3")
    for name, paths in (("JPEG", jpegs), ("FITS", cubes)):
        base = per_image(lambda p: thumbnail(p, 96), paths)
        print(f"\n{name}: old whole-frame 96 px thumbnail {base:.2f} ms (1.00x)")
        rows = [("crop, as read", Stretch("as read"))] + [
            (f"crop, {k}", Stretch(k, 0.5, 99.5)) for k in ("linear", "sqrt", "log", "asinh")] + [
            ("crop, asinh per band", Stretch("asinh", 0.5, 99.5, per_band=True))]
        for label, stretch in rows:
            thumb = per_image(lambda p, s=stretch: render(p, s, prep, 96), paths)
            full = per_image(lambda p, s=stretch: render(p, s), paths)
            print(f"  {label:22s} thumbnail {thumb:6.2f} ms ({thumb / base:4.2f}x)   preview {full:6.2f} ms "
                  f"({full / base:4.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
