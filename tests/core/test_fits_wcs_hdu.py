"""The sky position must come from the header of the HDU whose pixels are read.

core/images/fits.py read_fits_hdu reads the first *image* HDU with 2 or more non-degenerate axes;
core/catalog/join.py wcs_centre takes the first HDU whose NAXIS >= 2, which may be a binary table
(NAXIS is always 2 for a BINTABLE) or an image with a size-1 axis that the reader skips.
"""

import numpy as np
import pytest
from astropy.io import fits

from core.catalog.join import wcs_centre
from core.images.io import read_image


def _wcs(ra):
    h = fits.Header()
    h.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=ra, CRVAL2=2.0, CRPIX1=32.5, CRPIX2=32.5,
             CDELT1=-1e-4, CDELT2=1e-4)
    return h


def _galaxy():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:64, :64]
    return (1000 * np.exp(-((x - 32) ** 2 + (y - 30) ** 2) / 50) + rng.normal(100, 5, (64, 64))).astype(np.float32)


def _table_first():
    table = fits.BinTableHDU.from_columns([fits.Column(name="flag", format="J", array=np.arange(3))])
    return fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(_galaxy(), _wcs(150.0))])


def _degenerate_primary():
    # a 1 x 64 primary (a row profile, a strip) the reader skips; the galaxy is in the extension
    return fits.HDUList([fits.PrimaryHDU(np.zeros((1, 64), np.float32), _wcs(10.0)),
                         fits.ImageHDU(_galaxy(), _wcs(150.0))])


@pytest.mark.parametrize("make", [_table_first, _degenerate_primary], ids=["table-before-image", "1xN-primary"])
def test_the_position_is_the_centre_of_the_image_that_is_read(tmp_path, make):
    path = tmp_path / "cutout.fits"
    make().writeto(path)
    assert read_image(path).shape == (64, 64, 3)  # the galaxy in the ImageHDU is what gets clustered
    # observed: None (table first: the BINTABLE header has no WCS) and (10.0, ~2.0) (1xN primary's WCS)
    got = wcs_centre(path)
    assert got is not None
    assert got == pytest.approx((150.0, 2.0), abs=1e-6)
