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
    Input ``(batch, 12, 64, 64)``, four views of each image, three channels each:
    galaxy_cnn's 48 px square of the user's crop (centred, zero around it), then
    galaxy_cnn2's 64 px squares of the galaxy's measured crop at 4, 5 and 6.5
    second-moment radii (0.8, 1 and 1.3 times the 5 it was trained at: the
    measured radius is noisy, and the mean over three framings is steadier than
    one; test-time multi-scale).  ``core.images.preprocess.model_square`` makes
    the input from the ``galaxy_sorter.views`` metadata, the graph slices each
    view back out, runs each network once on its views stacked along the batch
    axis and averages galaxy_cnn2's three.  Output: 128 features, galaxy_cnn's
    64 then galaxy_cnn2's 64, each feature standardised by the mean and spread
    it has on Kaggle training-split images (``--images`` of them, drawn with
    ``--seed``, measured through the unstandardised graph), so neither block
    dominates k-means (DEC standardises its input itself).  A fixed, recorded
    standardisation, not one fitted to the opened folder: a galaxy's features
    do not depend on which folder it is in, so the feature cache stays valid.

Data provenance
    The standardisation reads Kaggle training-split images only
    (``train_galaxy_net.split_of``); never the test split or GALAXY CRUISE.

Command that made the committed file::

    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0

``--second`` names another network of galaxy_cnn2's kind (64 px, measured crop)
for the second part, ``--out`` the file and ``--name`` its name: galaxy_duo3
(galaxy_cnn + galaxy_cnn3, ``models/train_galaxy_net2.py``'s docstring) was made by::

    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0 --second galaxy_cnn3 \\
        --out models/galaxy_duo3.onnx --name galaxy_duo3

``--third`` adds a network of galaxy_cnn2's kind that reads the second's views
(the same slices of the input, so the input stays 12 channels).  The committed
galaxy_trio (galaxy_cnn, galaxy_cnn2 and galaxy_cnn6, 192 features; what a
single-band folder gets, ``core/features/bands.py``) was made by::

    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0 --third galaxy_cnn6 \\
        --name galaxy_trio --out models/galaxy_trio.onnx

``--pooled`` appends, after every part's features, each part's pooled penultimate layer (the global mean of its
last convolution block, the input of the 64-feature embedding; 128 features a part, view-averaged and standardised
on the same training images), so the first features stay the duo's.  The candidate galaxy_duo_pools (384
features; measured and not kept, ``docs/models.md``) was made by::

    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0 --pooled \\
        --name galaxy_duo_pools --out /tmp/galaxy_duo_pools.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import train_galaxy_net as v1  # noqa: E402

from core.paths import file_sha256  # noqa: E402

OUT = HERE / "galaxy_duo.onnx"
NAME = "galaxy_duo"
#: The parts, in feature order, each with the views it sees (``core.images.preprocess.ModelView`` fields); a part
#: of several views gives the mean of its features over them.  galaxy_cnn2 sees its measured crop at 0.8, 1 and 1.3
#: times the 5 radii it was trained at (test-time multi-scale: the measured radius is noisy, the mean is steadier).
Parts = tuple[tuple[str, tuple[dict[str, object], ...]], ...]
PARTS: Parts = (
    ("galaxy_cnn", ({"crop": "none", "size": 48},)),
    ("galaxy_cnn2", tuple({"crop": "measured", "crop_scale": c, "size": 64} for c in (4.0, 5.0, 6.5))),
)


def parts_with(second: str, third: str | None = None) -> Parts:
    """:data:`PARTS` with ``second`` (a ``<name>.onnx`` in this folder, 64 px, measured crop) in galaxy_cnn2's place,
    and ``third`` (the same kind), if given, after it on the same views (galaxy_trio: galaxy_cnn6 beside galaxy_cnn2)."""
    spec = (PARTS[0], (second, PARTS[1][1]))
    return spec if third is None else (*spec, (third, PARTS[1][1]))


def input_channels(parts_spec: Parts) -> int:
    """The composed model's input channels: three for each view of each distinct view set (:func:`view_slots`)."""
    return 3 * sum(len(views) for (_, views), (_, shared) in zip(parts_spec, view_slots(parts_spec)) if not shared)


