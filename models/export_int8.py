"""Build ``models/<name>_int8.onnx``: int8 copies of the ImageNet feature models.

onnxruntime static quantisation of ``xception.onnx`` (and, for experiments only,
``efficientnet_lite0.onnx``; the fp32 files the other exporters write): QDQ
format, int8 weights per output channel (7-bit in the matrix-product convolutions, see
below), activations scaled from a calibration
pass over galaxy images prepared exactly as :meth:`core.features.extract.FeatureModel.prepare`
prepares them (default crop, no rotations).  On a CPU with AVX512-VNNI the int8
convolutions run several times faster than fp32; ``benchmarks/int8.py`` measures
the speed and what the features lose.

Calibration images
    ``sample`` (default): the built-in synthetic sample of :mod:`core.images.sample`,
    rendered into a temporary folder with its fixed seed, so the set-up command
    builds the same file on any machine, CI included, without ``../shared``.
    ``kaggle``: ``--images`` Galaxy Zoo images of the train split of
    ``models/train_galaxy_net.py`` (never the test split the benchmark scores on),
    chosen with a fixed seed, for comparison.

Why 7-bit weights: on a CPU without VNNI (AVX2 only) onnxruntime's u8 x s8
kernels multiply with ``vpmaddubsw``, which adds two u8 x s8 products into a
*saturating* int16: 2 x 255 x 127 = 64,770 does not fit, so the same file gave
other, worse features there (Xception's mean cosine to fp32 fell from 0.994 to
0.979).  With weights in [-64, 64] a pair is at most 2 x 255 x 64 = 32,640, which
fits: every kernel path (AVX2, AVX512, VNNI) computes the same exact integer
sums, and the features no longer depend on the instruction set.  Depthwise
convolutions keep 8 bits: onnxruntime runs them in a kernel that widens to
int16 before multiplying, exact on every path.

Why no EfficientNet-Lite0 int8 is offered (issue 19): with 7-bit weights its
mean cosine to fp32 on the test sample fell to 0.87 (nearest-own-row 0.70);
the sensitivity sweep found the stem and the first block's projection the
most sensitive, yet with the five most sensitive convolutions in fp32 and
percentile calibration it reached 0.975 (nearest-own-row exactly 0.90, the
test wants more) at 1.6x fp32's speed.  The 8-bit file it replaces was no
better on this VNNI CPU (0.974, 0.90) and worse on AVX2-only CPUs.  A file
whose answer depends on the machine is not shipped; ``--model
efficientnet_lite0`` still builds one to experiment with.

The graph is first cleaned by ``quant_pre_process`` (shape inference and
onnxruntime's graph optimisation, e.g. BatchNorm folded into the convolutions),
then quantised.  The ``galaxy_sorter.*`` metadata that ``FeatureModel`` reads is
copied from the fp32 file, plus how the file was quantised.  Same fp32 file and
options, same bytes out.

Run ``python models/export_int8.py`` (the set-up command does, through
``models/build_models.py``); ``--model xception`` builds one file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: The int8 files the set-up command builds and the app offers (``FEATURE_MODELS`` has an entry for each).
MODELS = ("xception",)
#: Built only when named (``--model efficientnet_lite0``), for experiments: with the portable 7-bit
#: recipe EfficientNet-Lite0 loses too much against fp32 (see the module docstring), so it is not offered.
EXPERIMENTAL = ("efficientnet_lite0",)
SOURCES = ("sample", "kaggle")
METHODS = ("minmax", "entropy", "percentile")
KAGGLE = HERE.parent.parent / "shared" / "data" / "galaxy-zoo-kaggle"
BATCH = 10  # divides the sample's 90: the histogram calibrators (entropy, percentile) need equal batches
# The sample's default size (30 per class, 90 images); the Kaggle default matches it
# so the two calibrations compare like with like.
SAMPLE_PER_CLASS = 30
# Bumped whenever the quantisation changes, so build_models rebuilds files made before:
# 2 = 7-bit weights in the group-1 convolutions (the same features on AVX2 and VNNI CPUs).
RECIPE = "2"


def out_path(model: str) -> Path:
    """The int8 file of ``model`` in the models folder."""
    return HERE / f"{model}_int8.onnx"


def calibration_paths(source: str, folder: Path, n_images: int, seed: int = 0) -> list[Path]:
    """The image files that calibrate the activations, in a fixed order.

    Parameters
    ----------
    source : {"sample", "kaggle"}
        The synthetic sample (rendered into ``folder``) or Kaggle train-split images.
    folder : Path
        Scratch folder for the sample.
    n_images : int
        Kaggle images to draw, rounded down to a whole number of batches (the sample is always its 90).
    seed : int
        Seed of the Kaggle draw.
    """
    if source == "sample":
        from core.images.sample import make_sample

        make_sample(folder, per_class=SAMPLE_PER_CLASS)
        return sorted(folder.glob("*.png"))
    if source == "kaggle":
        sys.path.insert(0, str(HERE))
        from train_galaxy_net import load_labels, split_of

        labels_csv = KAGGLE / "labels.csv"
        if not labels_csv.is_file():
            raise FileNotFoundError(f"{labels_csv} is missing; calibrate on the sample instead")
        ids = sorted(i for i in load_labels(labels_csv) if split_of(i) == "train")
        n = min(n_images, len(ids)) // BATCH * BATCH
        chosen = np.random.default_rng(seed).choice(len(ids), size=n, replace=False)
        return [KAGGLE / "images" / f"{ids[j]}.jpg" for j in sorted(chosen)]
    raise ValueError(f"calibration source must be one of {SOURCES}, not {source!r}")


def calibration_batches(fp32: Path, paths: list[Path], batch: int = BATCH) -> Iterator[np.ndarray]:
    """Model-ready NCHW float32 batches of ``paths``, prepared as the app prepares them."""
    from core.features.extract import FeatureModel
    from core.images.io import read_image
    from core.images.preprocess import Preprocessing, to_model_input

    model = FeatureModel(path=fp32, use_gpu=False)
    prep = Preprocessing()
    for start in range(0, len(paths), batch):
        squares = [sq for p in paths[start:start + batch] for sq in model.prepare(read_image(p), prep)]
        yield to_model_input(squares, model.scale, model.offset)


def make_reader(input_name: str, batches: Iterator[np.ndarray]):
    """A ``CalibrationDataReader`` over ``batches``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    return Reader()


