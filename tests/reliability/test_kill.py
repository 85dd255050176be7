"""SIGKILL of a real process at several points, over several seeds: nothing acknowledged is lost.

The worker (``worker.py``) is killed during feature extraction, DEC training,
a fine-tuning round, label writes and export.  Afterwards SQLite's integrity
check passes, the project opens (the dead process's lock is gone), every
cached feature row that is still indexed equals the uninterrupted run's, every
label the worker acknowledged is there, an export is complete or absent, and
the interrupted job runs to the end when started again.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from relhelp import check_consistent, copy_project, kill_after, start_worker

from core.images.sample import CLASSES

SEEDS = [0, 1, 2]


def _point(seed: int, most: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    return int(rng.integers(1, most + 1)), float(rng.uniform(0.0, 0.05))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_extraction_then_resume(template, tmp_path, seed):
    from core.features.extract import FeatureModel, extract_features
    from core.store.database import ProjectStore
    from core.store.layout import default_store_dir

    folder = copy_project(template[0], tmp_path / "imgs", with_store=False)
    count, delay = _point(seed, 4)
    kill_after(start_worker("extract", folder), "batch", count, delay)
    check_consistent(folder, template[1])
    store = ProjectStore(default_store_dir(folder), root=folder)
    paths = sorted(folder.glob("*.png"))
    res = extract_features(paths, FeatureModel("efficientnet_lite0", use_gpu=False), cache=store.features,
                           batch_size=4)
    store.close()
    assert [p.name for p in res.paths] == [p.name for p in paths]
    for p, f in zip(res.paths, res.features):
        np.testing.assert_allclose(f, template[1][p.name], rtol=1e-3, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_dec_training(template, tmp_path, seed):
    folder = copy_project(template[0], tmp_path / "imgs", with_store=True)
    count, delay = _point(seed, 6)
    # Progress past 0.6 is the clustering stage (the features are cached already).
    lines = kill_after(start_worker("dec", folder), "progress 0.", 6 + count, delay)
    assert any(float(x.split()[1]) >= 0.6 for x in lines if x.startswith("progress")), lines[-3:]
    check_consistent(folder, template[1])
    if seed == 0:  # and the job runs again to the end (once: it takes a while)
        proc = start_worker("dec", folder)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "done" in out, err[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_kill_during_a_fine_tuning_round(template, tmp_path, seed):
    folder = copy_project(template[0], tmp_path / "imgs", with_store=True)
    count, delay = _point(seed, 5)
    lines = kill_after(start_worker("finetune", folder), "progress", count, delay)
    assert "ack labels" in lines
    labels = check_consistent(folder, template[1])
    assert sorted(v for v, _ in labels.values()) == ["spiral"] * len(range(0, 18, 4))


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_label_writes(template, tmp_path, seed):
    folder = copy_project(template[0], tmp_path / "imgs", with_store=True)
    count, delay = _point(seed, 12)
    lines = kill_after(start_worker("labels", folder), "ack", count, delay)
    acked = [(int(x.split()[1]), x.split()[2]) for x in lines if x.startswith("ack")]
    assert len(acked) >= count
    labels = check_consistent(folder, template[1])
    from core.project import Project

    project = Project.open(folder)
    for row, label in acked:
        assert project.user_labels[row] == label == CLASSES[row % 3]
    project.close()
    assert len(labels) >= len(acked)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_export(template, tmp_path, seed):
    folder = copy_project(template[0], tmp_path / "imgs", with_store=True)
    out = tmp_path / "catalogue.csv"
    count, delay = _point(seed, 5)
    kill_after(start_worker("export", folder, out), "exported", count, delay * 0.2)
    check_consistent(folder, template[1])
    with open(out, newline="") as fh:  # the last complete export, never half of one
        rows = list(csv.DictReader(fh))
    assert len(rows) == 18 and all(r["y"] for r in rows)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_during_exports_leaves_a_pair_that_belongs_together(template, tmp_path, seed):
    """Issue 19: 12 of 30 kills left a new CSV beside the previous sidecar, plus temporary files.

    Each export here differs from the one before, so a CSV beside another export's
    sidecar shows (the sidecar names its CSV's SHA-256).  Right after the kill the pair
    matches or the export's journal is there; the next export's recovery completes
    it and leaves no temporary file.
    """
    from core.catalog.pair import recover_export, sidecar_matches

    folder = copy_project(template[0], tmp_path / "imgs", with_store=True)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "catalogue.csv"
    count, delay = _point(seed, 5)
    kill_after(start_worker("export-pairs", folder, out), "exported", count, delay * 0.2)
    assert sidecar_matches(out) or (out_dir / ".catalogue.csv.export-journal").is_file()
    recover_export(out)
    assert sidecar_matches(out)
    assert sorted(p.name for p in out_dir.iterdir()) == ["catalogue.csv", "catalogue.csv.json"]
    with open(out, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 18

