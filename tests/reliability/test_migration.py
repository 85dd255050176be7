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
        assert project.run_info["method"] == "kmeans" and project.run_info["model"] == "galaxy_cnn"
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
