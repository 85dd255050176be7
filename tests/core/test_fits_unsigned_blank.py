"""BLANK pixels of an unsigned 16-bit FITS (BITPIX=16, BZERO=32768) must be treated as sky, as for int16.

docs/user-guide.md ("FITS files: what the model sees") promises "BLANK and NaN pixels treated as sky".
"""

import numpy as np
from astropy.io import fits

from core.images.fits import read_fits_planes
from core.images.io import read_image


def _galaxy():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:64, :64]
    return np.round(1000 * np.exp(-((x - 32) ** 2 + (y - 30) ** 2) / 50) + rng.normal(1000, 20, (64, 64)))


def test_blank_pixels_of_unsigned_16_bit_data_become_nan_and_read_as_sky(tmp_path):
    flux = _galaxy()
    stored = flux.astype(np.uint16)
    stored[:6] = 65535  # the BLANK value: stored on disk as int16 32767 (BZERO = 32768)
    hdu = fits.PrimaryHDU(stored)  # astropy writes BITPIX=16, BZERO=32768
    hdu.header["BLANK"] = 32767  # BLANK is the value *on disk* (FITS standard 4.4.2.5)
    hdu.writeto(tmp_path / "u16.fits")
    assert fits.getheader(tmp_path / "u16.fits")["BZERO"] == 32768

    as_float = flux.astype(np.float32)
    as_float[:6] = np.nan
    fits.PrimaryHDU(as_float).writeto(tmp_path / "f32.fits")

    planes = read_fits_planes(tmp_path / "u16.fits")[0]
    # observed: 0 NaNs, the blank rows read as 65535 (the brightest pixels of the image)
    assert int(np.isnan(planes).sum()) == 6 * 64
    # the same galaxy, whatever its storage: blank rows are sky, not a saturated bar
    assert np.array_equal(read_image(tmp_path / "u16.fits"), read_image(tmp_path / "f32.fits"))
