"""Build ``models/galaxy_duo.onnx``: galaxy_cnn and galaxy_cnn2 on the same image, their features side by side.

Why (issue 24): galaxy_cnn (48 px, the user's crop) is the better representation
of galaxies framed as in its training set (GC1-HSC, half S/N), galaxy_cnn2 (64 px,
each galaxy cropped to its own measured size, trained on shrunk, one-band,
blurred and noisy views) the one that holds when the galaxy is small in its
frame.  Neither wins everywhere; the linear probe and k-means on both feature
sets together keep most of each one's strength (``benchmarks/robustness.py
--model galaxy_duo``; docs/models.md has the table).  No training: this script
only composes the two committed ONNX graphs.

The file
    Input ``(batch, 6, 64, 64)``: channels 0-2 are galaxy_cnn's 48 px square of
    the user's crop, centred (zero around it), channels 3-5 galaxy_cnn2's 64 px
    square of the measured crop; ``core.images.preprocess.model_square`` makes
    it from the ``galaxy_sorter.views`` metadata, the graph slices each view
    back out.  Output: 128 features, galaxy_cnn's 64 then galaxy_cnn2's 64, each
    feature standardised by the mean and spread it has on Kaggle training-split
    images (``--images`` of them, drawn with ``--seed``), so neither block
    dominates k-means (DEC standardises its input itself).  A fixed, recorded
    standardisation, not one fitted to the opened folder: a galaxy's features
    do not depend on which folder it is in, so the feature cache stays valid.

Data provenance
    The standardisation reads Kaggle training-split images only
    (``train_galaxy_net.split_of``); never the test split or GALAXY CRUISE.

Command that made the committed file::

    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import train_galaxy_net as v1  # noqa: E402

OUT = HERE / "galaxy_duo.onnx"
NAME = "galaxy_duo"
#: The parts, in feature order, with the view each one sees (``core.images.preprocess.ModelView`` fields).
PARTS = (("galaxy_cnn", {"crop": "none", "size": 48}), ("galaxy_cnn2", {"crop": "measured", "size": 64}))


def part_stats(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Mean and standard deviation of each part's features on ``paths`` (the product's input path, 0.5 crop)."""
    from core.features.extract import FeatureModel, extract_features
    from core.images.preprocess import Preprocessing

    stats = []
    for name, _ in PARTS:
        feats = extract_features(paths, FeatureModel(name, use_gpu=False, path=HERE / f"{name}.onnx"),
                                 Preprocessing(), batch_size=64).features.astype(np.float64)
        stats.append((feats.mean(0).astype(np.float32), (feats.std(0) + 1e-6).astype(np.float32)))
    return stats


