"""Store a model's large float32 weights in 16 bits in the file; they are float32 again when loaded.

``python packaging/weight_storage.py SRC DST``.  ``build.spec`` runs :func:`convert` on Xception
and EfficientNet-Lite0 for the bundle (issue 22): Xception 83.5 -> 42.2 MB, Lite0 13.5 -> 7.0 MB.

Every float32 initializer of at least ``min_elements`` values (the convolution kernels; the
batch-norm statistics and biases are small and stay float32) is written as int16 with one
float32 scale per output channel (symmetric: ``w ~= q * max|w_c| / 32767``), followed in the
graph by ``Cast`` to float32 and ``Mul`` by the scale under the weight's original name.  The
graph therefore computes in float32 exactly as before, on weights rounded once to a 16-bit
grid; onnxruntime folds the ``Cast`` and ``Mul`` of constants into a float32 initializer when
it creates the session (its default graph optimisation: the optimised graph is op for op the
float32 one), so the model runs as fast as the float32 file.  It is a plain ONNX model (opset
unchanged) that any runtime reads without help from this project.

Why int16 with a per-channel scale rather than float16, at the same two bytes a weight:
float16 keeps 11 significant bits of every weight, and on the sample Xception's features moved
by up to 2.6e-3 (relative L2); a per-channel 16-bit grid spends its bits on each channel's
range and moved them by at most 3.9e-4 (EfficientNet-Lite0: 3.0e-3 against 3.3e-4).  This is
storage precision only, unlike ``FeatureModel(fp16=True)``, which computes in float16 on the
GPU.  ``tests/packaging/test_weight_storage.py`` holds the bound (< 1e-3) on the sample.  The
file's SHA-256 differs from the float32 file's, so the feature cache keeps the two apart; the
metadata entry ``galaxy_sorter.weights_storage`` says what was done.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: Metadata key written into the converted file.
STORAGE_KEY = "galaxy_sorter.weights_storage"
#: The largest magnitude of the int16 grid (symmetric, so -32768 is never used).
LEVELS = 32767


def quantise(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(q, scale)``: int16 ``q`` and float32 ``scale`` (one per index of axis 0) with ``q * scale ~= weights``.

    The scale broadcasts against ``weights`` (shape ``(C, 1, ..., 1)``); an all-zero channel gets scale 1.
    """
    axes = tuple(range(1, weights.ndim))
    peak = np.abs(weights).max(axis=axes, keepdims=True) if axes else np.abs(weights).max(keepdims=True)
    scale = np.where(peak > 0, peak / LEVELS, 1.0).astype(np.float32)
    q = np.clip(np.rint(weights / scale), -LEVELS, LEVELS).astype(np.int16)
    return q, scale


def convert(src: str | Path, dst: str | Path, min_elements: int = 4096, codec: str = "int16") -> dict[str, int]:
    """Write ``src`` to ``dst`` with its large float32 initializers stored as int16 and a scale per channel.

    Parameters
    ----------
    src, dst : str or Path
        The float32 ONNX file and where to write the converted one (written whole, then renamed).
    min_elements : int
        Initializers with fewer values stay float32 (they cost little: biases, batch-norm statistics).
    codec : {"int16", "float16"}
        ``int16`` (what the bundle ships) or plain ``float16`` storage, kept for the comparison in
        ``benchmarks/weight_storage.py``.

    Returns
    -------
    dict
        ``converted`` (initializers stored in 16 bits), ``kept`` (left as they were),
        ``bytes_before`` and ``bytes_after`` (initializer bytes).

    Raises
    ------
    ValueError
        When ``src`` was converted already.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if codec not in ("int16", "float16"):
        raise ValueError(f"codec {codec!r}: use int16 or float16")
    model = onnx.load(str(src))
    graph = model.graph
    if any(p.key == STORAGE_KEY for p in model.metadata_props):
        raise ValueError(f"{src} is stored in 16 bits already")
    inits, nodes = [], []
    stats = {"converted": 0, "kept": 0, "bytes_before": 0, "bytes_after": 0}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        stats["bytes_before"] += array.nbytes
        if array.dtype != np.float32 or array.size < min_elements:
            inits.append(init)
            stats["kept"] += 1
            stats["bytes_after"] += array.nbytes
            continue
        name = init.name
        if codec == "float16":
            half = array.astype(np.float16)
            inits.append(numpy_helper.from_array(half, f"{name}__float16"))
            nodes.append(helper.make_node("Cast", [f"{name}__float16"], [name], to=TensorProto.FLOAT))
            stats["bytes_after"] += half.nbytes
        else:
            q, scale = quantise(array)
            inits += [numpy_helper.from_array(q, f"{name}__int16"), numpy_helper.from_array(scale, f"{name}__scale")]
            nodes += [helper.make_node("Cast", [f"{name}__int16"], [f"{name}__float"], to=TensorProto.FLOAT),
                      helper.make_node("Mul", [f"{name}__float", f"{name}__scale"], [name])]
            stats["bytes_after"] += q.nbytes + scale.nbytes
        stats["converted"] += 1
    del graph.initializer[:]
    graph.initializer.extend(inits)
    original = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + original)  # the weights first: the graph stays topologically sorted
    entry = model.metadata_props.add()
    entry.key = STORAGE_KEY
    how = "int16 with a float32 scale per output channel" if codec == "int16" else "float16"
    entry.value = (f"{how}: {stats['converted']} initializers of >= "
                   f"{min_elements} values, made float32 again in the graph (packaging/weight_storage.py)")
    onnx.checker.check_model(model)
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    return stats


def main(argv: list[str] | None = None) -> int:
    """Command line: convert one file and print what was stored."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--min-elements", type=int, default=4096)
    parser.add_argument("--codec", choices=("int16", "float16"), default="int16")
    args = parser.parse_args(argv)
    stats = convert(args.src, args.dst, args.min_elements, args.codec)
    print(f"{args.dst}: {stats['converted']} initializers in 16 bits, {stats['kept']} kept; "
          f"{stats['bytes_before'] / 1e6:.1f} -> {stats['bytes_after'] / 1e6:.1f} MB of weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
