"""Which softening the model's fixed FITS stretch uses: measured on Kaggle training-split images, never the test split.

One command::

    .venv/bin/python benchmarks/fits_stretch.py [--softenings 3,10,20,30] [--n 700] [--model galaxy_cnn]

Each image (elliptical or spiral, of the training split: the robustness
benchmark measures the test split) is turned back into linear flux the way
``benchmarks/robustness.py`` writes its *fits linear* condition (an
approximate inverse of the JPEG's asinh-like stretch), then stretched by
:func:`core.images.io.asinh_stretch` (the model's stretch,
:data:`core.images.fits.MODEL_STRETCH`) with each softening, in noise levels.
For each, and for the JPEGs themselves: the 5-fold linear probe's balanced
ACC and k-means's balanced ACC / ARI (0 labels, seed 0) on the model's features.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dec_stability import SETS  # noqa: E402
from benchmarks.evaluate import supervised_probe  # noqa: E402
from core.catalog.truth import load_truth  # noqa: E402
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import DEFAULT_MODEL, load_model  # noqa: E402
from core.images.fits import MODEL_STRETCH  # noqa: E402
from core.images.io import asinh_stretch, read_image  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402


def training_images(n: int) -> tuple[list[Path], np.ndarray]:
    """Up to ``n`` ellipticals and spirals of the Kaggle training split, evenly spaced by name."""
    sys.path.insert(0, str(ROOT / "models"))
    from train_galaxy_net import split_of

    folder, labels = SETS["kaggle"]
    truth = load_truth(labels)
    paths = sorted(p for p in folder.iterdir() if p.stem in truth and split_of(p.stem) == "train"
                   and truth[p.stem] in ("elliptical", "spiral"))
    paths = paths[:: max(1, len(paths) // n)][:n]
    return paths, np.array([truth[p.stem] for p in paths])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--softenings", default="3,10,20,30")
    parser.add_argument("--n", type=int, default=700)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    if not SETS["kaggle"][1].is_file():
        print(f"data not found: {SETS['kaggle'][1]}", file=sys.stderr)
        return 2
    paths, y = training_images(args.n)
    model = load_model(args.model, use_gpu=False)
    prep = Preprocessing()
    jpegs = [read_image(p) for p in paths]
    linear = [np.sinh(3.0 * rgb.astype(np.float32) / 255.0) / np.sinh(3.0) for rgb in jpegs]
    percentile = float(MODEL_STRETCH["upper_percentile"])  # type: ignore[arg-type]
    variants: list[tuple[str, float | None]] = [("JPEG as is", None)]
    variants += [(f"linear, softening {s} noise levels", float(s)) for s in args.softenings.split(",")]
    print(f"{args.model}, {len(paths)} Kaggle training-split images, fixed 0.5 crop, seed 0; "
          f"the product's softening: {MODEL_STRETCH['softening_noise_levels']}")
    print("| input | probe bal. | k-means bal. / ARI |\n|---|---|---|")
    for name, soft in variants:
        rows = []
        for k in range(0, len(paths), 64):
            images = jpegs[k:k + 64] if soft is None else [
                (asinh_stretch(x, soft, percentile) * 255.0 + 0.5).astype(np.uint8) for x in linear[k:k + 64]]
            rows.append(model.run([model.prepare(img, prep)[0] for img in images]))
        features = np.concatenate(rows)
        probe = supervised_probe(features, y)[1]
        scores = evaluate(y, cluster_features(features, "kmeans", 2, random_state=0).labels)
        print(f"| {name} | {probe:.3f} | {scores['balanced_acc']:.3f} / {scores['ari']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
