"""Decoding and model preparation without OpenCV (issue 22) against the OpenCV path, on real images.

One command::

    .venv/bin/python benchmarks/image_ops_speed.py [--data FOLDER] [--n 200] [--models galaxy_duo,efficientnet_lite0]

For each model: milliseconds per image of decoding and of the model's
preparation (crop, measured crops, resizes) under the fixed and the automatic
crop, in one thread, and ``extract_features`` end to end in images/second, each
through core's code (Pillow, ``core.images.ops``) and through the old OpenCV
calls (``tests/opencv_reference.py``: needs opencv-python-headless, the dev
extra), interleaved in the same run, best of ``--repeats``; then the ratios.
It also checks that both paths gave the same model inputs.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evaluate import DATA, find_images  # noqa: E402
from core.features.extract import extract_features, load_model  # noqa: E402
from core.images.io import read_image  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from tests.opencv_reference import opencv_path  # noqa: E402


def _per_image_ms(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--models", default="galaxy_duo,efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"data not found at {args.data}", file=sys.stderr)
        return 2
    paths = find_images(args.data)[: args.n]
    print(f"{len(paths)} images from {args.data}; load average {os.getloadavg()[0]:.1f}")
    images = [read_image(p) for p in paths]
    decode = {"pillow": [], "opencv": []}
    for _ in range(args.repeats):
        decode["pillow"].append(_per_image_ms(read_image, paths))
        with opencv_path():
            decode["opencv"].append(_per_image_ms(read_image, paths))
    print(f"decode: {min(decode['pillow']):.2f} ms/image, OpenCV {min(decode['opencv']):.2f} "
          f"(ratio {min(decode['pillow']) / min(decode['opencv']):.2f})")
    for name in args.models.split(","):
        model = load_model(name, use_gpu=False)
        for prep in (Preprocessing(), Preprocessing("auto")):
            same = all(all((a == b).all() for a, b in zip(model.prepare(im, prep), _old(model, im, prep)))
                       for im in images[:20])
            times = {"new": [], "opencv": []}
            prepare = functools.partial(_prepare, model, prep)
            for _ in range(args.repeats):
                times["new"].append(_per_image_ms(prepare, images))
                with opencv_path():
                    times["opencv"].append(_per_image_ms(prepare, images))
            new, old = min(times["new"]), min(times["opencv"])
            print(f"{name} prepare ({prep.crop} crop): {new:.2f} ms/image, OpenCV {old:.2f} (ratio {new / old:.2f}; "
                  f"same inputs: {same})")
        rates = {"new": [], "opencv": []}
        extract_features(paths[:16], model)  # warm
        for _ in range(args.repeats):
            start = time.perf_counter()
            extract_features(paths, model)
            rates["new"].append(len(paths) / (time.perf_counter() - start))
            with opencv_path():
                start = time.perf_counter()
                extract_features(paths, model)
                rates["opencv"].append(len(paths) / (time.perf_counter() - start))
        new, old = max(rates["new"]), max(rates["opencv"])
        print(f"{name} extract_features end to end: {new:.1f} images/s, OpenCV {old:.1f} (ratio {new / old:.2f})")
    return 0


def _prepare(model, prep, image):
    return model.prepare(image, prep)


def _old(model, image, prep):
    with opencv_path():
        return model.prepare(image, prep)


if __name__ == "__main__":
    raise SystemExit(main())
