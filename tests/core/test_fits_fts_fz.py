"""fpack appends ``.fz`` to any FITS name; ``.fits.fz`` and ``.fit.fz`` are read, and ``.fts.fz`` now too (it was not).

core/images/io.py FITS_SUFFIXES lists ``.fts`` and ``.fts.gz`` but not ``.fts.fz``: a folder of fpacked
``.fts`` files is scanned as holding no image (not even listed as skipped), and such a file given to
read_image goes to the raster reader (Pillow's FITS plugin), which decodes the compressed table as a picture.
"""

import numpy as np
from astropy.io import fits

from core.images.io import read_image, scan_images


def _write(path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:64, :64]
    galaxy = (1000 * np.exp(-((x - 32) ** 2 + (y - 30) ** 2) / 50) + rng.normal(100, 5, (64, 64))).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(galaxy)]).writeto(path)


def test_an_fpacked_fts_file_is_scanned_and_read_as_fits(tmp_path):
    _write(tmp_path / "a.fts.fz")
    _write(tmp_path / "b.fits.fz")
    found, skipped = scan_images(tmp_path)
    # observed: only b.fits.fz is found; a.fts.fz is neither found nor skipped
    assert sorted(p.name for p in found) == ["a.fts.fz", "b.fits.fz"]
    # observed: a (64, 32, 3) picture -- Pillow's FITS plugin decoding the RICE-compressed binary table
    assert np.array_equal(read_image(tmp_path / "a.fts.fz"), read_image(tmp_path / "b.fits.fz"))