def view_slots(parts_spec: Parts) -> list[tuple[int, bool]]:
    """Each part's first input channel, and whether it reads views an earlier part already reads.

    A part whose views are exactly an earlier part's shares that part's slices of
    the input instead of asking for the same crops again (galaxy_trio's third
    network sees galaxy_cnn2's three measured crops), so the input holds each
    distinct view set once and preparing an image costs no more than the duo's.
    """
    slots, seen, channel = [], {}, 0
    for _, views in parts_spec:
        key = json.dumps(views, sort_keys=True)
        if key in seen:
            slots.append((seen[key], True))
        else:
            seen[key] = channel
            slots.append((channel, False))
            channel += 3 * len(views)
    return slots


def pooled_input(graph) -> tuple[str, int]:  # noqa: ANN001 (an onnx GraphProto)
    """The name and width of a part's pooled penultimate layer: the input of its embedding's Gemm."""
    from onnx import numpy_helper

    gemm = next((n for n in graph.node if n.op_type == "Gemm"), None)
    if gemm is None:
        raise ValueError(f"{graph.name}: no Gemm node, so no embedding whose pooled input --pooled could take")
    weight = next(numpy_helper.to_array(i) for i in graph.initializer if i.name == gemm.input[1])
    trans_b = any(a.name == "transB" and a.i for a in gemm.attribute)
    return gemm.input[0], int(weight.shape[1] if trans_b else weight.shape[0])


def view_mean_standardised(prefix: str, source: str, n_views: int, mean: np.ndarray,
                           std: np.ndarray) -> tuple[list, list]:
    """The initializers and nodes that average ``source`` (views stacked along the batch axis) over its
    ``n_views`` views and standardise it by ``mean`` and ``std``: ``<prefix>/standardised``, for an
    embedding's features and for a pooled layer alike."""
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([n_views, -1, len(mean)], np.int64), f"{prefix}/by_view"),
             numpy_helper.from_array(mean.astype(np.float32), f"{prefix}/train_mean"),
             numpy_helper.from_array(std.astype(np.float32), f"{prefix}/train_std")]
    nodes = [helper.make_node("Reshape", [source, f"{prefix}/by_view"], [f"{prefix}/per_view"]),
             helper.make_node("ReduceMean", [f"{prefix}/per_view"], [f"{prefix}/mean"], axes=[0], keepdims=0),
             helper.make_node("Sub", [f"{prefix}/mean", f"{prefix}/train_mean"], [f"{prefix}/centred"]),
             helper.make_node("Div", [f"{prefix}/centred", f"{prefix}/train_std"], [f"{prefix}/standardised"])]
    return inits, nodes


