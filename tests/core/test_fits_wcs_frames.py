"""the ra/dec of an image (catalogue columns "ICRS", DS9 regions written in `icrs`) must be ICRS.

core/catalog/tables.py describes ``ra`` as "right ascension of the image centre (FITS WCS), ICRS" and
core/catalog/regions.py writes the points under ``icrs``.  A header in Galactic (GLON/GLAT) or
FK4 B1950 coordinates must be converted to ICRS (or give no position), never copied as if ICRS.
"""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from core.catalog.join import wcs_centre


def _write(path, ctype1, ctype2, **extra):
    h = fits.Header()
    h.update(CTYPE1=ctype1, CTYPE2=ctype2, CRVAL1=150.0, CRVAL2=2.0, CRPIX1=32.5, CRPIX2=32.5,
             CDELT1=-1e-4, CDELT2=1e-4, CUNIT1="deg", CUNIT2="deg", **extra)
    data = np.random.default_rng(0).normal(100, 5, (64, 64)).astype(np.float32)
    fits.PrimaryHDU(data, h).writeto(path)


@pytest.mark.parametrize("ctypes, extra, frame", [
    (("GLON-TAN", "GLAT-TAN"), {}, "galactic"),
    (("RA---TAN", "DEC--TAN"), {"RADESYS": "FK4", "EQUINOX": 1950.0}, "fk4"),
])
def test_the_centre_of_a_non_icrs_wcs_is_given_in_icrs_or_not_at_all(tmp_path, ctypes, extra, frame):
    from astropy.wcs import WCS
    from astropy.wcs.utils import wcs_to_celestial_frame

    path = tmp_path / "cutout.fits"
    _write(path, *ctypes, **extra)
    header = fits.getheader(path)
    true = WCS(header).pixel_to_world(31.5, 31.5).icrs  # the image centre, converted by astropy
    assert wcs_to_celestial_frame(WCS(header)).name == frame
    got = wcs_centre(path)
    # observed: (150.0, 2.0) -- the header's own longitude/latitude, labelled ICRS RA/Dec
    if got is not None:
        sep = SkyCoord(got[0], got[1], unit="deg", frame="icrs").separation(true).arcsec
        assert sep < 1.0, f"{frame} centre given as ICRS ({got}); true ICRS {true.ra.deg:.4f}, {true.dec.deg:.4f}"
