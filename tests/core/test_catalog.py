"""Sky positions from FITS WCS and catalogue joins by id and by position."""

from __future__ import annotations

import numpy as np

from core.catalog.join import join_by_id, join_by_sky, joined_columns, load_catalog, sky_positions, wcs_centre


def _fits_with_wcs(path, ra: float, dec: float, n: int = 41):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.zeros((n, n), np.float32))
    h = hdu.header
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRPIX1"], h["CRPIX2"] = 1.0, 1.0  # reference pixel in a corner, so the centre must be computed
    h["CRVAL1"], h["CRVAL2"] = ra, dec
    h["CDELT1"], h["CDELT2"] = -1.0 / 3600, 1.0 / 3600  # 1 arcsec pixels, RA grows to the left
    hdu.writeto(path)
    return path


def test_wcs_centre_is_the_image_centre_not_the_reference_pixel(tmp_path):
    path = _fits_with_wcs(tmp_path / "a.fits", 150.0, 2.0)
    ra, dec = wcs_centre(path)
    # 20 pixels of 1 arcsec from the reference pixel on both axes (FITS pixels count from 1)
    assert abs(dec - (2.0 + 20 / 3600)) < 1e-6
    assert abs((ra - 150.0) * 3600 * np.cos(np.radians(dec)) + 20) < 1e-3


def test_no_wcs_gives_nan(tmp_path, sample_folder):
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(tmp_path / "plain.fits")
    png = str(next(sample_folder.rglob("*.png")))
    assert wcs_centre(tmp_path / "plain.fits") is None and wcs_centre(png) is None
    pos = sky_positions([str(_fits_with_wcs(tmp_path / "b.fits", 10.0, -5.0)), str(tmp_path / "plain.fits"), png])
    assert np.isfinite(pos[0]).all() and np.isnan(pos[1:]).all()


def test_join_by_id_and_numeric_columns(tmp_path):
    (tmp_path / "cat.csv").write_text("GalaxyID,redshift,morph\n101,0.05,E\n102,,S\n103,0.2,S\n")
    cat = load_catalog(tmp_path / "cat.csv")
    assert cat.numeric_columns() == ["GalaxyID", "redshift"]
    index = join_by_id(["x/103.jpg", "x/999.jpg", "x/101.jpg"], cat)
    np.testing.assert_array_equal(index, [2, -1, 0])
    cols = joined_columns(cat, index, ["redshift"])
    np.testing.assert_allclose(cols["redshift"], [0.2, np.nan, 0.05])


def test_join_by_sky_respects_the_radius():
    ra = np.array([10.0, 10.0, 200.0, np.nan])
    dec = np.array([20.0, 20.01, -30.0, 0.0])
    cat_ra = np.array([200.0 + 1.0 / 3600, 10.0, 50.0])
    cat_dec = np.array([-30.0, 20.0 + 0.5 / 3600, 0.0])
    index, sep = join_by_sky(ra, dec, cat_ra, cat_dec, radius_arcsec=2.0)
    np.testing.assert_array_equal(index, [1, -1, 0, -1])  # the second is 36 arcsec away
    assert abs(sep[0] - 0.5) < 1e-3 and abs(sep[2] - np.cos(np.radians(30.0))) < 1e-3
    wide, _ = join_by_sky(ra, dec, cat_ra, cat_dec, radius_arcsec=60.0)
    assert wide[1] == 1


def test_the_one_catalogue_path_writes_joined_columns_by_path(tmp_path):
    """Joined columns go through core.catalog.export.export_catalogue (the app's and the CLI's one path)."""
    import csv
    import json

    from core.catalog.export import export_catalogue
    from core.store.database import ProjectStore

    store = ProjectStore(tmp_path / "store")
    ids = store.add_images([tmp_path / "a.png", tmp_path / "b.png"])
    run = store.save_run("kmeans", "galaxy_cnn", 2, {"seed": 0}, [], list(ids.values()), np.array([0, 1]),
                         np.array([0.9, 0.8]), np.zeros((2, 2)))
    try:
        path, sidecar = export_catalogue(store, run, tmp_path / "cat.csv",
                                         columns={"cat_z": {str(tmp_path / "b.png"): 0.25}})
        plain, _ = export_catalogue(store, run, tmp_path / "plain.csv")
    finally:
        store.close()
    rows = list(csv.DictReader(open(path)))
    assert [r["cat_z"] for r in rows] == ["", "0.25"]  # no match: an empty cell, never 0
    assert json.loads(sidecar.read_text())["joined_columns"] == ["cat_z"]
    assert "cat_z" not in open(plain).readline() and "ra" not in open(plain).readline().split(",")  # no FITS
