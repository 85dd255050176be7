"""benchmarks/robustness.py: each condition changes the image the way its name says, through the product's input path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

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
    import pytest

    with pytest.raises(SystemExit):
        bench.main(["--methods", "probe,nosuch", "--sets", "kaggle"])
