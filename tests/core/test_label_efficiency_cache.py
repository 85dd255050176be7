"""benchmarks/label_efficiency.py: its cached DEC encoder follows DEC's code, not only the features.

Seen this round: after DEC's automatic network changed, a rerun of the benchmark served
the encoder fitted by the old code (the cache was keyed on the features alone), so the
"re-measured" table was the old method's.  The key now hashes ``core/clustering`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import label_efficiency as bench  # noqa: E402


def test_the_cached_dec_is_refitted_when_the_clustering_code_changes(tmp_path, monkeypatch):
    fake = tmp_path / "root"
    (fake / "core" / "clustering").mkdir(parents=True)
    code = fake / "core" / "clustering" / "dec.py"
    code.write_text("# version 1\n")
    monkeypatch.setattr(bench, "ROOT", fake)
    fits: list[int] = []

    class CountingDEC:
        def __init__(self, n_clusters, init, random_state):
            fits.append(n_clusters)

        def fit(self, X):
            return self

        def save_onnx(self, path):
            Path(path).write_bytes(b"onnx")

    monkeypatch.setattr(bench, "DEC", CountingDEC)
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    first, t_first = bench.fitted_dec(X, tmp_path)
    again, t_again = bench.fitted_dec(X, tmp_path)
    assert again == first and np.isnan(t_again) and not np.isnan(t_first) and len(fits) == 1  # same code: cached
    code.write_text("# version 2\n")
    changed, t_changed = bench.fitted_dec(X, tmp_path)
    assert changed != first and not np.isnan(t_changed) and len(fits) == 2  # new code: fitted again
    other, _ = bench.fitted_dec(X + 1, tmp_path)
    assert other not in (first, changed) and len(fits) == 3  # other features: their own fit
    consensus, _ = bench.fitted_dec(X, tmp_path, "input-consensus")
    assert consensus not in (first, changed, other) and len(fits) == 4  # another start: its own fit
