"""Morphology parameters kept in the project store: catalogue columns (CLI) and map colourings."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from core.cli import main
from core.colouring import COLOURINGS, colouring
from core.features.morphology import CATALOGUE_NAMES, NAMES, STORE_FILE, compute_morphology, load_morphology, morphology_values
from core.images.io import scan_folder
from core.progress import Cancelled
from core.project import Project
from core.store.database import ProjectStore


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def folder(sample_folder, tmp_path):
    return shutil.copytree(sample_folder, tmp_path / "imgs")


def test_store_round_trip_and_only_missing_rows(folder, tmp_path):
    paths = scan_folder(folder)
    store = ProjectStore(tmp_path / "store", root=folder)
    try:
        ids = store.add_images(paths)
        assert load_morphology(store) is None and morphology_values(store, [1]) is None
        first = compute_morphology(store, paths[:10])
        assert first["computed"] == 10 and first["total"] == 10
        assert (store.folder / STORE_FILE).is_file()
        again = compute_morphology(store, paths[:10])
        assert again["computed"] == 0
        more = compute_morphology(store, paths)
        assert more["computed"] == len(paths) - 10 and more["total"] == len(paths)
        assert compute_morphology(store.folder, paths)["computed"] == 0  # a folder: its own connection
        data = load_morphology(store.folder)
        assert data["values"].shape == (len(paths), len(NAMES)) and data["size"] == 128
        assert data["prep"]["crop"] == "fixed"
        values = morphology_values(store, [ids[p] for p in paths] + [10 ** 6])
        assert values.shape == (len(paths) + 1, len(CATALOGUE_NAMES))
        assert np.isfinite(values[:-1]).mean() > 0.9 and np.isnan(values[-1]).all()
    finally:
        store.close()


def test_cancel_keeps_what_is_done(folder, tmp_path):
    paths = scan_folder(folder)
    store = ProjectStore(tmp_path / "store", root=folder)
    try:
        store.add_images(paths)
        with pytest.raises(Cancelled):
            compute_morphology(store, paths, should_stop=lambda: True)
        done = len(load_morphology(store)["ids"])
        assert 0 < done <= len(paths)
        assert compute_morphology(store, paths)["computed"] == len(paths) - done
    finally:
        store.close()


def test_cli_morphology_columns_and_sidecar(folder, tmp_path):
    out = tmp_path / "clusters.csv"
    base = ["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "2", "--quiet"]
    assert main(base + ["--out", str(tmp_path / "plain.csv")]) == 0
    assert "concentration" not in _rows(tmp_path / "plain.csv")[0]
    assert main(base + ["--out", str(out), "--morphology"]) == 0
    rows = _rows(out)
    assert list(rows[0])[-6:] == list(CATALOGUE_NAMES)
    assert list(rows[0])[:9] == ["path", "id", "cluster", "cluster_name", "label", "label_source", "confidence", "x", "y"]
    conc = [float(r["concentration"]) for r in rows if r["concentration"]]
    assert len(conc) >= 0.9 * len(rows) and all(0 < c < 10 for c in conc)
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["morphology"]["size"] == 128 and side["morphology"]["crop"]["crop"] == "fixed"
    assert side["morphology"]["columns"] == list(CATALOGUE_NAMES)
    tight = tmp_path / "tight.csv"  # the run's crop, not the fixed 0.5 (rotations do not change one view's measure)
    assert main(base + ["--out", str(tight), "--morphology", "--crop-fraction", "0.3", "--rotations"]) == 0
    crop = json.loads(tight.with_name(tight.name + ".json").read_text())["morphology"]["crop"]
    assert crop == {"crop": "fixed", "crop_fraction": 0.3, "rotations": False}


def test_morphology_colourings(folder, tmp_path):
    assert main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "2",
                 "--quiet", "--out", str(tmp_path / "c.csv")]) == 0
    project = Project.open(folder)
    try:
        for name in CATALOGUE_NAMES:
            assert COLOURINGS.get(name).label == f"colour by {name}"
        with pytest.raises(ValueError, match="Compute morphology"):
            colouring(project, "concentration")
        compute_morphology(project.store, project.paths)
        c = colouring(project, "concentration")
        assert c.continuous and len(c.values) == len(project)
        assert np.all((c.values >= 0) & (c.values <= 1)) and c.values.std() > 0
        assert "concentration" in c.title
    finally:
        project.close()
