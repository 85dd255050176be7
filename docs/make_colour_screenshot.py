"""Screenshot of a three-band FITS galaxy shown in colour (make_lupton_rgb) in the preview.

One command (offscreen; no display needed, a few seconds)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_colour_screenshot.py

Writes synthetic g, r, i FITS files of three spirals (red bulge, blue arms;
:func:`core.images.sample.make_band_sample`) into a scratch folder, opens it,
clusters them (efficientnet_lite0, k=2), picks the ``lupton`` stretch in the
preview's stretch box and saves the preview dock as
``docs/screenshot-colour-fits.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

from docs.make_screenshots import open_and_cluster, settle  # noqa: E402


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from core.images.sample import make_band_sample

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="colour-fits-")) / "bands"
    make_band_sample(folder, n=3, size=128)
    w = open_and_cluster(app, folder, folder.parent / "s.ini", (1400, 900), "efficientnet_lite0", "kmeans", 2)
    w.show_cluster(int(w.project.clusters[0]))
    control = w.preview.stretch_control
    control.kind.setCurrentText("lupton")
    control.lower.setValue(0.5)  # the default limits: the upper one is white (core.images.display._lupton)
    control.upper.setValue(99.5)
    w.docks["Preview"].setMinimumWidth(520)
    settle(app)
    out = ROOT / "docs" / "screenshot-colour-fits.png"
    w.docks["Preview"].grab().save(str(out))
    print(f"wrote {out} ({w.project.names[w.grid.current_row()]})")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
