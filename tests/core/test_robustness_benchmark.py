"""benchmarks/robustness.py: each condition changes the image the way its name says, through the product's input path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import robustness as bench  # noqa: E402
from core.images.io import read_image  # noqa: E402


def galaxy(size: int = 96) -> np.ndarray:
    """A bright disc on a noisy grey sky, BGR uint8."""
    rng = np.random.default_rng(0)
    img = rng.normal(40.0, 5.0, size=(size, size, 3))
    yy, xx = np.mgrid[:size, :size]
    img[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2] = (90.0, 160.0, 220.0)
    return np.clip(img, 0, 255).astype(np.uint8)


def fake_set(tmp_path: Path, monkeypatch) -> Path:
    """A 12-image set named "fake" (sharp discs "elliptical", blurred ones "spiral") the benchmark reads as its own."""
    import cv2

    folder = tmp_path / "set"
    folder.mkdir()
    truth = {}
    for i in range(12):
        img = galaxy(64)
        if i % 2:
            img = cv2.GaussianBlur(img, (0, 0), 4)
        cv2.imwrite(str(folder / f"g{i}.png"), img)
        truth[f"g{i}"] = "spiral" if i % 2 else "elliptical"
    monkeypatch.setattr(bench, "set_paths", lambda name: (sorted(folder.glob("*.png")), truth))
    monkeypatch.setitem(bench.SETS, "fake", (folder, folder / "g0.png"))
    return folder


def test_shrink_keeps_the_frame_and_fills_it_with_the_border_sky_not_black():
    img = galaxy()
    out = bench.CONDITIONS["size 1/3"][0](img, np.random.default_rng(1))
    assert out.shape == img.shape
    corner = out[:10, :10].astype(float)
    assert abs(corner.mean() - 40.0) < 3.0 and 2.0 < corner.std() < 8.0  # sky like the border's
    bright = (out[..., 2] > 150).sum()
    assert 0 < bright < (img[..., 2] > 150).sum() / 6  # the disc is about 1/9 of its area now


def test_one_band_is_greyscale_of_that_plane():
    img = galaxy()
    out = bench.CONDITIONS["band r"][0](img, np.random.default_rng(1))
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert (out[..., 0] == img[..., 1]).all()


def test_half_snr_doubles_the_sky_noise():
    img = galaxy(200)
    out = bench.half_snr(img, np.random.default_rng(1))
    assert 1.7 < out[:20, :20].astype(float).std() / img[:20, :20].astype(float).std() < 2.3


def test_linear_fits_and_strong_jpeg_go_through_the_products_reader(tmp_path):
    img = galaxy()
    fits_path = bench.write(img, tmp_path / "g1", ".fits")
    jpeg_path = bench.write(img, tmp_path / "g2", ".jpg")
    assert fits_path.suffix == ".fits" and jpeg_path.suffix == ".jpg"
    for path in (fits_path, jpeg_path):
        rgb = read_image(path)
        assert rgb.shape == (96, 96, 3)
        assert rgb[48, 48].mean() > rgb[5, 5].mean() + 40  # the disc is still brighter than the sky
    assert jpeg_path.stat().st_size < (tmp_path / "g1.fits").stat().st_size / 5


def test_plot_is_written(tmp_path):
    rows = [("kaggle", "as is", "probe", 0.95), ("kaggle", "as is", "kmeans", 0.9), ("kaggle", "band r", "probe", 0.7)]
    bench.plot(rows, tmp_path / "r.png")
    import cv2

    img = cv2.imread(str(tmp_path / "r.png"))
    assert img is not None and img.shape[0] > 100 and (img < 250).any()


def test_summary_gives_clean_worst_and_gap_per_model_and_judges_the_goal():
    scores = {("hsc", "as is", "galaxy_cnn", "kmeans"): (0.90, 0.55), ("hsc", "size 1/3", "galaxy_cnn", "kmeans"): (0.70, 0.30),
              ("hsc", "as is", "galaxy_duo", "kmeans"): (0.91, 0.60), ("hsc", "size 1/3", "galaxy_duo", "kmeans"): (0.89, 0.52),
              ("hsc", "as is", "galaxy_duo", "probe"): (0.93, float("nan")),
              ("hsc", "size 1/3", "galaxy_duo", "probe"): (0.91, float("nan"))}
    lines = bench.summary(scores, ["galaxy_cnn", "galaxy_duo"], ["probe", "kmeans"])
    rows = {tuple(c.strip() for c in line.split("|")[2:4]): line for line in lines[2:]}
    assert set(rows) == {("galaxy_cnn", "kmeans"), ("galaxy_duo", "kmeans"), ("galaxy_duo", "probe")}
    assert "0.700 (0.300), size 1/3 | 0.200 | no" in rows[("galaxy_cnn", "kmeans")]
    assert "0.890 (0.520), size 1/3 | 0.020 | yes" in rows[("galaxy_duo", "kmeans")]
    assert "0.910, size 1/3 | 0.020 | no" in rows[("galaxy_duo", "probe")]  # under the probe's 0.92


def test_the_benchmark_refuses_a_method_it_does_not_know():
    with pytest.raises(SystemExit):
        bench.main(["--methods", "probe,nosuch", "--sets", "kaggle"])


def test_jwst_like_is_one_grey_band_of_the_reddest_plane_small_and_fainter():
    img = galaxy(192)
    rng = np.random.default_rng(1)
    out = bench.CONDITIONS["size 1/3 + i + half S/N"][0](img, rng)
    small_i = bench.CONDITIONS["size 1/3"][0](img, np.random.default_rng(1))[..., 0]
    assert out.shape == img.shape
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # one band, grey
    centre = out[96, 96, 0].astype(float)
    assert abs(centre - 90.0) < 25  # the disc's value in the i plane (OpenCV plane 0), not r's 160 or g's 220
    assert (out[..., 0] > 75).sum() < (img[..., 0] > 75).sum() / 4  # shrunk
    assert out[:30, :30, 0].astype(float).std() > 1.6 * small_i[:30, :30].astype(float).std()  # sky noise doubled


def test_auto_model_is_the_products_choice_for_each_written_folder(tmp_path, monkeypatch, capsys):
    """``--model auto`` runs the model the product would pick: galaxy_trio for a one-band condition, the
    default for colour images, on the very same written images as a named model."""
    folder = fake_set(tmp_path, monkeypatch)
    import core.images.io as io
    from core.features.bands import sample_paths

    reads = []
    thumbnail = io.thumbnail
    monkeypatch.setattr(io, "thumbnail", lambda path, *a, **k: reads.append(path) or thumbnail(path, *a, **k))
    assert bench.main(["--sets", "fake", "--conditions", "as is,band r", "--methods", "kmeans",
                       "--model", "auto,galaxy_duo", "--plot", str(tmp_path / "r.png")]) == 0
    # the rules' sample is read once per written folder, not once per rule and model
    assert len(reads) == 2 * len(sample_paths(sorted(folder.glob("*.png"))))
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| fake (12) |")]
    assert "| as is | auto: galaxy_duo |" in rows[0] and "| as is | galaxy_duo |" in rows[1]
    assert "| band r | auto: galaxy_trio |" in rows[2] and "| band r | galaxy_duo |" in rows[3]
    assert "| fake | auto | kmeans |" in out  # the summary keeps "auto" as one model


def test_summary_without_a_clean_run_judges_the_floors_and_says_the_gap_is_unknown():
    scores = {("hsc", "size 1/3", "auto", "kmeans"): (0.90, 0.55), ("hsc", "band r", "auto", "kmeans"): (0.89, 0.52),
              ("hsc", "size 1/3", "auto", "probe"): (0.85, float("nan"))}
    lines = bench.summary(scores, ["auto"], ["probe", "kmeans"])
    assert "nan" not in "\n".join(lines)
    rows = {line.split("|")[3].strip(): line for line in lines[2:]}
    assert "| not run | 0.890 (0.520), band r | - | floors met; gap unknown |" in rows["kmeans"]
    assert "| not run | 0.850, size 1/3 | - | no (floors) |" in rows["probe"]


def test_the_benchmark_refuses_a_model_it_does_not_know_before_any_work(monkeypatch):
    monkeypatch.setattr(bench, "set_paths", lambda name: pytest.fail("images read before the model was checked"))
    with pytest.raises(SystemExit):
        bench.main(["--model", "auto,nosuch", "--sets", "kaggle", "--methods", "probe"])


def test_default_against_kmeans_counts_the_cells_and_names_the_spreads_over_the_goal():
    """Issue 24's goals for the default method: no lower than k-means (ties within 0.005) and a 5-seed spread of
    at most 0.02, per set and model, with the conditions that miss named."""
    scores = {("hsc", "as is", "auto", "kmeans"): (0.90, 0.55), ("hsc", "as is", "auto", "default"): (0.92, 0.60),
              ("hsc", "size 1/2", "auto", "kmeans"): (0.89, 0.60), ("hsc", "size 1/2", "auto", "default"): (0.87, 0.597),
              ("hsc", "band r", "auto", "kmeans"): (0.90, 0.60), ("hsc", "band r", "auto", "default"): (0.897, 0.58)}
    spreads = {("hsc", "as is", "auto", "default"): (0.004, 0.009), ("hsc", "size 1/2", "auto", "default"): (0.010, 0.031),
               ("hsc", "band r", "auto", "default"): (0.002, 0.015)}
    lines = bench.default_against_kmeans(scores, spreads, ["auto"])
    assert len(lines) == 3
    row = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert row[:2] == ["hsc", "auto"]
    assert row[2] == "2 of 3 (short: size 1/2)"  # 0.87 < 0.89 - 0.005; 0.897 is a tie with 0.90
    assert row[3] == "2 of 3 (short: band r)"  # 0.597 ties 0.60; 0.58 is short
    assert row[4] == "0.010 / 0.031, size 1/2"
    assert row[5] == "no: 1 of 3 (size 1/2)"
    one_seed = bench.default_against_kmeans(scores, {}, ["auto"])[2]
    assert "| one seed | - |" in one_seed


def test_several_seeds_give_each_clustering_cell_its_spread(tmp_path, monkeypatch, capsys):
    fake_set(tmp_path, monkeypatch)
    assert bench.main(["--sets", "fake", "--conditions", "as is", "--methods", "probe,kmeans", "--seeds", "0,1,2",
                       "--model", "galaxy_duo", "--plot", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| fake (12) | as is |"))
    assert row.count("(spread ") == 1  # the k-means cell, not the probe's
    assert "default >= k-means" not in out  # the default method was not run


def test_a_candidate_model_file_is_measured_like_the_registered_model_it_holds(tmp_path, monkeypatch, capsys):
    """``--model path.onnx`` measures a file before it is registered; the registered galaxy_cnn's own file gives the
    registered model's figures, on the very same written images. A name that is neither a model nor a file is
    still refused."""
    fake_set(tmp_path, monkeypatch)
    candidate = tmp_path / "candidate.onnx"
    candidate.write_bytes((ROOT / "models" / "galaxy_cnn.onnx").read_bytes())
    assert bench.main(["--sets", "fake", "--conditions", "as is", "--methods", "kmeans",
                       "--model", f"galaxy_cnn,{candidate}", "--plot", str(tmp_path / "r.png")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| fake (12) | as is |")]
    assert f"| {candidate} |" in rows[1]
    assert rows[0].split("|")[4] == rows[1].split("|")[4]  # the same k-means cell
    with pytest.raises(SystemExit):
        bench.main(["--model", str(tmp_path / "missing.onnx"), "--sets", "fake", "--methods", "probe"])
