"""core.images.ops and core.images.decode against OpenCV, the library they replace (issue 22).

Each operation is compared with the cv2 call it replaced, on random images of
many shapes and on real ones: uint8 results must be identical, float ones
within the stated rounding.  Decoding is compared with ``cv2.imdecode``; 16-bit
colour files are written and read back exactly.  cv2 is a test dependency (the
``dev`` extra); without it the comparisons skip, the round trips still run.
An import guard keeps cv2 out of core for good.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.images import ops
from core.images.decode import decode_raster, lzw_decode
from core.images.io import BIG_IMAGE_PIXELS, ImageReadError, read_image
from tests import opencv_reference as ref

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "sample"


@pytest.fixture(scope="module")
def cv2():
    return pytest.importorskip("cv2", reason="opencv-python-headless (the dev extra) is the reference here")


def _shapes(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    return [(int(rng.integers(2, 160)), int(rng.integers(2, 160)), (1, 3)[i % 2]) for i in range(n)]


def _image(rng: np.random.Generator, h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    a = rng.integers(0, 256, (h, w, c)).astype(dtype) if dtype == np.uint8 else rng.random((h, w, c)).astype(dtype)
    return a[:, :, 0] if c == 1 else a


def test_resize_area_uint8_is_identical_to_opencv_for_any_shrink(cv2):
    rng = np.random.default_rng(1)
    for h, w, c in _shapes(rng, 80):
        img = _image(rng, h, w, c)
        size = (max(1, int(w / rng.uniform(1, 4))), max(1, int(h / rng.uniform(1, 4))))
        assert np.array_equal(ops.resize_area(img, size), ref.cv2_resize_area(img, size)), (img.shape, size)
    for k in (2, 3, 4):  # integer factors take OpenCV's fast path (2 x 2 rounds half up, others half to even)
        img = _image(rng, 12 * k, 10 * k, 3)
        assert np.array_equal(ops.resize_area(img, (10, 12)), ref.cv2_resize_area(img, (10, 12))), k


def test_resize_area_float32_is_within_float_rounding_of_opencv(cv2):
    rng = np.random.default_rng(2)
    for h, w, c in _shapes(rng, 30):
        img = _image(rng, h, w, c, np.float32)
        size = (max(1, w // 2 + 1), max(1, h // 3 + 1))
        np.testing.assert_allclose(ops.resize_area(img, size), ref.cv2_resize_area(img, size), rtol=0, atol=3e-7)


def test_resize_linear_uint8_is_identical_to_opencv_enlarging_and_mixed(cv2):
    rng = np.random.default_rng(3)
    for h, w, c in _shapes(rng, 80):
        img = _image(rng, h, w, c)
        size = (int(w * rng.uniform(0.6, 4)) + 1, int(h * rng.uniform(0.6, 4)) + 1)
        assert np.array_equal(ops.resize_linear(img, size), ref.cv2_resize_linear(img, size)), (img.shape, size)
    img = _image(rng, 40, 60, 3)  # an exact halving: OpenCV averages areas
    assert np.array_equal(ops.resize_linear(img, (30, 20)), ref.cv2_resize_linear(img, (30, 20)))


def test_model_sizes_on_the_sample_are_identical_to_opencv(cv2):
    """The model squares (48, 224, 299) from real crops, both ways of resizing."""
    paths = sorted(SAMPLE.glob("*.png"))[::9]
    assert paths
    for p in paths:
        img = read_image(p)
        for crop in (img, img[10:90, 20:100], img[40:80, 40:80]):
            for side in (48, 64, 224, 299, 20):
                mine = ops.resize_area(crop, (side, side)) if min(crop.shape[:2]) >= side else \
                    ops.resize_linear(crop, (side, side))
                theirs = ref.cv2_resize_area(crop, (side, side)) if min(crop.shape[:2]) >= side else \
                    ref.cv2_resize_linear(crop, (side, side))
                assert np.array_equal(mine, theirs), (p.name, crop.shape, side)


def test_gaussian_blur_matches_opencv_kernel_and_borders(cv2):
    rng = np.random.default_rng(4)
    for h, w, _ in _shapes(rng, 20):
        sigma = float(rng.uniform(0.8, 2.5))
        g32 = (rng.random((h, w)) * 100).astype(np.float32)
        np.testing.assert_allclose(ops.gaussian_blur(g32, sigma), ref.cv2_gaussian_blur(g32, sigma), rtol=0, atol=3e-5)
        g64 = rng.random((h, w, 3))
        np.testing.assert_allclose(ops.gaussian_blur(g64, sigma), ref.cv2_gaussian_blur(g64, sigma), rtol=0, atol=1e-14)
    k = cv2.getGaussianKernel(int(np.rint(1.5 * 8 + 1)) | 1, 1.5, ktype=cv2.CV_64F).ravel()
    np.testing.assert_allclose(ops.gaussian_kernel(1.5), k, rtol=1e-15)


def test_sample_generator_images_are_unchanged(cv2, tmp_path):
    """The built-in sample (README's figures) comes out pixel for pixel as it did with OpenCV's blur."""
    from core.images import sample

    for kind in sample.CLASSES:
        new = sample.render_galaxy(kind, 128, np.random.default_rng(5))
        original = ops.gaussian_blur  # render_galaxy takes it from ops when it runs
        ops.gaussian_blur = ref.cv2_gaussian_blur
        try:
            old = sample.render_galaxy(kind, 128, np.random.default_rng(5))
        finally:
            ops.gaussian_blur = original
        assert np.array_equal(new, old), kind
    sample.make_sample(tmp_path, per_class=30, size=128, seed=0)  # what resources/sample was made with
    for p in sorted(SAMPLE.glob("*.png")):  # byte for byte: image ids are hashes of the files
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name


def test_png_files_are_written_byte_for_byte_as_opencv_wrote_them(cv2):
    from core.images.decode import encode_png

    rng = np.random.default_rng(15)
    for h, w, c in _shapes(rng, 20) + [(128, 128, 3), (300, 200, 3), (5, 4, 4)]:
        img = _image(rng, h, w, c) if c != 4 else rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        img[: h // 2] = img[: h // 2] // 32 * 32  # flat parts, as in a montage or a sky
        bgr = img if img.ndim == 2 else img[:, :, [2, 1, 0] + ([3] if c == 4 else [])]
        ok, data = cv2.imencode(".png", np.ascontiguousarray(bgr))
        assert ok and encode_png(img) == data.tobytes(), img.shape


def test_box_blur_grey_and_components_are_identical_to_opencv(cv2):
    rng = np.random.default_rng(6)
    for h, w, _ in _shapes(rng, 40):
        lum = (rng.random((h, w)) * 255).astype(np.float32)
        assert np.array_equal(ops.box_blur3(lum), ref.cv2_box_blur3(lum))
        rgb = _image(rng, h, w, 3)
        assert np.array_equal(ops.rgb_to_gray(rgb), ref.cv2_rgb_to_gray(rgb))
        mask = (rng.random((h, w)) < rng.uniform(0.1, 0.6)).astype(np.uint8)
        n_new, labels_new = ops.connected_components(mask)
        n_old, labels_old = ref.cv2_connected_components(mask)
        assert n_new == n_old and np.array_equal(labels_new, labels_old)  # the same numbers, not just regions


def test_rotate180_is_within_float32_rounding_of_warp_affine(cv2):
    rng = np.random.default_rng(7)
    for h, w, _ in _shapes(rng, 20):
        img = (rng.random((h, w)) * 100).astype(np.float32)
        xc, yc = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        np.testing.assert_allclose(ops.rotate180(img, xc, yc), ref.cv2_rotate180(img, xc, yc), rtol=0, atol=2e-5)


# ----------------------------------------------------------------------------------------------- decoding


def _jpeg(rgb: np.ndarray, **kw: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def test_decoding_sample_and_real_jpegs_matches_opencv(cv2, tmp_path):
    rng = np.random.default_rng(8)
    files = sorted(SAMPLE.glob("*.png"))[::10]
    kaggle = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle" / "images"
    files += sorted(kaggle.glob("*.jpg"))[:20] if kaggle.is_dir() else []
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), (0, 0), 2)
    (tmp_path / "grey.jpg").write_bytes(_jpeg(smooth[:, :, 0]))
    (tmp_path / "colour.jpg").write_bytes(_jpeg(smooth))
    cv2.imwrite(str(tmp_path / "grey16.png"), (smooth[:, :, 0].astype(np.uint16) * 257))
    cv2.imwrite(str(tmp_path / "grey16.tif"), (smooth[:, :, 1].astype(np.uint16) * 251))
    cv2.imwrite(str(tmp_path / "bgra.png"), np.dstack([smooth, smooth[:, :, :1]]))
    files += sorted(tmp_path.iterdir())
    for p in files:
        raw = np.fromfile(p, dtype=np.uint8)
        new, old = decode_raster(raw.tobytes()), ref.cv2_decode(raw)
        assert new.dtype == old.dtype and np.array_equal(new, old), p.name


def test_reduced_jpeg_decoding_matches_imread_reduced(cv2):
    rng = np.random.default_rng(9)
    base = cv2.GaussianBlur(rng.integers(0, 256, (200, 264, 3), dtype=np.uint8), (0, 0), 3)
    data = _jpeg(base)
    raw = np.frombuffer(data, np.uint8)
    for reduce in (2, 4, 8):
        new, old = decode_raster(data, reduce), ref.cv2_decode(raw, reduce)
        assert new.shape == old.shape and np.array_equal(new, old), reduce


def test_exif_orientation_turns_the_picture_upright_and_raw_keeps_it_stored(cv2, tmp_path):
    from PIL import Image

    from core.images.io import _raster_raw

    img = np.zeros((40, 64, 3), np.uint8)
    img[:10, :20] = 250  # a bright corner: where it lands says how the picture was turned
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    p = tmp_path / "turned.jpg"
    p.write_bytes(_jpeg(img, exif=exif.tobytes()))
    new = read_image(p)
    assert new.shape == (64, 40, 3) and np.array_equal(new, ref.cv2_decode(np.fromfile(p, np.uint8)))
    assert _raster_raw(p).shape == (40, 64, 3)


def test_a_damaged_exif_block_keeps_the_picture_as_opencv_did(cv2, tmp_path):
    """A JPEG whose EXIF block is garbage is read as stored (no orientation to apply), the same pixels
    as OpenCV gave: it is not refused.  (Pillow's "Corrupt EXIF data" warning is silenced process-wide
    once; pytest resets warning filters per test, so that part is not checked here.)"""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (48, 72, 3)).astype(np.uint8)
    p = tmp_path / "bad_exif.jpg"
    p.write_bytes(_jpeg(img, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff\x01\x02garbage"))
    new = read_image(p)
    assert new.shape == (48, 72, 3) and np.array_equal(new, ref.cv2_decode(np.fromfile(p, np.uint8)))


def test_16_bit_colour_png_and_tiff_keep_their_exact_values(tmp_path):
    import png
    import tifffile

    from core.images.io import _raster_raw

    rng = np.random.default_rng(10)
    rgb = rng.integers(0, 65536, (24, 30, 3), dtype=np.uint16)
    with open(tmp_path / "c16.png", "wb") as fh:
        png.Writer(30, 24, greyscale=False, bitdepth=16).write(fh, rgb.reshape(24, -1).tolist())
    tifffile.imwrite(tmp_path / "c16.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "c16z.tif", rgb, photometric="rgb", compression="zlib")
    rgba = np.dstack([rgb, np.full((24, 30), 65535, np.uint16)])
    tifffile.imwrite(tmp_path / "c16a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    for name in ("c16.png", "c16.tif", "c16z.tif", "c16a.tif"):
        assert np.array_equal(_raster_raw(tmp_path / name), rgb.astype(np.float32)), name
        assert read_image(tmp_path / name).dtype == np.uint8  # stretched to 8 bits for the models, as before


def test_16_bit_colour_tiff_with_lzw_as_opencv_writes_it(cv2, tmp_path):
    """OpenCV (and most tools) write LZW: tifffile reads it through our decoder, without imagecodecs."""
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 65536, (33, 41, 3), dtype=np.uint16)
    rgb[:, :20] = rng.integers(0, 4, (33, 20, 3))  # runs, so the LZW table grows past 9-bit codes
    cv2.imwrite(str(tmp_path / "lzw.tif"), rgb[:, :, ::-1])
    from core.images.io import _raster_raw

    assert np.array_equal(_raster_raw(tmp_path / "lzw.tif"), rgb.astype(np.float32))
    raw = np.fromfile(tmp_path / "lzw.tif", np.uint8)
    assert np.array_equal(decode_raster(raw.tobytes()), ref.cv2_decode(raw))


def test_lzw_decoder_round_trips_long_and_repetitive_data():
    from PIL import Image

    rng = np.random.default_rng(12)
    plane = np.repeat(rng.integers(0, 256, (300, 40), dtype=np.uint8), 7, axis=1)  # long runs: 12-bit codes, clears
    buf = io.BytesIO()
    Image.fromarray(plane).save(buf, format="TIFF", compression="tiff_lzw")
    import tifffile

    with tifffile.TiffFile(io.BytesIO(buf.getvalue())) as tif:
        page = tif.pages[0]
        fh = tif.filehandle
        data = b""
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            fh.seek(offset)
            data += lzw_decode(fh.read(count))
    assert data == plane.tobytes()


def test_corrupt_and_truncated_files_say_not_readable(tmp_path):
    rng = np.random.default_rng(13)
    good = _jpeg(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    cases = {"cut.jpg": good[:300], "half.jpg": good[: len(good) // 2], "noise.png": b"\x89PNG\r\n\x1a\n" + bytes(200),
             "text.tif": b"II*\x00 not really a tiff", "garbage.jpg": rng.integers(0, 256, 500, dtype=np.uint8).tobytes()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageReadError, match="not a readable image"):
            read_image(tmp_path / name)


def test_huge_images_are_read_and_shrunk_and_bombs_refused_as_opencv_did(tmp_path, monkeypatch):
    """Pillow's bomb limit is OpenCV's (2**30 pixels); below it the app's own huge-image path applies."""
    import struct
    import zlib

    from PIL import Image

    import core.images.io as io_module
    from core.images.decode import OPENCV_MAX_PIXELS

    decode_raster(b"")  # the limit is set on the first decoding
    assert 2 * Image.MAX_IMAGE_PIXELS >= OPENCV_MAX_PIXELS
    monkeypatch.setattr(io_module, "BIG_IMAGE_PIXELS", 50_000)
    monkeypatch.setattr(io_module, "BIG_IMAGE_SIDE", 128)
    rng = np.random.default_rng(14)
    img = np.repeat(np.repeat(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), 8, axis=0), 8, axis=1)
    (tmp_path / "big.jpg").write_bytes(_jpeg(img))
    out = read_image(tmp_path / "big.jpg")
    assert max(out.shape[:2]) == 128 and out.shape[2] == 3
    # a PNG whose header claims 50,000 x 50,000 pixels (2.5e9, over the cap): refused at once, as OpenCV did
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + bytes(64))
    with pytest.raises(ImageReadError, match="not a readable image"):
        read_image(tmp_path / "bomb.png")
    assert BIG_IMAGE_PIXELS == 40_000_000


