"""The bundle's 16-bit weight storage against the float32 model files (issue 22), one command.

``.venv/bin/python benchmarks/weight_storage.py [--images 90] [--data FOLDER] [--repeats 5]``

For each model, the float32 file is converted twice into a temporary folder, as the bundle does
(``packaging/weight_storage.py``: int16 with a scale per output channel) and as plain float16
storage, and the three files run the same prepared batches (the built-in sample by default) on
the CPU provider.  Printed per model and storage: file size, features' relative L2 distance to
float32 (max and mean over images), the lowest cosine, whether onnxruntime left any ``Cast`` in
its optimised graph, and the inference time against float32's: the fastest of ``--repeats`` runs of
one batch of 16, the three files interleaved in the same run (absolute times are noisy on a shared
CPU; the ratio of the fastest runs is the figure), and the seconds to open each file (fastest of 3).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "packaging"))

import weight_storage  # noqa: E402

from core.features.extract import FEATURE_MODELS  # noqa: E402
from core.images.io import read_image  # noqa: E402
from core.images.preprocess import Preprocessing, to_model_input  # noqa: E402
from core.paths import model_file, sample_dir  # noqa: E402


def _model(name: str, path: Path):
    return FEATURE_MODELS.get(name).factory(name, path=path, use_gpu=False)


def _casts_left(path: Path) -> int:
    """``Cast`` nodes in onnxruntime's optimised graph of ``path`` (0: the weights were folded to float32)."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(Path(tmp) / "optimised.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return sum(n.op_type == "Cast" for n in onnx.load(options.optimized_model_filepath).graph.node)


def compare(name: str, images: list[Path], batch: int = 16, repeats: int = 5) -> None:
    """Print the comparison for one model (see the module docstring)."""
    source = model_file(name)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"float32": source}
        for codec in ("int16", "float16"):
            files[codec] = Path(tmp) / f"{name}-{codec}.onnx"
            weight_storage.convert(source, files[codec], codec=codec)
        opened: dict[str, list[float]] = {k: [] for k in files}
        for _ in range(3):  # opening (where onnxruntime folds the 16-bit weights back), interleaved, fastest counts
            for k, p in files.items():
                t = time.perf_counter()
                _model(name, p)
                opened[k].append(time.perf_counter() - t)
        models = {k: _model(name, p) for k, p in files.items()}
        ref = models["float32"]
        prep = Preprocessing()
        x = to_model_input([s for p in images for s in ref.prepare(read_image(p), prep)], ref.scale, ref.offset)
        feats = {k: [m.infer(x[i:i + batch]) for i in range(0, len(x), batch)] for k, m in models.items()}
        secs: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(repeats):  # one batch, interleaved, so load changes hit every file alike; the fastest counts
            for k, m in models.items():
                t = time.perf_counter()
                m.infer(x[:batch])
                secs[k].append(time.perf_counter() - t)
        f32 = np.concatenate(feats["float32"])
        print(f"\n{name}: {len(x)} images, feature dim {f32.shape[1]}")
        print(f"  {'storage':<9} {'MB':>6} {'rel L2 max':>11} {'mean':>9} {'min cosine':>11} {'Casts left':>10} "
              f"{'time / fp32':>11} {'open s':>7}")
        for k in models:
            f = np.concatenate(feats[k])
            rel = np.linalg.norm(f - f32, axis=1) / np.linalg.norm(f32, axis=1)
            cos = (f * f32).sum(1) / (np.linalg.norm(f, axis=1) * np.linalg.norm(f32, axis=1))
            casts = _casts_left(files[k]) if k != "float32" else 0
            print(f"  {k:<9} {files[k].stat().st_size / 1e6:6.1f} {rel.max():11.2e} {rel.mean():9.2e} {cos.min():11.8f} "
                  f"{casts:10d} {min(secs[k]) / min(secs['float32']):11.2f} {min(opened[k]):7.2f}")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison on the chosen models and images."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--images", type=int, default=90)
    parser.add_argument("--data", type=Path, default=None, help="a folder of images (default: the built-in sample)")
    parser.add_argument("--models", default="xception,efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    folder = args.data or sample_dir()
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[:args.images]
    if not images:
        print(f"no images in {folder}")
        return 1
    print(f"{len(images)} images from {folder}")
    for name in args.models.split(","):
        compare(name, images, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
