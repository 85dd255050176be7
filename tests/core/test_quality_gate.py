"""CI quality gate: the default model and method on the GALAXY CRUISE renders keep the documented quality.

The README's headline table was once measured minutes before a DEC schedule
change landed, and nobody measured the merge (issue 24: GC1-HSC fell from
0.899 / 0.556 to 0.700 / 0.054).  This test runs what a user gets with no
options (the default feature model, the default clustering method, seed 0, the
fixed 0.5 crop) on both GC1 renders and asserts balanced ACC and ARI within
0.02 of the figures in the "CI quality gate" table of ``docs/benchmarks.md``,
so a change that costs quality fails here instead of landing unmeasured.  The
table holds the 5-seed mean (``benchmarks/dec_stability.py``), not one seed's
figure: with a 5-seed spread under 0.02 (issue 24's third round) any seed of an
unchanged method lands within the tolerance of it.  The figures are read from
that page, so the documentation and the gate cannot disagree.  Skips with a
clear message when ``../shared/data`` is absent.

A third row holds what a folder of galaxies small in their frames gets: GC1-HSC
with every galaxy shrunk to 1/3 of its size on its own sky
(``benchmarks/robustness.py``'s condition), through the framing rule
(``core.features.framing``), which must give it DEC's consensus start.  Its
seed spread is wider (ARI 0.037 over seeds 0-4), so that row's check is the
mean of seeds 0-4 against the table's mean, not one seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GC1 = ROOT.parent / "shared" / "data" / "galaxy-cruise-gc1"
DOC = ROOT / "docs" / "benchmarks.md"
TOLERANCE = 0.02

pytestmark = pytest.mark.slow


def documented_gate() -> dict[str, tuple[float, float]]:
    """Render (and condition) -> (balanced ACC, ARI) from the "CI quality gate" table of docs/benchmarks.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## CI quality gate", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| GC1-(\w+)((?: at [0-9/]+ size)?) \| [^|]+ \| ([0-9.]+) \| ([0-9.]+) \|", section, flags=re.M)
    return {f"{render.lower()}{cond}": (float(bal), float(ari)) for render, cond, bal, ari in rows}


def test_the_documented_gate_names_both_renders_and_the_small_galaxies():
    assert set(documented_gate()) == {"hsc", "sdss", "hsc at 1/3 size"}


@pytest.fixture(scope="module")
def gc1_features(tmp_path_factory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Default-model features and labels of both renders (extraction at 48 px takes seconds; cached)."""
    if not (GC1 / "labels.csv").is_file() or not (GC1 / "hsc").is_dir() or not (GC1 / "sdss").is_dir():
        pytest.skip(f"GALAXY CRUISE renders not found at {GC1} (../shared/data beside the checkout)")
    from core.catalog.truth import load_truth
    from core.features.extract import DEFAULT_MODEL, FeatureModel, extract_features
    from core.images.preprocess import Preprocessing
    from core.store.cache import FeatureCache

    truth = load_truth(GC1 / "labels.csv")
    model = FeatureModel(DEFAULT_MODEL)
    cache = FeatureCache(ROOT / ".cache" / "tests" / "quality_gate")
    out = {}
    for render in ("hsc", "sdss"):
        paths = sorted(p for p in (GC1 / render).iterdir() if p.stem in truth)
        ext = extract_features(paths, model, Preprocessing(), cache=cache, batch_size=64)
        out[render] = (ext.features, np.array([truth[p.stem] for p in ext.paths]))
    return out


@pytest.mark.parametrize("render", ["hsc", "sdss"])
def test_default_method_keeps_documented_quality(gc1_features, render):
    from core.clustering.methods import DEFAULT_METHOD, cluster_features
    from core.clustering.metrics import evaluate

    X, y = gc1_features[render]
    assert len(y) == 771 and set(y) == {"spiral", "non-spiral"}
    result = cluster_features(X, DEFAULT_METHOD, 2, random_state=0)
    scores = evaluate(y, result.labels)
    bal, ari = documented_gate()[render]
    assert abs(scores["balanced_acc"] - bal) <= TOLERANCE, (render, scores["balanced_acc"], bal)
    assert abs(scores["ari"] - ari) <= TOLERANCE, (render, scores["ari"], ari)


def test_small_galaxies_get_the_consensus_start_and_keep_documented_quality(tmp_path):
    if not (GC1 / "labels.csv").is_file() or not (GC1 / "hsc").is_dir():
        pytest.skip(f"GALAXY CRUISE renders not found at {GC1} (../shared/data beside the checkout)")
    from benchmarks.robustness import write_condition
    from core.catalog.truth import load_truth
    from core.clustering.methods import DEFAULT_METHOD, cluster_features
    from core.clustering.metrics import evaluate
    from core.features.extract import DEFAULT_MODEL, FeatureModel, extract_features
    from core.features.framing import SMALL_START, choose_start
    from core.images.preprocess import Preprocessing

    truth = load_truth(GC1 / "labels.csv")
    # the benchmark's own writer and draws (seed 0)
    written = write_condition(sorted(p for p in (GC1 / "hsc").iterdir() if p.stem in truth), "size 1/3", tmp_path)
    params, note = choose_start({}, written)
    assert params == {"init": SMALL_START} and note  # the rule reaches these galaxies
    ext = extract_features(written, FeatureModel(DEFAULT_MODEL), Preprocessing(), batch_size=64)
    y = np.array([truth[p.stem] for p in ext.paths])
    # the mean of seeds 0-4, as the table holds: on these galaxies one seed's ARI spreads by 0.037 over seeds
    # 0-4, and seed 0 alone (0.645 on an AVX512 + AMX CPU, within 0.02 on CI's) followed the machine's arithmetic
    runs = [evaluate(y, cluster_features(ext.features, DEFAULT_METHOD, 2, random_state=seed, dec_params=params).labels)
            for seed in range(5)]
    scores = {key: float(np.mean([r[key] for r in runs])) for key in ("balanced_acc", "ari")}
    bal, ari = documented_gate()["hsc at 1/3 size"]
    assert abs(scores["balanced_acc"] - bal) <= TOLERANCE, (scores["balanced_acc"], bal)
    assert abs(scores["ari"] - ari) <= TOLERANCE, (scores["ari"], ari)
