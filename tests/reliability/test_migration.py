"""A store written by the previous release (d0bec54) opens with today's code, keeps its labels and runs again.

The fixture (``fixtures/store-d0bec54``, see its README) was written by that
commit's own CLI and ``Project``: one k-means run and three user labels, in a
folder since moved.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from core.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "store-d0bec54"
LABELS = {"edge_on_000.png": "elliptical", "edge_on_001.png": "elliptical", "spiral_000.png": "spiral"}


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "imgs", ignore=shutil.ignore_patterns("README.md", "*.csv")))


def _user_labels(folder: Path) -> dict[str, str]:
    from core.project import Project

    project = Project.open(folder)
    try:
        return {Path(p).name: str(project.user_labels[i]) for i, p in enumerate(project.paths)
                if project.user_labels[i] is not None}
    finally:
        project.close()


def test_the_old_store_opens_with_its_run_and_labels(tmp_path):
    from core.project import Project

    folder = _copy(tmp_path)
    project = Project.open(folder)
    try:
        assert project.run.method == "kmeans" and project.run.model == "galaxy_cnn"
        assert sorted(Path(p).name for p in project.paths) == sorted(p.name for p in FIXTURE.glob("*.png"))
        assert len(set(project.clusters.tolist())) == 3
    finally:
        project.close()
    assert _user_labels(folder) == LABELS


def test_a_new_run_and_export_on_the_old_store_keep_its_labels(tmp_path):
    folder = _copy(tmp_path)
    out = tmp_path / "c.csv"
    assert main(["cluster", str(folder), "--model", "galaxy_cnn", "--method", "kmeans", "--clusters", "2",
                 "--out", str(out), "--quiet", "--cpu"]) == 0
    with open(out, newline="") as fh:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    assert {n: r["label"] for n, r in rows.items() if r["label_source"] == "user"} == LABELS
    assert len(rows) == 6 and {r["cluster"] for r in rows.values()} == {"0", "1"}
    assert _user_labels(folder) == LABELS


def test_a_damaged_old_store_is_recovered_without_sqlite_3_35s_drop_column(tmp_path, monkeypatch, capsys):
    """``recover`` on a damaged store of this older schema built today's tables and dropped the new column to fit
    its rows: ``ALTER TABLE ... DROP COLUMN`` needs SQLite 3.35 (2021), which older systems' Pythons lack
    (Ubuntu 20.04's has 3.31), so there it failed and rescued nothing.  Every statement the recovery runs is
    traced here; the old store's labels must come back, migrated to today's schema."""
    import sqlite3

    import numpy as np

    folder = _copy(tmp_path)
    db_file = folder / ".galaxy-sorter" / "project.sqlite"
    db = sqlite3.connect(db_file)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    with db:  # many more images and labels, so the tables span many pages
        db.executemany("INSERT INTO images (path, name) VALUES (?, ?)", [(f"old/x{i:05d}.png", f"x{i:05d}") for i in range(3000)])
        db.execute("INSERT INTO labels SELECT id, 'spiral', 'user', 1.0 FROM images WHERE path LIKE 'old/%'")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name='sqlite_autoindex_images_1' AND pagetype='leaf'")]
    db.close()
    assert len(pages) > 4
    with open(db_file, "r+b") as fh:  # an index page: no label on it
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(np.random.default_rng(0).bytes(page_size))
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(sqlite3, "connect", traced)
    assert main(["recover", str(folder)]) == 0, capsys.readouterr().err
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert "recovered 3003 label(s)" in capsys.readouterr().out
    newer = [s for s in statements if "DROP COLUMN" in s.upper()]
    assert not newer, f"statements an SQLite before 3.35 cannot run: {newer}"
    assert _user_labels(folder) == LABELS
