"""DEC's start mixture finds the same partition whatever the seed (issue 24: 5-seed spread <= 0.02).

On GALAXY CRUISE's SDSS render in band r, galaxy_trio features, the start
mixture's k-means (2 whitened axes) has two basins, and a single k-means++
start reaches the better one 44 % of the time.  With 10 starts, seed 2 missed
it: DEC 0.775 / ARI 0.147 where the other seeds gave 0.89 / 0.50.  With 30
(``core.clustering.prior.KMEANS_STARTS``) every seed reaches it.  Skips with a
clear message when ``../shared/data`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
GC1 = ROOT.parent / "shared" / "data" / "galaxy-cruise-gc1"

pytestmark = pytest.mark.slow


def test_the_start_mixture_reaches_the_same_partition_for_every_seed_on_one_band_features(tmp_path):
    if not (GC1 / "labels.csv").is_file() or not (GC1 / "sdss").is_dir():
        pytest.skip(f"GALAXY CRUISE renders not found at {GC1} (../shared/data beside the checkout)")
    from core.catalog.truth import load_truth
    from core.clustering.metrics import evaluate
    from core.clustering.prior import KMEANS_STARTS, prior_mixture
    from core.features.extract import extract_features, load_model

    truth = load_truth(GC1 / "labels.csv")
    written = []
    for p in sorted(q for q in (GC1 / "sdss").iterdir() if q.stem in truth):  # the r plane alone, as one filter
        written.append(tmp_path / f"{p.stem}.png")
        Image.fromarray(np.asarray(Image.open(p).convert("RGB"))[:, :, 1], "L").save(written[-1])
    ext = extract_features(written, load_model("galaxy_trio", use_gpu=False), batch_size=64)
    y = np.array([truth[p.stem] for p in ext.paths])
    assert len(y) == 771 and KMEANS_STARTS >= 30
    fits = [prior_mixture(ext.features, 2, random_state=seed) for seed in range(5)]
    lls = [m.log_likelihood for m in fits]
    assert max(lls) - min(lls) < 1e-3, lls  # the old 10 starts: seed 2 at -2.810 against -2.721
    bal = [evaluate(y, m.labels)["balanced_acc"] for m in fits]
    assert min(bal) > 0.85, bal  # the better partition is the morphology split (0.89; the missed one 0.76)