def compose(stats: list[tuple[np.ndarray, np.ndarray]] | None, meta: dict[str, str], out: Path = OUT,
            parts_spec: Parts = PARTS, name: str = NAME, pooled: bool = False) -> None:
    """Write one ONNX graph that runs every part on its slices of the input and concatenates the standardised features.

    A part's views are stacked along the batch axis, so its network runs once
    (on ``views x batch`` rows), and the mean over the views is taken after.
    ``stats=None`` writes the graph unstandardised (mean 0, spread 1): the file
    :func:`main` measures the standardisation with.  ``parts_spec`` and
    ``name``: the networks and the file's name (default galaxy_duo's).
    ``pooled``: after every part's features, each part's pooled penultimate
    layer (:func:`pooled_input`), view-averaged and standardised the same way
    (``stats`` then holds the embeddings' constants, then the pooled blocks').
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    duo_name = name
    parts = [onnx.load(str(HERE / f"{name}.onnx")) for name, _ in parts_spec]
    size = max(int(view["size"]) for _, views in parts_spec for view in views)
    nodes, inits, tails, pools = [], [], [], []
    inputs: dict[int, str] = {}  # first channel of a view set -> the input of the part that slices it
    for k, ((name, views), model, (channel, shared)) in enumerate(zip(parts_spec, parts, view_slots(parts_spec))):
        graph = onnx.compose.add_prefix(model, f"{name}/").graph
        dim = int(graph.output[0].type.tensor_type.shape.dim[1].dim_value)
        mean, std = stats[k] if stats is not None else (np.zeros(dim, np.float32), np.ones(dim, np.float32))
        if not shared:
            inits.append(numpy_helper.from_array(np.array([1, 2, 3], np.int64), f"{name}/slice_axes"))
        tail_inits, tail_nodes = view_mean_standardised(name, graph.output[0].name, len(views), mean, std)
        inits += tail_inits
        if shared:  # the same crops as an earlier part: read its stacked views
            nodes.append(helper.make_node("Identity", [inputs[channel]], [graph.input[0].name]))
        else:
            for j, view in enumerate(views):
                c, a, side = channel + 3 * j, (size - int(view["size"])) // 2, int(view["size"])
                inits += [numpy_helper.from_array(np.array([c, a, a], np.int64), f"{name}/starts{j}"),
                          numpy_helper.from_array(np.array([c + 3, a + side, a + side], np.int64), f"{name}/ends{j}")]
                nodes.append(helper.make_node("Slice", ["input", f"{name}/starts{j}", f"{name}/ends{j}",
                                                        f"{name}/slice_axes"], [f"{name}/view{j}"]))
            nodes.append(helper.make_node("Concat", [f"{name}/view{j}" for j in range(len(views))],
                                          [graph.input[0].name], axis=0))
            inputs[channel] = graph.input[0].name
        nodes += list(graph.node)
        inits += list(graph.initializer)
        nodes += tail_nodes
        tails.append((f"{name}/standardised", dim))
        if pooled:
            pool, width = pooled_input(graph)
            pools.append((f"{name}/pool", pool, width, len(views)))
    for k, (pre, pool, width, n_views) in enumerate(pools):
        mean, std = (stats[len(tails) + k] if stats is not None
                     else (np.zeros(width, np.float32), np.ones(width, np.float32)))
        tail_inits, tail_nodes = view_mean_standardised(pre, f"{pre}/flat", n_views, mean, std)
        inits += tail_inits
        nodes += [helper.make_node("Flatten", [pool], [f"{pre}/flat"], axis=1), *tail_nodes]
    tails += [(f"{pre}/standardised", width) for pre, _, width, _ in pools]
    nodes.append(helper.make_node("Concat", [t for t, _ in tails], ["features"], axis=1))
    graph = helper.make_graph(
        nodes, duo_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", input_channels(parts_spec), size, size])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", sum(d for _, d in tails)])], inits)
    model = helper.make_model(graph, opset_imports=list(parts[0].opset_import), producer_name="galaxy_sorter")
    model.ir_version = parts[0].ir_version
    views = [dict(view) for (_, vs), (_, shared) in zip(parts_spec, view_slots(parts_spec)) if not shared for view in vs]
    onnx.helper.set_model_props(model, {
        "galaxy_sorter.name": duo_name, "galaxy_sorter.input_size": str(size), "galaxy_sorter.channel_order": "RGB",
        "galaxy_sorter.scale": repr(1 / 255), "galaxy_sorter.offset": "0.0", "galaxy_sorter.views": json.dumps(views),
        **meta})
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def part_stats(paths: list[Path], raw: Path, parts_spec: Parts = PARTS,
               pooled: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Mean and standard deviation of each part's (view-averaged) features on ``paths``, read through the
    unstandardised duo ``raw`` and the product's input path (0.5 crop); with ``pooled``, the pooled blocks' too."""
    from core.features.extract import FeatureModel, extract_features
    from core.images.preprocess import Preprocessing

    feats = extract_features(paths, FeatureModel(NAME, use_gpu=False, path=raw), Preprocessing(),
                             batch_size=64).features.astype(np.float64)
    stats, start = [], 0
    for dim in part_dims(parts_spec, pooled):
        block = feats[:, start : start + dim]
        stats.append((block.mean(0).astype(np.float32), (block.std(0) + 1e-6).astype(np.float32)))
        start += dim
    return stats


def part_dims(parts_spec: Parts = PARTS, pooled: bool = False) -> list[int]:
    """Each part's number of features (then, with ``pooled``, each part's pooled width)."""
    import onnx
    import onnxruntime as ort

    dims = [int(ort.InferenceSession(str(HERE / f"{name}.onnx"), providers=["CPUExecutionProvider"])
                .get_outputs()[0].shape[1]) for name, _ in parts_spec]
    return dims + ([pooled_input(onnx.load(str(HERE / f"{name}.onnx")).graph)[1] for name, _ in parts_spec]
                   if pooled else [])


