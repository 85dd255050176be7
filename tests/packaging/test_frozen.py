"""Smoke test of the packaged app: the frozen executable clusters the sample and opens its window.

It runs when ``dist/galaxy-sorter/`` exists (built by ``bash scripts/dev.sh build``),
or builds it first when ``GALAXY_SORTER_BUILD=1``; otherwise it skips, saying so.
CI does not build (the build takes longer than the rest of the suite): see the
README, "Packaging".
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist" / "galaxy-sorter"
EXE = DIST / ("galaxy-sorter-console.exe" if sys.platform == "win32" else "galaxy-sorter-console")


@pytest.fixture(scope="module")
def frozen() -> Path:
    if os.environ.get("GALAXY_SORTER_BUILD") == "1":
        subprocess.run(["bash", "scripts/dev.sh", "build"], cwd=ROOT, check=True)
    if not EXE.is_file():
        pytest.skip(f"no packaged app at {DIST}; build it with `bash scripts/dev.sh build` "
                    "or set GALAXY_SORTER_BUILD=1")
    return EXE


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("GALAXY_SORTER_MODELS", None)
    return env


def test_frozen_app_clusters_the_sample_headless(frozen, tmp_path):
    out = tmp_path / "sample.csv"
    sample = DIST / "_internal" / "resources" / "sample"
    work = tmp_path / "sample"
    work.mkdir()
    for p in sample.glob("*.png"):  # a writable copy: the project store goes beside the images
        (work / p.name).write_bytes(p.read_bytes())
    r = subprocess.run([str(frozen), "cluster", str(work), "--model", "efficientnet_lite0", "--clusters", "3",
                        "--truth", str(sample / "labels.csv"), "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 90 and {row["cluster"] for row in rows} == {"0", "1", "2"}
    assert "CPU" in r.stdout + r.stderr or "CUDA" in r.stdout + r.stderr


def test_frozen_gui_starts_offscreen_and_quits(frozen):
    r = subprocess.run([str(frozen), "--quit-after", "2"], capture_output=True, text=True, timeout=300, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "window shown" in r.stdout
    assert "Could not find the Qt platform plugin" not in r.stderr
