"""Reading JPEG/PNG/TIFF/FITS, scanning folders, and refusing bad files with a reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.images.io import ImageReadError, asinh_stretch, image_id, read_image, scan_folder


@pytest.fixture()
def galaxy():
    from core.images.sample import render_galaxy

    return render_galaxy("spiral", 64, np.random.default_rng(0))


def test_scan_is_recursive_sorted_and_skips_hidden_and_store(tmp_path, galaxy):
    for rel in ["b.png", "a.jpg", "sub/c.TIF", ".hidden/d.png", ".galaxy-sorter/e.png", "notes.txt", "f.fits"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in scan_folder(tmp_path)]
    assert names == ["a.jpg", "b.png", "f.fits", "sub/c.TIF"]
    with pytest.raises(NotADirectoryError):
        scan_folder(tmp_path / "missing")


def test_png_and_jpeg_read_as_rgb(tmp_path, galaxy):
    cv2.imwrite(str(tmp_path / "g.png"), cv2.cvtColor(galaxy, cv2.COLOR_RGB2BGR))
    img = read_image(tmp_path / "g.png")
    assert img.dtype == np.uint8 and img.shape == (64, 64, 3)
    np.testing.assert_array_equal(img, galaxy)  # PNG is lossless and channel order is RGB


def test_16bit_tiff_is_stretched(tmp_path):
    data = np.zeros((40, 40), np.uint16)
    data[15:25, 15:25] = 60000
    cv2.imwrite(str(tmp_path / "g.tiff"), data)
    img = read_image(tmp_path / "g.tiff")
    assert img.shape == (40, 40, 3) and img[20, 20, 0] > 200 and img[0, 0, 0] < 10


def test_fits_mono_and_rgb_cube(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(0)
    mono = rng.normal(100, 5, (50, 60)).astype(np.float32)
    mono[20:30, 25:35] += 5000
    fits.PrimaryHDU(mono).writeto(tmp_path / "m.fits")
    img = read_image(tmp_path / "m.fits")
    assert img.shape == (50, 60, 3) and img[25, 30].min() > 200
    cube = np.stack([mono, mono * 0.5, mono * 0.2])
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube)]).writeto(tmp_path / "c.fits")
    img = read_image(tmp_path / "c.fits")
    assert img.shape == (50, 60, 3)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"),
    (b"this is not an image at all", "not a readable image"),
])
def test_bad_raster_files_give_reasons(tmp_path, content, reason):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason):
        read_image(p)


def test_bad_fits_gives_reason(tmp_path):
    p = tmp_path / "bad.fits"
    p.write_bytes(b"SIMPLE  = nonsense" * 10)
    with pytest.raises(ImageReadError, match="FITS"):
        read_image(p)


def test_truncated_jpeg_is_refused_or_read(tmp_path, galaxy):
    ok, buf = cv2.imencode(".jpg", galaxy)
    (tmp_path / "t.jpg").write_bytes(buf.tobytes()[:40])
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "t.jpg")


def test_asinh_stretch_is_robust():
    x = np.full((20, 20), 10.0)
    x[10, 10] = 1e6  # one hot pixel does not crush the rest
    x[5:8, 5:8] = 50.0
    x[0, 0] = np.nan
    y = asinh_stretch(x)
    assert y.min() >= 0 and y.max() <= 1 and np.isfinite(y).all()
    assert y[6, 6] > 0.1


def test_image_id_strips_suffixes():
    assert image_id("/a/b/100134.jpg") == "100134"
    assert image_id("x/galaxy.fits.gz") == "galaxy"
