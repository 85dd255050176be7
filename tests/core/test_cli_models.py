"""``galaxy-sorter cluster FOLDER --model NAME``: the user's way to choose a galaxy model from the command line.

The sidecar records the chosen model and the hash of the very file that made the
features, and every image gets a row (issue 24's galaxy_cnn2 and galaxy_duo).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model", ["galaxy_cnn2", "galaxy_duo"])
def test_the_cli_clusters_a_folder_with_a_chosen_model(sample_folder, tmp_path, capsys, model):
    from core.cli import main
    from core.features.extract import file_sha256

    folder = Path(shutil.copytree(sample_folder, tmp_path / "imgs"))
    out = tmp_path / "clusters.csv"
    code = main(["cluster", str(folder), "--model", model, "--method", "kmeans", "--clusters", "3",
                 "--out", str(out), "--quiet", "--cpu"])
    assert code == 0, capsys.readouterr()
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["model"]["name"] == model
    assert side["model"]["sha256"] == file_sha256(ROOT / "models" / f"{model}.onnx")
    assert len(out.read_text().splitlines()) == 1 + 30
