"""Build ``models/xception_int8.onnx``: the int8 copy of ``xception.onnx`` (see ``export_int8.py``).

``models/build_models.py`` runs ``export_<entry name>`` for each feature model; this
one passes ``--model xception`` and any other arguments on to ``export_int8.main``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_int8  # noqa: E402

is_current = export_int8.is_current  # build_models rebuilds a file built by an older recipe


def main(argv: list[str] | None = None) -> int:
    """Build the file (arguments as ``export_int8.py``'s, less ``--model``)."""
    return export_int8.main(["--model", "xception", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