def check(out: Path, seed: int = 0, parts_spec: Parts = PARTS, pooled: bool = False) -> float:
    """Max |duo - (each part on each of its views, averaged, standardised)| on random inputs (with ``pooled``, each
    part's pooled layer read from the part's own file too)."""
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(out))
    size = int({p.key: p.value for p in proto.metadata_props}["galaxy_sorter.input_size"])
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    x = np.random.default_rng(seed).random((4, input_channels(parts_spec), size, size), dtype=np.float32)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    want, pools = [], []
    for (name, views), (channel, _) in zip(parts_spec, view_slots(parts_spec)):
        model = onnx.load(str(HERE / f"{name}.onnx"))
        if pooled:  # the part's pooled layer as a second output
            pool, width = pooled_input(model.graph)
            model.graph.output.append(onnx.helper.make_tensor_value_info(pool, onnx.TensorProto.FLOAT, None))
        part = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        runs = []
        for view in views:
            a, side = (size - int(view["size"])) // 2, int(view["size"])
            runs.append(part.run(None, {"input": np.ascontiguousarray(x[:, channel : channel + 3, a : a + side,
                                                                         a : a + side])}))
            channel += 3
        want.append((np.mean([r[0] for r in runs], axis=0) - inits[f"{name}/train_mean"]) / inits[f"{name}/train_std"])
        if pooled:
            mean_pool = np.mean([r[1].reshape(len(x), width) for r in runs], axis=0)
            pools.append((mean_pool - inits[f"{name}/pool/train_mean"]) / inits[f"{name}/pool/train_std"])
    return float(np.abs(got - np.hstack(want + pools)).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=v1.DATA, help="the Kaggle folder (images/, labels.csv)")
    parser.add_argument("--images", type=int, default=1500, help="training-split images for the standardisation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--second", default=PARTS[1][0],
                        help="the second network (models/<name>.onnx, 64 px, measured crop), default galaxy_cnn2")
    parser.add_argument("--third", default=None,
                        help="a third network of the second's kind on the second's views (galaxy_trio: galaxy_cnn6)")
    parser.add_argument("--name", default=NAME, help="the composed model's name (its metadata)")
    parser.add_argument("--pooled", action="store_true",
                        help="append each part's pooled penultimate layer (its width: 128 for galaxy_cnn and "
                        "galaxy_cnn2) after the features")
    args = parser.parse_args(argv)
    spec = parts_with(args.second, args.third)
    labels = v1.load_labels(args.data / "labels.csv")
    paths = sorted(p for p in (args.data / "images").iterdir() if p.stem in labels and v1.split_of(p.stem) == "train")
    rng = np.random.default_rng(args.seed)
    paths = [paths[i] for i in np.sort(rng.choice(len(paths), min(args.images, len(paths)), replace=False))]
    parts = ", ".join(f"{name}.onnx (sha256 {file_sha256(HERE / f'{name}.onnx')[:12]})" for name, _ in spec)
    extra = (("" if args.second == PARTS[1][0] else f" --second {args.second}")
             + (f" --third {args.third}" if args.third else "") + (" --pooled" if args.pooled else ""))
    meta = {
        "galaxy_sorter.source": (f"composed by models/export_galaxy_duo.py --images {args.images} --seed {args.seed}{extra} "
                                 f"from {parts}; standardised on {len(paths)} Galaxy Zoo Kaggle images (train "
                                 "split: sha1(GalaxyID) % 100 < 80)"),
        "galaxy_sorter.weights": (f"galaxy_cnn and {args.second} (mean of 3 measured crops) side by side (Galaxy "
                                  "Sorter, trained on Galaxy Zoo 2 (Kaggle) labels)" if not args.third else
                                  f"galaxy_cnn, {args.second} and {args.third} (each the mean of the same 3 measured "
                                  "crops) side by side (Galaxy Sorter, trained on Galaxy Zoo 2 (Kaggle) labels, the "
                                  "third also self-supervised on Kaggle images)"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / f"{args.name}.onnx"
        compose(None, meta, raw, spec, args.name, args.pooled)
        stats = part_stats(paths, raw, spec, args.pooled)
    compose(stats, meta, args.out, spec, args.name, args.pooled)
    err = check(args.out, parts_spec=spec, pooled=args.pooled)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MB; max |duo - parts| = {err:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
