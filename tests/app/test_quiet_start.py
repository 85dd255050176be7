"""A start prints nothing a user cannot act on (issue 9: console noise on every start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_window_start_has_no_qt_noise():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "app.main", "--quit-after", "0.5"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "window shown" in out.stdout
    assert "propagateSizeHints" not in out.stdout + out.stderr


def test_model_set_up_is_silent_when_the_files_are_built():
    from core.features.extract import FEATURE_MODELS

    if not all((ROOT / "models" / str(e.option("file"))).is_file() for e in FEATURE_MODELS):
        import pytest

        pytest.skip("model files not built here (bash scripts/dev.sh setup builds them)")
    out = subprocess.run([sys.executable, "models/build_models.py"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout == "", out.stdout