def quantise(fp32: Path, out: Path, *, source: str = "sample", n_images: int = 90, method: str = "minmax",
             activation: str = "uint8", exclude: tuple[str, ...] = (), seed: int = 0) -> dict[str, str]:
    """Write the int8 copy of ``fp32`` to ``out``; return the metadata written.

    Parameters
    ----------
    fp32 : Path
        The fp32 ONNX file (with its ``galaxy_sorter.*`` metadata).
    out : Path
        Where the int8 file goes (written through a temporary file).
    source, n_images, seed
        Calibration images, see :func:`calibration_paths`.
    method : {"minmax", "entropy", "percentile"}
        How activation ranges are taken from the calibration pass.
    activation : {"uint8", "int8"}
        Activation type (weights are always int8, per channel).  uint8 x int8 is
        what VNNI's dot product takes directly.
    exclude : tuple of str
        Node names (of the pre-processed graph) kept in fp32.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibrate = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                 "percentile": CalibrationMethod.Percentile}[method]
    act = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}[activation]
    src = onnx.load(str(fp32), load_external_data=False)
    meta = {p.key: p.value for p in src.metadata_props}
    input_name = src.graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        pre = tmp_dir / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        paths = calibration_paths(source, tmp_dir / "sample", n_images, seed)
        reader = make_reader(input_name, calibration_batches(fp32, paths))
        staged = tmp_dir / "int8.onnx"
        overrides = {w: [{"axis": 0, "reduce_range": True}] for w in gemm_conv_weights(onnx.load(str(pre)))}
        quantize_static(
            str(pre), str(staged), reader, quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=act, weight_type=QuantType.QInt8, calibrate_method=calibrate,
            nodes_to_exclude=list(exclude) or None, extra_options={"TensorQuantOverrides": overrides})
        proto = onnx.load(str(staged))
    name = meta.get("galaxy_sorter.name", fp32.stem)
    meta.update({
        "galaxy_sorter.name": f"{name}_int8",
        "galaxy_sorter.quantisation": (
            f"onnxruntime {_ort_version()} quantize_static: QDQ, weights int8 per channel, 7 bits "
            f"for group-1 convolutions (reduce_range: no int16 saturation on CPUs without VNNI), "
            f"activations {activation}, calibration {method} on {len(paths)} {source} images "
            f"(models/export_int8.py)" + (f", fp32 nodes {','.join(exclude)}" if exclude else "")),
        "galaxy_sorter.fp32_source": meta.get("galaxy_sorter.source", ""),
        "galaxy_sorter.int8_recipe": RECIPE,
    })
    onnx.helper.set_model_props(proto, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged_out = out.with_suffix(".onnx.tmp")
    onnx.save(proto, str(staged_out))
    staged_out.replace(out)
    return meta


def gemm_conv_weights(model) -> list[str]:
    """Weight names of the convolutions onnxruntime runs as a u8 x s8 matrix product (group 1).

    Those go through the kernels that saturate on CPUs without VNNI and get 7-bit
    weights.  Depthwise convolutions (group > 1) run in a kernel of their own that
    widens to int16 before multiplying (exact on every path), so they keep all 8
    bits: EfficientNet-Lite0's depthwise layers lost too much with 7 (its mean
    cosine to fp32 on the sample fell from 0.97 to 0.90).
    """
    inits = {t.name for t in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group == 1:
            out.append(node.input[1])
    return out


def is_current(path: Path) -> bool:
    """Whether ``path`` was quantised by today's :data:`RECIPE`; older files are rebuilt.

    Files from before the ``reduce_range`` change give machine-dependent features
    (see the module docstring): :mod:`build_models` asks this and rebuilds them.
    """
    import onnx

    try:
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception:
        return False
    return meta.get("galaxy_sorter.int8_recipe") == RECIPE


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def quantised_ops(path: Path) -> dict[str, int]:
    """Op type -> count of the ops onnxruntime runs in int8.

    In a QDQ graph that is a node whose inputs all come from DequantizeLinear
    (a convolution's bias excepted) and whose outputs all go to QuantizeLinear.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    dq_out = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    q_in = {i for n in graph.node if n.op_type == "QuantizeLinear" for i in n.input[:1]}
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node.op_type)
    counts: dict[str, int] = {}
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        inputs = [i for k, i in enumerate(node.input) if i and not (node.op_type == "Conv" and k == 2)]
        outputs_q = all(o in q_in and set(consumers.get(o, [])) == {"QuantizeLinear"} for o in node.output)
        if inputs and all(i in dq_out for i in inputs) and outputs_q:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=(*MODELS, *EXPERIMENTAL, "all"), default="all",
                        help="all: the offered models " + ", ".join(MODELS))
    parser.add_argument("--calibration", choices=SOURCES, default="sample",
                        help="calibration images (default: the built-in synthetic sample)")
    parser.add_argument("--images", type=int, default=3 * SAMPLE_PER_CLASS, help="Kaggle calibration images")
    parser.add_argument("--method", choices=METHODS, default="minmax")
    parser.add_argument("--activation", choices=("uint8", "int8"), default="uint8")
    parser.add_argument("--exclude", default="", help="comma-separated node names kept in fp32")
    parser.add_argument("--out", type=Path, help="output file (one --model only)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the file exists")
    args = parser.parse_args(argv)
    models = MODELS if args.model == "all" else (args.model,)
    if args.out is not None and len(models) != 1:
        parser.error("--out needs one --model")
    for model in models:
        out = args.out or out_path(model)
        if out.exists() and not args.force and is_current(out):
            print(f"{out} exists (use --force to rebuild)")
            continue
        fp32 = HERE / f"{model}.onnx"
        if not fp32.is_file():
            raise FileNotFoundError(f"{fp32} is missing: build it first (python models/build_models.py)")
        quantise(fp32, out, source=args.calibration, n_images=args.images, method=args.method,
                 activation=args.activation, exclude=tuple(e for e in args.exclude.split(",") if e))
        ops = ", ".join(f"{k} {v}" for k, v in quantised_ops(out).items())
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB; int8 ops: {ops})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
