"""Where each image is on the sky: the centre of a FITS image's celestial WCS, in ICRS.

What the catalogue's ``ra`` and ``dec`` columns, a join by sky position, the
DS9 region file (written in ``icrs``) and the preview's "RA, Dec" line read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from core.images.fits import image_hdu
from core.images.io import FITS_SUFFIXES


def wcs_centre(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """RA and Dec (degrees, ICRS) of the centre of a FITS image, or None.

    None when the file is not FITS, has no image HDU or its header has no
    celestial WCS.  Only the header is read, of the HDU the pixels are read from
    (:func:`core.images.fits.image_hdu`).  A WCS in another frame (Galactic,
    FK4 B1950, FK5 of another equinox) is converted to ICRS: its own longitude
    and latitude were written as RA and Dec (150 and 2 for a galaxy at l = 150,
    b = 2, which is at RA 63.4, Dec 53.9), and None when it cannot be.
    """
    if not str(path).lower().endswith(FITS_SUFFIXES):
        return None
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = image_hdu(hdul)
            if hdu is None:
                return None
            header = hdu.header.copy()
    except Exception:  # unreadable files are reported where the image is read
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except Exception:
            return None
    if not wcs.has_celestial or wcs.naxis != 2:
        return None
    nx, ny = int(header.get("NAXIS1", 0)), int(header.get("NAXIS2", 0))
    centre = (nx - 1) / 2.0, (ny - 1) / 2.0
    if _icrs_already(wcs):
        ra, dec = wcs.pixel_to_world_values(*centre)
    else:  # astropy's frame from the header, then to ICRS (a few ms a file; most headers need none)
        try:
            sky = wcs.pixel_to_world(*centre).icrs
            ra, dec = sky.ra.deg, sky.dec.deg
        except Exception:  # a frame astropy cannot turn into ICRS: no position rather than a wrong one
            return None
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return None
    return float(ra) % 360.0, float(dec)


def _icrs_already(wcs) -> bool:  # wcs: astropy.wcs.WCS
    """Whether a celestial WCS is RA and Dec in ICRS, or FK5 J2000 (within 0.02 arcsec of it): no conversion."""
    ctype = [str(c).upper() for c in wcs.wcs.ctype]
    system = str(wcs.wcs.radesys or "").strip().upper()
    equinox = float(wcs.wcs.equinox)
    return (ctype[0].startswith("RA") and ctype[1].startswith("DEC") and system in ("", "ICRS", "FK5")
            and (system != "FK5" or not np.isfinite(equinox) or equinox == 2000.0))


def sky_positions(paths: Sequence[str], progress: Callable[[float, str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """RA and Dec of every image's centre, of shape (n_images, 2); NaN where there is no WCS."""
    from core.progress import Cancelled

    out = np.full((len(paths), 2), np.nan)
    for i, p in enumerate(paths):
        if should_stop is not None and should_stop():
            raise Cancelled()
        centre = wcs_centre(p)
        if centre is not None:
            out[i] = centre
        if progress is not None and (i % 50 == 0 or i == len(paths) - 1):
            progress((i + 1) / len(paths), f"Reading WCS {i + 1}/{len(paths)}")
    return out
