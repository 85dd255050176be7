"""The model a folder gets under "auto" (issue 24): galaxy_duo in colour, galaxy_trio for single-band images.

The rule is :mod:`core.features.bands`; these tests go through what a user runs
(the pipeline's default config, the CLI with no ``--model``) on folders written
the ways single-band images arrive: grey PNG, grey JPEG (three near-equal
channels after JPEG), and 2-D FITS.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.features.bands import AUTO, ONE_BAND_MODEL, choose_model, folder_is_one_band, is_one_band, sample_paths
from core.features.extract import DEFAULT_MODEL, FEATURE_MODELS
from tests.helpers import blob


def grey_folder(tmp_path: Path, n: int = 12, fmt: str = "png") -> Path:
    """``n`` single-band galaxies: PNG or JPEG in mode L, or 2-D float FITS (one filter's plane)."""
    folder = tmp_path / f"grey_{fmt}"
    folder.mkdir()
    for i in range(n):
        img = blob(6.0 + i % 5, size=96, seed=i, elongation=1.0 + (i % 3) * 0.4)
        grey = img.mean(axis=2)
        if fmt == "fits":
            from astropy.io import fits

            fits.PrimaryHDU((grey / 255.0 * 40.0).astype(np.float32)).writeto(folder / f"g{i:02d}.fits")
        else:
            Image.fromarray(grey.astype(np.uint8), "L").save(folder / f"g{i:02d}.{fmt}", quality=85)
    return folder


def test_one_band_images_are_told_from_colour_ones(tmp_path):
    colour = blob(8.0, size=96)
    assert not is_one_band(colour)
    assert is_one_band(np.repeat(colour.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2))
    # A grey image stored as an RGB JPEG: chroma noise only, still one band.
    Image.fromarray(np.repeat(colour[:, :, :1], 3, axis=2)).save(tmp_path / "rgb_grey.jpg", quality=70)
    from core.images.io import read_image

    assert is_one_band(read_image(tmp_path / "rgb_grey.jpg"))
    # The sample is spread over the sorted folder, the same every time, and bounded.
    paths = [tmp_path / f"{i:03d}.png" for i in range(100)]
    picked = sample_paths(list(reversed(paths)), 16)
    assert len(picked) == 16 and picked[0] == paths[0] and picked[-1] == paths[-1] and picked == sample_paths(paths, 16)


@pytest.mark.parametrize("fmt", ["png", "jpg", "fits"])
def test_auto_picks_the_one_band_model_for_a_single_band_folder(tmp_path, fmt):
    folder = grey_folder(tmp_path, fmt=fmt)
    paths = sorted(folder.iterdir())
    assert folder_is_one_band(paths) == (True, 12)
    model, note = choose_model(AUTO, paths)
    assert model == ONE_BAND_MODEL == "galaxy_trio" and ONE_BAND_MODEL in FEATURE_MODELS.names()
    assert note and "single-band" in note and "12 of 12" in note
    assert choose_model("galaxy_cnn", paths) == ("galaxy_cnn", None)  # a model the user named is kept


def test_auto_keeps_the_default_for_colour_and_mixed_folders(sample_folder, tmp_path):
    colour = sorted(Path(sample_folder).glob("*.png"))
    assert choose_model(AUTO, colour) == (DEFAULT_MODEL, None)
    mixed = Path(shutil.copytree(grey_folder(tmp_path), tmp_path / "mixed"))
    Image.fromarray(blob(7.0, size=96)).save(mixed / "g05.png")  # one colour image among grey ones, in the sample
    assert choose_model(AUTO, sorted(mixed.iterdir())) == (DEFAULT_MODEL, None)
    # Nothing readable: the default, and the pipeline lists the files as skipped.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"not an image")
    assert choose_model(AUTO, [bad / "a.png"]) == (DEFAULT_MODEL, None)


def test_the_pipeline_default_runs_galaxy_trio_on_a_grey_folder_and_records_it(tmp_path):
    from core.pipeline import PipelineConfig, run_pipeline
    from core.store.database import ProjectStore

    folder = grey_folder(tmp_path)
    config = PipelineConfig(method="kmeans")
    assert config.model == AUTO
    messages: list[str] = []
    result = run_pipeline(folder, config, progress=lambda f, m: messages.append(m))
    assert result.model == "galaxy_trio" and result.features.shape == (12, 192)
    assert result.model_note and any("single-band folder" in m for m in messages)
    store = ProjectStore(folder / ".galaxy-sorter", root=folder)
    try:
        run = store.latest_run()
        assert run.model == "galaxy_trio" and run.params["model_chosen_by"] == "auto: one band"
        assert PipelineConfig.from_run(run).model == "galaxy_trio"  # reopening reruns what ran, not the rule
    finally:
        store.close()


def test_the_cli_without_model_says_which_model_a_grey_folder_got(tmp_path, capsys):
    from core.cli import main

    folder = grey_folder(tmp_path, fmt="jpg")
    out = tmp_path / "clusters.csv"
    assert main(["cluster", str(folder), "--method", "kmeans", "--out", str(out), "--cpu"]) == 0
    said = capsys.readouterr()
    text = said.out + said.err
    assert "on galaxy_trio features" in text and "note: The folder holds single-band images" in text
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["model"]["name"] == "galaxy_trio"
