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
    assert cat.numeric_columns() == ["redshift"]  # an id is text, never a number (issue 18, item 8)
    assert cat.text_columns() == ["GalaxyID", "morph"]
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


def _project_with_run(tmp_path, names):
    """A folder of (empty) images, its default store with one run over them, closed again."""
    from core.store.database import ProjectStore
    from core.store.layout import default_store_dir

    folder = tmp_path / "images"
    folder.mkdir()
    paths = [folder / f"{n}.png" for n in names]
    for path in paths:
        path.write_bytes(b"")
    store = ProjectStore(default_store_dir(folder), root=folder)
    ids = store.add_images(paths)
    store.save_run("kmeans", "galaxy_cnn", 2, {"seed": 0}, [], [ids[str(p)] for p in paths],
                   np.arange(len(paths)) % 2, np.full(len(paths), 0.9), np.zeros((len(paths), 2)))
    store.close()
    return folder, [str(p) for p in paths]


def test_an_18_digit_sdss_objid_stays_a_string_through_join_and_export(tmp_path):
    """Issue 18, item 8: ``cat_objid = 5.877229839e+17`` destroyed the id; ids stay strings, digit for digit."""
    import csv
    import json

    from core.catalog.join import join_catalogue
    from core.project import Project

    folder, paths = _project_with_run(tmp_path, ["587722982265585737", "587722982265585738", "nomatch"])
    cat = tmp_path / "sdss.csv"
    cat.write_text("objid,specobjid,z,class\n587722982265585737,299489677444933632,0.05,GALAXY\n"
                   "587722982265585738,299489677444933633,0.11,QSO\n")
    join, columns = join_catalogue(paths, cat, "id")
    assert join.id_column == "objid" and join.matched == 2
    assert list(columns["cat_objid"]) == ["587722982265585737", "587722982265585738", ""]
    assert list(columns["cat_specobjid"]) == ["299489677444933632", "299489677444933633", ""]  # long digits: text
    np.testing.assert_allclose(columns["cat_z"], [0.05, 0.11, np.nan])
    project = Project.open(folder)
    try:
        project.set_join(join, columns)
        out, sidecar = project.export(tmp_path / "out.csv")
    finally:
        project.close()
    rows = list(csv.DictReader(open(out)))
    assert [r["cat_objid"] for r in rows] == ["587722982265585737", "587722982265585738", ""]
    assert [r["cat_specobjid"] for r in rows][:2] == ["299489677444933632", "299489677444933633"]
    assert [r["cat_class"] for r in rows] == ["GALAXY", "QSO", ""] and rows[0]["cat_z"] == "0.05"
    assert json.loads(sidecar.read_text())["join"]["id_column"] == "objid"


def test_a_join_lasts_the_project_reopens_with_it_and_the_sidecar_records_it(tmp_path):
    import csv
    import hashlib
    import json

    from core.catalog.join import join_catalogue
    from core.project import Project

    folder, paths = _project_with_run(tmp_path, ["a", "b", "c"])
    cat = tmp_path / "cat.csv"
    cat.write_text("id,mass,kind\nc,3.5,E\na,1.5,S\n")
    project = Project.open(folder)
    try:
        project.set_join(*join_catalogue(project.paths, cat, "id"))
        first, _ = project.export(tmp_path / "first.csv")
    finally:
        project.close()
    cat.unlink()  # the project keeps the values, not only the recipe
    project = Project.open(folder)
    try:
        assert project.join is not None and project.join.matched == 2
        np.testing.assert_allclose(project.catalog_columns["cat_mass"], [1.5, np.nan, 3.5])
        assert list(project.catalog_columns["cat_kind"]) == ["S", "", "E"]
        second, sidecar = project.export(tmp_path / "second.csv")
    finally:
        project.close()
    header = open(first).readline()
    assert header == open(second).readline() and "cat_mass" in header and "cat_kind" in header
    assert [r for r in csv.DictReader(open(first))] == [r for r in csv.DictReader(open(second))]
    record = json.loads(sidecar.read_text())["join"]
    assert record["catalogue"] == str(cat.resolve()) and record["by"] == "id" and record["id_column"] == "id"
    assert record["sha256"] == hashlib.sha256(b"id,mass,kind\nc,3.5,E\na,1.5,S\n").hexdigest()
    assert record["columns"] == ["mass", "id", "kind"] and record["matched"] == 2


