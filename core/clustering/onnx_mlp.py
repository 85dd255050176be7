"""The DEC encoder as an ONNX file, and back into torch.

The file is the source of truth for the weights: the app runs it with
onnxruntime, and fine-tuning rebuilds the torch encoder from its initializers.
The graph is written directly (``Sub``/``Mul`` for the input standardisation, ``Gemm``/``Relu``
for the layers, the Student's t assignment for ``q``), so the round trip is
exact: the same float32 numbers go in and come out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_encoder(
    path: str | Path,
    encoder,
    input_scale: float | np.ndarray,
    centers: np.ndarray,
    alpha: float = 1.0,
    input_mean: float | np.ndarray = 0.0,
    cluster_weights: np.ndarray | None = None,
) -> Path:
    """Write ``encoder`` (a torch ``Sequential`` of ``Linear``/``ReLU``) to ``path`` atomically.

    The graph first computes ``(input - input_mean) * input_scale`` (scalars or
    one value per feature), then the layers.  Outputs: ``embedding`` (n, m) and
    ``q`` (n, k), the Student's t soft assignment to ``centers`` times
    ``cluster_weights`` (one per cluster, default ones), renormalised.
    """
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    path = Path(path)
    nodes = [helper.make_node("Sub", ["input", "input_mean"], ["centred"]),
             helper.make_node("Mul", ["centred", "input_scale"], ["h0"])]
    inits = [numpy_helper.from_array(np.asarray(input_mean, dtype=np.float32), "input_mean"),
             numpy_helper.from_array(np.asarray(input_scale, dtype=np.float32), "input_scale")]
    cur, n_lin, d_in = "h0", 0, None
    for module in encoder:
        if isinstance(module, torch.nn.Linear):
            w = module.weight.detach().numpy().astype(np.float32)
            b = module.bias.detach().numpy().astype(np.float32)
            d_in = d_in or w.shape[1]
            inits += [numpy_helper.from_array(w, f"W{n_lin}"), numpy_helper.from_array(b, f"B{n_lin}")]
            nodes.append(helper.make_node("Gemm", [cur, f"W{n_lin}", f"B{n_lin}"], [f"lin{n_lin}"], transB=1))
            cur = f"lin{n_lin}"
            n_lin += 1
        elif isinstance(module, torch.nn.ReLU):
            nodes.append(helper.make_node("Relu", [cur], [cur + "_relu"]))
            cur = cur + "_relu"
        else:
            raise TypeError(f"unsupported encoder module {type(module).__name__}")
    nodes.append(helper.make_node("Identity", [cur], ["embedding"]))
    c = np.asarray(centers, dtype=np.float32)
    inits += [numpy_helper.from_array(c, "centers"),
              numpy_helper.from_array(np.array(alpha, dtype=np.float32), "alpha"),
              numpy_helper.from_array(np.array(-(alpha + 1.0) / 2.0, dtype=np.float32), "power"),
              numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
              numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
              numpy_helper.from_array(np.ones(len(c), np.float32) if cluster_weights is None
                                      else np.asarray(cluster_weights, dtype=np.float32), "cluster_weights")]
    # q = (1 + |z - mu|^2 / alpha)^(-(alpha+1)/2), normalised over clusters
    nodes += [
        helper.make_node("Unsqueeze", ["embedding", "axis1"], ["z3"]),
        helper.make_node("Sub", ["z3", "centers"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis2"], ["d2"], keepdims=0),
        helper.make_node("Div", ["d2", "alpha"], ["d2a"]),
        helper.make_node("Add", ["d2a", "one"], ["t"]),
        helper.make_node("Pow", ["t", "power"], ["qk"]),
        helper.make_node("ReduceSum", ["qk", "axis1"], ["qks"], keepdims=1),
        helper.make_node("Div", ["qk", "qks"], ["qn"]),
        helper.make_node("Mul", ["qn", "cluster_weights"], ["qu"]),
        helper.make_node("ReduceSum", ["qu", "axis1"], ["qs"], keepdims=1),
        helper.make_node("Div", ["qu", "qs"], ["q"]),
        helper.make_node("Identity", ["centers"], ["cluster_centers"]),
    ]
    inits.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"))
    graph = helper.make_graph(
        nodes, "dec_encoder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", d_in])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", c.shape[1]]),
         helper.make_tensor_value_info("q", TensorProto.FLOAT, ["n", c.shape[0]]),
         helper.make_tensor_value_info("cluster_centers", TensorProto.FLOAT, list(c.shape))],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="galaxy-sorter/dec")
    model.ir_version = 8
    helper.set_model_props(model, {"galaxy_sorter.kind": "dec_encoder", "galaxy_sorter.alpha": repr(float(alpha))})
    onnx.checker.check_model(model)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)
    return path


def load_encoder(path: str | Path):
    """Read a file written by :func:`save_encoder`.

    Returns
    -------
    encoder : torch.nn.Sequential
    input_scale : float or ndarray of shape (n_features,)
    input_mean : float or ndarray of shape (n_features,)
    centers : ndarray of shape (n_clusters, n_dims)
    alpha : float
    """
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers: list[torch.nn.Module] = []
    for node in model.graph.node:
        if node.op_type == "Gemm":
            w, b = inits[node.input[1]], inits[node.input[2]]
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
            layers.append(lin)
        elif node.op_type == "Relu":
            layers.append(torch.nn.ReLU())
    scale = inits["input_scale"].astype(np.float32).copy()
    mean = inits.get("input_mean", np.zeros((), np.float32)).astype(np.float32).copy()
    return (torch.nn.Sequential(*layers).eval(), scale,
            inits["centers"].astype(np.float32).copy(), float(inits["alpha"]), mean)


def load_cluster_weights(path: str | Path, n_clusters: int) -> np.ndarray:
    """The per-cluster weights on ``q`` in a file of :func:`save_encoder` (ones for files written before them)."""
    import onnx
    from onnx import numpy_helper

    for t in onnx.load(str(path)).graph.initializer:
        if t.name == "cluster_weights":
            return numpy_helper.to_array(t).astype(np.float32).copy()
    return np.ones(n_clusters, np.float32)


def run_encoder(path: str | Path, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the ONNX encoder with onnxruntime: returns (embedding, q)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    emb, q, _ = session.run(None, {"input": np.ascontiguousarray(X, dtype=np.float32)})
    return emb, q