def test_core_and_the_extraction_path_never_import_cv2():
    """cv2 left core in issue 22 (179 MB of the bundle); a run through decoding, crops, features and morphology
    must not bring it back."""
    code = (
        "import sys\n"
        "sys.modules['cv2'] = None  # importing it would raise\n"
        "import core, core.pipeline, core.cli, core.images.io, core.images.display, core.images.sample\n"
        "import core.features.extract, core.features.morphology, core.catalog.montage, core.catalog.export\n"
        "from core.images.io import read_image, thumbnail\n"
        "from core.images.preprocess import Preprocessing, model_square, ModelView, central_object_fraction\n"
        "from core.features.morphology import morphology_of_image\n"
        "from core.catalog.montage import montage, write_png\n"
        "import glob, tempfile, os\n"
        "paths = sorted(glob.glob('resources/sample/*.png'))[:3]\n"
        "img = read_image(paths[0]); thumbnail(paths[0])\n"
        "model_square(img, Preprocessing('auto'), [ModelView('none', 6.0, 48), ModelView('measured', 6.0, 48)], 48)\n"
        "morphology_of_image(img); central_object_fraction(img)\n"
        "write_png(montage(paths, title='t'), os.path.join(tempfile.mkdtemp(), 'm.png'))\n"
        "from core.features.extract import load_model, extract_features\n"
        "extract_features(paths, load_model('galaxy_duo', use_gpu=False), workers=1)\n"
        "print('cv2' in sys.modules and sys.modules['cv2'] is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
