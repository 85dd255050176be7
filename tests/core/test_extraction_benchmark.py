"""benchmarks/extraction.py: its old-scheme comparison computes what extract_features does, and it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import extraction as bench  # noqa: E402
from core.features.extract import FeatureModel, extract_features  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402


def test_old_scheme_gives_the_same_features(sample_folder):
    model = FeatureModel("galaxy_cnn", use_gpu=False)
    paths = sorted(sample_folder.glob("*.png"))[:7]
    old = bench.one_batch_ahead(paths, model, Preprocessing(), batch_size=3, workers=2)
    np.testing.assert_allclose(old, extract_features(paths, model, batch_size=3).features, atol=1e-5)


def test_benchmark_prints_every_rate_and_the_ratio(sample_folder, capsys):
    assert bench.main(["--model", "galaxy_cnn", "--cpu", "--data", str(sample_folder), "--images", "12",
                       "--batch-size", "4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "load average at the start" in out and "12 images from" in out
    for row in ("(a) inference only", "(b) decode", "(c) end to end", "(d) one batch ahead", "(c)/(a)"):
        assert row in out


def test_benchmark_measures_the_windows_switch_interval_and_gives_it_back(sample_folder, capsys):
    """--switch: (e), end to end at the switch interval an open window sets, beside (c) and its ratio; the
    interpreter's own interval is set back after each (e)."""
    before = sys.getswitchinterval()
    assert bench.main(["--model", "galaxy_cnn", "--cpu", "--data", str(sample_folder), "--images", "8",
                       "--batch-size", "4", "--repeats", "1", "--switch"]) == 0
    out = capsys.readouterr().out
    assert "(e) end to end at the window's switch interval" in out and "(e)/(c), median" in out
    assert sys.getswitchinterval() == before
