"""Project store (labels durable, schema versioned) and CSV/JSON export."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.catalog.export import CatalogueRow, neutralise, write_csv, write_sidecar
from core.store.database import ProjectStore
from core.store.layout import default_store_dir
from core.store.schema import SCHEMA_VERSION


def test_labels_persist_across_reopen(tmp_path):
    store = ProjectStore(tmp_path / "p")
    ids = store.add_images([Path("/x/a.jpg"), Path("/x/b.jpg")], [("/x/bad.jpg", "the file is empty")])
    a, b = ids["/x/a.jpg"], ids["/x/b.jpg"]
    run = store.save_run("dec", "xception", 2, {"seed": 0}, ["w"], [a, b], np.array([0, 1]),
                         np.array([0.9, 0.6]), np.array([[0.0, 1.0], [2.0, 3.0]]))
    store.set_labels([a], "spiral")
    store.name_cluster(run, 1, "ellipticals")
    # no close(): a crash right after set_labels must not lose it
    other = ProjectStore(tmp_path / "p")
    assert other.labels() == {a: ("spiral", "user")}
    assert other.skipped() == [("/x/bad.jpg", "the file is empty")]
    assert other.latest_run().warnings == ["w"]
    assert other.cluster_names(run) == {1: "ellipticals"}
    rows = other.assignments(run)
    assert [r[3] for r in rows] == [0, 1]
    other.set_labels([a], None)
    assert other.labels() == {}


def test_schema_version_is_recorded_and_newer_refused(tmp_path):
    ProjectStore(tmp_path / "p").close()
    db = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        ProjectStore(tmp_path / "p")


def test_default_store_is_beside_the_images(tmp_path):
    assert default_store_dir(tmp_path) == tmp_path.resolve() / ".galaxy-sorter"


def test_formula_cells_are_neutralised():
    assert neutralise("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert neutralise("+1") == "'+1"
    assert neutralise("@SUM") == "'@SUM"
    assert neutralise("spiral") == "spiral"
    assert neutralise(-0.5) == -0.5


def test_csv_rows_and_sidecar(tmp_path):
    rows = [CatalogueRow("/d/=cmd.jpg", "=cmd", 0, "cluster 0", "spiral", "user", 0.75, -1.5, 2.0)]
    path = write_csv(rows, tmp_path / "out.csv")
    with open(path, newline="") as fh:
        data = list(csv.DictReader(fh))
    assert data[0]["id"] == "'=cmd" and data[0]["x"] == "-1.5" and data[0]["label_source"] == "user"
    side = json.loads(write_sidecar(tmp_path / "out.json", {"seed": 3}).read_text())
    assert side["seed"] == 3 and "numpy" in side["libraries"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_the_store_names_checks_and_guards_the_files_beside_its_databases(tmp_path):
    """Soft assignments, encoders and morphology values are created, named and checked by the store alone."""
    import os

    from core.store.database import ProjectStore
    from core.store.layout import MODELS_DIR, MORPHOLOGY_FILE, RUNS_DIR, UnsafeStore, open_in_store

    store = ProjectStore(tmp_path / "store")
    try:
        soft = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], np.float32)
        name = store.save_soft([7, 8, 9], soft)
        assert (store.folder / RUNS_DIR / name).is_file() and name.startswith("soft_")
        np.testing.assert_array_equal(store.load_soft(name, [9, 7]), soft[[2, 0]])
        assert store.load_soft(name, [7, 10]) is None  # an image the run did not have
        for hostile in ("../project.sqlite", "/etc/passwd", "soft_x.onnx", None, 3):
            assert store.load_soft(hostile, [7]) is None
        assert store.new_model_path().parent == store.folder / MODELS_DIR
        assert store.morphology_file == store.folder / MORPHOLOGY_FILE
        victim = tmp_path / "victim.txt"
        victim.write_text("keep")
        os.link(victim, store.folder / RUNS_DIR / "soft_planted.npz")
        with pytest.raises(UnsafeStore):  # the guard every write goes through
            os.close(open_in_store(store.folder / RUNS_DIR / "soft_planted.npz", os.O_WRONLY))
        assert victim.read_text() == "keep"
    finally:
        store.close()