def compose(stats: list[tuple[np.ndarray, np.ndarray]], meta: dict[str, str], out: Path = OUT) -> None:
    """Write one ONNX graph that runs every part on its slice of the input and concatenates the standardised features."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    parts = [onnx.load(str(HERE / f"{name}.onnx")) for name, _ in PARTS]
    size = max(view["size"] for _, view in PARTS)
    nodes, inits, tails, crop_scales = [], [], [], []
    for k, ((name, view), model) in enumerate(zip(PARTS, parts)):
        prefixed = onnx.compose.add_prefix(model, f"{name}/")
        graph = prefixed.graph
        a = (size - view["size"]) // 2
        starts, ends = [3 * k, a, a], [3 * k + 3, a + view["size"], a + view["size"]]
        inits += [numpy_helper.from_array(np.array(starts, np.int64), f"{name}/slice_starts"),
                  numpy_helper.from_array(np.array(ends, np.int64), f"{name}/slice_ends"),
                  numpy_helper.from_array(np.array([1, 2, 3], np.int64), f"{name}/slice_axes"),
                  numpy_helper.from_array(stats[k][0], f"{name}/train_mean"),
                  numpy_helper.from_array(stats[k][1], f"{name}/train_std")]
        nodes.append(helper.make_node("Slice", ["input", f"{name}/slice_starts", f"{name}/slice_ends",
                                                f"{name}/slice_axes"], [graph.input[0].name], name=f"{name}/view"))
        nodes += list(graph.node)
        inits += list(graph.initializer)
        feats = graph.output[0].name
        nodes += [helper.make_node("Sub", [feats, f"{name}/train_mean"], [f"{name}/centred"]),
                  helper.make_node("Div", [f"{name}/centred", f"{name}/train_std"], [f"{name}/standardised"])]
        tails.append(f"{name}/standardised")
        meta_part = {p.key: p.value for p in model.metadata_props}
        crop_scales.append(float(meta_part.get("galaxy_sorter.crop_scale", 0)) or None)
    nodes.append(helper.make_node("Concat", tails, ["features"], axis=1))
    n_feats = sum(int(p.graph.output[0].type.tensor_type.shape.dim[1].dim_value) for p in parts)
    graph = helper.make_graph(
        nodes, NAME, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3 * len(PARTS), size, size])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", n_feats])], inits)
    model = helper.make_model(graph, opset_imports=list(parts[0].opset_import), producer_name="galaxy_sorter")
    model.ir_version = parts[0].ir_version
    views = [dict(view, **({"crop_scale": s} if s else {})) for (_, view), s in zip(PARTS, crop_scales)]
    onnx.helper.set_model_props(model, {
        "galaxy_sorter.name": NAME, "galaxy_sorter.input_size": str(size), "galaxy_sorter.channel_order": "RGB",
        "galaxy_sorter.scale": repr(1 / 255), "galaxy_sorter.offset": "0.0", "galaxy_sorter.views": json.dumps(views),
        **meta})
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def check(out: Path, seed: int = 0) -> float:
    """Max |duo - (each part on its own view, standardised)| on random inputs: the composition changed nothing."""
    import onnx
    import onnxruntime as ort

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    size = int(meta["galaxy_sorter.input_size"])
    x = np.random.default_rng(seed).random((4, 3 * len(PARTS), size, size), dtype=np.float32)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer}
    want = []
    for k, (name, view) in enumerate(PARTS):
        a = (size - view["size"]) // 2
        part = ort.InferenceSession(str(HERE / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        f = part.run(None, {"input": np.ascontiguousarray(x[:, 3 * k : 3 * k + 3, a : a + view["size"],
                                                            a : a + view["size"]])})[0]
        want.append((f - inits[f"{name}/train_mean"]) / inits[f"{name}/train_std"])
    return float(np.abs(got - np.hstack(want)).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=v1.DATA, help="the Kaggle folder (images/, labels.csv)")
    parser.add_argument("--images", type=int, default=1500, help="training-split images for the standardisation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    labels = v1.load_labels(args.data / "labels.csv")
    paths = sorted(p for p in (args.data / "images").iterdir() if p.stem in labels and v1.split_of(p.stem) == "train")
    rng = np.random.default_rng(args.seed)
    paths = [paths[i] for i in np.sort(rng.choice(len(paths), min(args.images, len(paths)), replace=False))]
    stats = part_stats(paths)
    parts = ", ".join(f"{name}.onnx (sha256 {v1_sha(HERE / f'{name}.onnx')[:12]})" for name, _ in PARTS)
    compose(stats, {
        "galaxy_sorter.source": (f"composed by models/export_galaxy_duo.py --images {args.images} --seed {args.seed} "
                                 f"from {parts}; standardised on {len(paths)} Galaxy Zoo Kaggle images (train "
                                 "split: sha1(GalaxyID) % 100 < 80)"),
        "galaxy_sorter.weights": "galaxy_cnn and galaxy_cnn2 side by side (Galaxy Sorter, trained on Galaxy Zoo 2 "
                                 "(Kaggle) labels)",
    }, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MB; max |duo - parts| = {check(args.out):.1e})")
    return 0


def v1_sha(path: Path) -> str:
    """SHA-256 of a part's file (recorded in the duo's metadata)."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
