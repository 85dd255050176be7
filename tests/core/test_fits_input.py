"""FITS single bands, cubes and band files reach the model through one input path (issue 24).

The files are written with astropy the way surveys deliver them (float and
integer pixels, BSCALE/BZERO, BLANK, NaNs, tile compression, band names in the
header or the file name) and read through what the user touches: the folder
scan, feature extraction, the CLI's ``cluster`` and its sidecar.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

from core.features.extract import extract_features, load_model
from core.images.fits import MODEL_STRETCH, band_group, band_wavelength
from core.images.io import ImageReadError, file_fingerprint, image_id, read_image, scan_images
from core.images.preprocess import Preprocessing
from core.images.sample import render_galaxy


def galaxy_bands(seed: int = 0, size: int = 64, kind: str = "spiral") -> np.ndarray:
    """Linear g, r, i flux (3, size, size), south row first as in FITS: a galaxy over sky of different levels."""
    rgb = render_galaxy(kind, size, np.random.default_rng(seed)).astype(np.float64) / 255.0
    linear = np.sinh(3.0 * rgb) / np.sinh(3.0)  # undo a display stretch: linear flux
    gri = np.moveaxis(linear[::-1, :, ::-1], -1, 0)  # planes bluest first (B, G, R = g, r, i), rows bottom-up
    return 500.0 * gri + np.array([20.0, 35.0, 60.0])[:, None, None]  # each band on its own sky


def write(path, data, **cards) -> None:
    hdu = fits.PrimaryHDU(data)
    for key, value in cards.items():
        hdu.header[key] = value
    hdu.writeto(path)


def test_one_band_in_any_dtype_is_grey_and_the_same_picture(tmp_path):
    flux = galaxy_bands()[1]
    write(tmp_path / "f64.fits", flux.astype(np.float64))
    write(tmp_path / "f32.fits", flux.astype(np.float32), FILTER="r")
    scaled = fits.PrimaryHDU(np.round((flux - 300.0) / 0.05).astype(np.int16))
    scaled.header["BSCALE"], scaled.header["BZERO"] = 0.05, 300.0  # stored as int16, meant as flux
    scaled.writeto(tmp_path / "i16.fits")
    fits.PrimaryHDU(np.round(flux * 50).astype(np.int32)).writeto(tmp_path / "i32.fits")
    reference = read_image(tmp_path / "f64.fits")
    assert (reference[:, :, 0] == reference[:, :, 1]).all() and (reference[:, :, 1] == reference[:, :, 2]).all()
    for name in ("f32", "i16", "i32"):
        img = read_image(tmp_path / f"{name}.fits")
        assert img.shape == (64, 64, 3) and (img[:, :, 0] == img[:, :, 2]).all()
        assert np.abs(img.astype(int) - reference.astype(int)).mean() < 1.5, name  # the scale does not matter


def test_nans_and_blank_pixels_become_sky(tmp_path):
    flux = galaxy_bands()[2]
    holed = flux.copy()
    holed[:10, :10] = np.nan  # a masked corner
    write(tmp_path / "nan.fits", holed.astype(np.float32))
    ints = np.round(flux * 10).astype(np.int32)
    ints[:10, :10] = -999
    write(tmp_path / "blank.fits", ints, BLANK=-999)
    plain = read_image(_write(tmp_path / "plain.fits", flux.astype(np.float32)))
    for name in ("nan", "blank"):
        img = read_image(tmp_path / f"{name}.fits").astype(int)
        corner = img[-10:, :10]  # north up: FITS row 0 is the image's last row
        assert corner.max() == 0, name  # masked: sky (black), not a bright or dark artefact
        assert np.abs(img[:-12] - plain[:-12].astype(int)).mean() < 1.5


def _write(path, data):
    fits.PrimaryHDU(data).writeto(path)
    return path


@pytest.mark.parametrize("name", ["rice.fits", "rice.fits.fz", "gzip.fits.gz"])
def test_compressed_files_read_like_plain_ones(tmp_path, name):
    flux = galaxy_bands()[1].astype(np.float32)
    plain = read_image(_write(tmp_path / "plain.fits", flux))
    path = tmp_path / name
    if name.endswith(".gz"):
        fits.PrimaryHDU(flux).writeto(path)  # astropy gzips by the suffix
    else:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(flux, compression_type="RICE_1", quantize_level=64)]
                     ).writeto(path)
    assert scan_images(tmp_path)[0] == sorted([tmp_path / "plain.fits", path])
    assert image_id(path) == name.split(".")[0]
    assert np.abs(read_image(path).astype(int) - plain.astype(int)).mean() < 1.5


def test_a_cube_goes_to_colour_by_its_band_names_else_in_file_order(tmp_path):
    gri = galaxy_bands().astype(np.float32)
    write(tmp_path / "named.fits", gri, BAND0="g", BAND1="r", BAND2="i")
    write(tmp_path / "listed.fits", gri, BANDS="g,r,i")
    write(tmp_path / "hsc.fits", gri, FILTER1="HSC-G", FILTER2="HSC-R2", FILTER3="HSC-I2")
    write(tmp_path / "unnamed.fits", gri[::-1].copy())  # no names: plane 0 is red (i), as an RGB cube
    reference = read_image(tmp_path / "named.fits")
    centre = reference[28:36, 28:36].reshape(-1, 3).astype(int).mean(0)
    assert reference[:, :, 0].astype(int).sum() != reference[:, :, 2].astype(int).sum()
    for name in ("listed", "hsc", "unnamed"):
        assert (read_image(tmp_path / f"{name}.fits") == reference).all(), name
    from core.images.display import read_raw

    shown = read_raw(tmp_path / "named.fits")  # the display's planes are in the model's colour order too
    np.testing.assert_array_equal(shown[:, :, 0], gri[2][::-1])
    np.testing.assert_array_equal(shown[:, :, 2], gri[0][::-1])
    swapped = read_image(_write(tmp_path / "gri_unnamed.fits", gri))  # the same g,r,i cube, unnamed: file order
    assert (swapped[:, :, 0] == reference[:, :, 2]).all()
    assert centre.max() > 60  # the galaxy is there, stretched above the sky
    # five bands u,g,r,i,z: g, r, i are the colours
    ugriz = np.concatenate([gri[:1] * 0.5, gri, gri[2:] * 1.2])
    write(tmp_path / "five.fits", ugriz, BANDS="u g r i z")
    five = read_image(tmp_path / "five.fits")
    assert np.corrcoef(five[:, :, 0].ravel(), reference[:, :, 0].ravel())[0, 1] > 0.99
    # two bands: red, their mean, blue
    write(tmp_path / "two.fits", gri[[0, 2]], BANDS="g,i")
    two = read_image(tmp_path / "two.fits").astype(int)
    assert np.abs(two[:, :, 1] - (two[:, :, 0] + two[:, :, 2]) / 2).mean() < 12


def test_band_names_and_wavelengths():
    assert band_wavelength("g") < band_wavelength("HSC-R2") < band_wavelength("SDSS_i") < band_wavelength("Ks")
    assert band_wavelength("F814W") == pytest.approx(0.814)
    assert band_wavelength("F150W") == pytest.approx(1.5) and band_wavelength("F1000W") == pytest.approx(10.0)
    assert band_wavelength("F277W", telescope="JWST") == pytest.approx(2.77)
    assert band_wavelength("clear") is None and band_wavelength(None) is None


def test_band_files_are_one_image_read_as_the_cube_is(tmp_path):
    gri = galaxy_bands(seed=3).astype(np.float32)
    write(tmp_path / "cube.fits", gri, BANDS="g,r,i")
    for k, band in enumerate("gri"):
        write(tmp_path / f"obj123_{band}.fits", gri[k])
        write(tmp_path / f"obj9.{band}.fits", gri[k])
        write(tmp_path / f"NGC1-{band.upper()}.fits", gri[k])
    write(tmp_path / "pair_g.fits", gri[0])
    write(tmp_path / "pair_i.fits", gri[2])
    write(tmp_path / "lone_r.fits", gri[1])
    found, skipped = scan_images(tmp_path)
    assert skipped == []
    assert [p.name for p in found] == ["NGC1-I.fits", "cube.fits", "lone_r.fits", "obj123_i.fits", "obj9.i.fits",
                                      "pair_i.fits"]
    cube = read_image(tmp_path / "cube.fits")
    for name in ("obj123_i", "obj9.i", "NGC1-I", "obj123_g"):  # any band of a set reads as the whole set
        assert (read_image(tmp_path / f"{name}.fits") == cube).all(), name
    lone = read_image(tmp_path / "lone_r.fits")
    assert (lone[:, :, 0] == lone[:, :, 2]).all()  # one band alone: grey
    assert band_group("pair_g.fits", {"pair_g.fits", "pair_i.fits"}) == ["pair_i.fits", "pair_g.fits"]
    # the set's fingerprint covers every band: a changed g file is a changed image
    before = file_fingerprint(tmp_path / "obj123_i.fits")
    (tmp_path / "obj123_g.fits").unlink()
    write(tmp_path / "obj123_g.fits", gri[0] * 1.1)
    assert file_fingerprint(tmp_path / "obj123_i.fits") != before


def test_wrong_shapes_are_listed_as_bad_files_with_a_reason(tmp_path):
    gri = galaxy_bands().astype(np.float32)
    write(tmp_path / "good.fits", gri[1])
    write(tmp_path / "hyper.fits", np.zeros((2, 3, 16, 16), np.float32) + np.arange(16, dtype=np.float32))
    write(tmp_path / "spectral.fits", np.random.default_rng(0).normal(size=(40, 32, 32)).astype(np.float32))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]
                 ).writeto(tmp_path / "table.fits")
    write(tmp_path / "flat.fits", np.full((32, 32), 7.0, np.float32))
    write(tmp_path / "tiny.fits", gri[1][:4, :4])
    write(tmp_path / "odd_r.fits", gri[1])
    write(tmp_path / "odd_g.fits", gri[0][:32, :32])  # band files of different sizes
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    write(tmp_path / "set_r.fits", gri[1])
    (tmp_path / "set_g.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)  # one band damaged
    paths, _ = scan_images(tmp_path)
    res = extract_features(paths, load_model("galaxy_cnn", use_gpu=False), Preprocessing(), batch_size=4, workers=1)
    assert [p.name for p in res.paths] == ["good.fits"]
    reasons = {s.path.rsplit("/", 1)[1]: s.reason for s in res.skipped}
    assert "unsupported FITS data shape 2x3x16x16" in reasons["hyper.fits"]
    assert "40 planes" in reasons["spectral.fits"] and "spectral cube" in reasons["spectral.fits"]
    assert "no image data" in reasons["table.fits"]
    assert "same value" in reasons["flat.fits"]
    assert "too small" in reasons["tiny.fits"]
    assert "not 2-D images of one size" in reasons["odd_r.fits"]
    assert "not a readable FITS file" in reasons["broken.fits"]
    assert reasons["set_r.fits"].startswith("band file set_g.fits: not a readable FITS file")
    with pytest.raises(ImageReadError, match="spectral cube"):
        read_image(tmp_path / "spectral.fits")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def test_the_same_galaxy_as_jpeg_and_as_fits_gives_similar_features(tmp_path):
    """A galaxy as a survey's JPEG (a display stretch of its own) and as linear FITS lands in the same place."""
    import cv2

    jpg_dir, fits_dir = tmp_path / "jpg", tmp_path / "fits"
    jpg_dir.mkdir()
    fits_dir.mkdir()
    rng = np.random.default_rng(1)
    for k, kind in enumerate(["elliptical", "spiral", "edge_on"] * 6):
        rgb = render_galaxy(kind, 128, rng)
        cv2.imwrite(str(jpg_dir / f"g{k:02d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        linear = np.sinh(3.0 * rgb.astype(np.float64) / 255.0) / np.sinh(3.0)
        gri = np.moveaxis(linear[::-1, :, ::-1], -1, 0) * 800.0 + np.array([5.0, 9.0, 14.0])[:, None, None]
        write(fits_dir / f"g{k:02d}.fits", gri.astype(np.float32), BANDS="g,r,i")
    model = load_model("galaxy_cnn", use_gpu=False)
    jpg = extract_features(scan_images(jpg_dir)[0], model, Preprocessing(), batch_size=8, workers=1)
    fit = extract_features(scan_images(fits_dir)[0], model, Preprocessing(), batch_size=8, workers=1)
    assert [p.stem for p in jpg.paths] == [p.stem for p in fit.paths]
    sim = _cosine(fit.features, jpg.features)
    same = np.diag(sim)
    others = sim[~np.eye(len(sim), dtype=bool)]
    kinds = np.arange(len(sim)) % 3
    assert same.mean() > 0.9 and same.mean() > others.mean() + 0.1
    assert (kinds[sim.argmax(axis=1)] == kinds).mean() >= 0.8  # the nearest JPEG is of the galaxy's own kind


def test_the_cli_records_the_fixed_stretch_in_the_sidecar(tmp_path):
    from core.cli import main

    folder = tmp_path / "fits"
    folder.mkdir()
    for k in range(6):
        write(folder / f"g{k}.fits", galaxy_bands(seed=k, kind=("spiral", "elliptical")[k % 2]).astype(np.float32),
              BANDS="g,r,i")
    out = tmp_path / "out.csv"
    assert main(["cluster", str(folder), "--method", "kmeans", "--clusters", "2", "--cpu", "--quiet",
                 "--out", str(out)]) == 0
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    assert sidecar["parameters"]["input_stretch"] == MODEL_STRETCH
    assert sidecar["parameters"]["input_stretch"]["name"] == "asinh" and sidecar["images"] == 6