def test_a_join_records_itself_in_the_store_when_asked_and_not_once_cancelled(tmp_path):
    """The app's join job writes the store's record itself (prepare_join(record=True), a connection of its own):
    on the GUI thread it took 133 ms at 200,000 galaxies.  A cancel asked before the write leaves the store as
    it was; set_join(recorded=True) keeps the join without writing it again."""
    import json

    import pytest

    from core.catalog.join import JOIN_SETTING
    from core.progress import Cancelled
    from core.project import Project

    folder, _ = _project_with_run(tmp_path, ["a", "b", "c"])
    cat = tmp_path / "cat.csv"
    cat.write_text("id,mass\nc,3.5\na,1.5\n")
    project = Project.open(folder)
    try:
        with pytest.raises(Cancelled):
            project.prepare_join(cat, "id", record=True, should_stop=lambda: True)
        assert project.store.setting(JOIN_SETTING) is None
        join, columns, setting = project.prepare_join(cat, "id", record=True)
        assert project.store.setting(JOIN_SETTING) == json.loads(setting)
        writes = []
        real = project.store.set_setting
        project.store.set_setting = lambda *a, **k: writes.append(a) or real(*a, **k)
        project.set_join(join, columns, recorded=True)
        assert writes == [] and project.join is join
    finally:
        project.close()
    project = Project.open(folder)
    try:
        np.testing.assert_allclose(project.catalog_columns["cat_mass"], [1.5, np.nan, 3.5])
    finally:
        project.close()


def test_a_joins_record_is_encoded_in_pieces_the_window_gets_its_turn_between(tmp_path, monkeypatch):
    """The JSON encoder holds the GIL for the whole of one call: a million galaxies' join record, one call, kept the
    window from answering for 3.2 s though the job ran on its own thread.  It is encoded in calls of at most
    JSON_PIECE entries, to the same text; prepare_join encodes its record so."""
    import json

    import core.project_join as project_join
    from core.project import Project

    rng = np.random.default_rng(2)
    n = 25_000
    value = {"version": 1, "join": {"catalogue": "c.csv", "columns": ["a", "b"], "nested": {}},
             "values": {"cat_a": {f"k{i}": float(rng.normal()) for i in range(n)},
                        "cat_b": {f"k{i}": "E" for i in range(0, n, 2)}, "cat_c": {}}}
    sizes = []
    real = json.dumps
    monkeypatch.setattr(json, "dumps", lambda obj, *a, **k: sizes.append(len(obj) if isinstance(obj, dict) else 0)
                        or real(obj, *a, **k))
    text = project_join.json_in_pieces(value)
    assert max(sizes) <= project_join.JSON_PIECE and len(sizes) > 4  # one call of 25,000 entries before
    monkeypatch.setattr(json, "dumps", real)
    assert text == json.dumps(value)
    folder, _ = _project_with_run(tmp_path, ["a", "b", "c"])
    cat = tmp_path / "cat.csv"
    cat.write_text("id,mass\nc,3.5\na,1.5\n")
    encoded = []
    monkeypatch.setattr(project_join, "json_in_pieces", lambda v: encoded.append(v) or real(v))
    project = Project.open(folder)
    try:
        _, _, setting = project.prepare_join(cat, "id")
    finally:
        project.close()
    assert len(encoded) == 1 and json.loads(setting) == encoded[0]


def test_parse_radius_reads_astropy_angles():
    from core.catalog.positions import parse_radius

    assert parse_radius("2arcsec") == 2.0 and parse_radius("2") == 2.0
    assert abs(parse_radius("0.5 arcmin") - 30.0) < 1e-9
    for bad in ("2 kg", "-1arcsec", "two"):
        try:
            parse_radius(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
