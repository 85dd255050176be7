"""``galaxy-sorter-cli cluster ... --join``: a catalogue that cannot be joined is refused in one line, exit status 2."""

from __future__ import annotations

import json
import shutil

from core.cli import main


def test_cli_refuses_an_unreadable_join_catalogue_before_clustering(tmp_path, sample_folder, capsys):
    """Exploratory QA: a cell over 128 KiB gave "unexpected Error: field larger than field limit ... please report
    it", exit 1, after the clustering; an unclosed quote joined one row of ten."""
    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    big = tmp_path / "bigfield.csv"
    big.write_text("id,note\ng0," + "a" * 200_000 + "\ng1,b\n")
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('id,name\ng0,"oops\n' + "".join(f"g{i},n{i}\n" for i in range(1, 10)))
    for cat, said in ((big, "line 2: a field is longer than 131,072 characters"),
                      (unclosed, "line 2: a quote is not closed")):
        code = main(["cluster", str(folder), "--clusters", "3", "--join", str(cat), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and f"--join: {cat}, {said}" in err and "unexpected" not in err, err
        assert not (folder / ".galaxy-sorter").exists()  # refused before any work


def test_cli_writes_a_fits_catalogue_with_a_joined_column_named_over_68_characters(tmp_path, sample_folder, capsys):
    """Exploratory QA: "unexpected AssertionError: Column name must be a string able to fit in a single FITS card
    ... please report it", after the clustering, and no catalogue."""
    from astropy.table import Table

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    names = sorted(p.stem for p in folder.rglob("*.png"))
    long = "y" * 90
    cat = tmp_path / "long.csv"
    cat.write_text(f"id,{long}\n" + "".join(f"{n},{i}\n" for i, n in enumerate(names)))
    out = tmp_path / "clusters.fits"
    code = main(["cluster", str(folder), "--clusters", "3", "--join", str(cat), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    table = Table.read(out)
    [short] = [c for c in table.colnames if c.startswith("cat_yyy")]
    assert len(short) <= 68 and table[short].description.startswith(f"full name cat_{long}")
    assert table[short][list(table["id"]).index(names[4])] == 4


def test_cli_refuses_a_join_that_matches_no_image_before_clustering_and_keeps_the_join(tmp_path, sample_folder,
                                                                                       capsys):
    """Exploratory QA: a join matching nothing wrote a catalogue of empty cat_* columns and replaced the project's join."""
    from core.project import Project

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    names = sorted(p.stem for p in folder.rglob("*.png"))
    good = tmp_path / "good.csv"
    good.write_text("id,z\n" + "".join(f"{n},{i}\n" for i, n in enumerate(names)))
    assert main(["cluster", str(folder), "--clusters", "3", "--join", str(good), "--quiet",
                 "--out", str(tmp_path / "first.csv")]) == 0
    capsys.readouterr()
    other = tmp_path / "other.csv"
    other.write_text("id,z\n" + "".join(f"X{i}.png,{i}\n" for i in range(len(names))))
    out = tmp_path / "second.csv"
    code = main(["cluster", str(folder), "--clusters", "3", "--join", str(other), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"--join: no image matched other.csv: none of the {len(names)} image ids" in err, err
    assert not out.exists()
    project = Project.open(folder)
    try:
        assert project.join.catalogue == str(good.resolve()) and project.join.matched == len(names)
    finally:
        project.close()


def test_a_sky_joins_ra_and_dec_are_exported_with_unit_and_ucd_degrees_only(tmp_path, capsys):
    """Exploratory QA: the catalogue's RA/Dec that a sky join matched on came out of FITS and VOTable without a
    unit or UCD, so TOPCAT and Aladin did not take them for a position; a sexagesimal text column is not degrees."""
    from astropy.table import Table

    from core.project import Project
    from tests.helpers import write_wcs_galaxies

    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 8)
    cat = tmp_path / "sky.csv"
    cat.write_text("RAJ2000,DEJ2000,z\n" + "".join(f"{150.0 + i},-2.0,{i / 10}\n" for i in range(0, 8, 2)))
    out = tmp_path / "clusters.fits"
    code = main(["cluster", str(folder), "--clusters", "2", "--join", str(cat), "--by", "sky", "--radius", "1arcsec",
                 "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    project = Project.open(folder)  # the app's export, of the join the CLI kept in the project
    try:
        project.export(tmp_path / "clusters.vot", "votable")
        for path in (out, tmp_path / "clusters.vot"):
            table = Table.read(path)
            for name, ucd, centre in (("cat_RAJ2000", "pos.eq.ra", "ra"), ("cat_DEJ2000", "pos.eq.dec", "dec")):
                assert str(table[name].unit) == "deg" and table[name].meta["ucd"] == ucd, (path, name)
                assert "joined catalogue" in table[name].description
                assert table[centre].meta["ucd"] == f"{ucd};meta.main"  # the image centre stays the main position
            assert "ucd" not in table["cat_z"].meta and table["cat_z"].unit is None
        _folder, sidecar = project.export(tmp_path / "clusters.parquet", "parquet-dataset")
        said = json.loads(sidecar.read_text())["columns"]  # a folder's files keep no UCD: its sidecar says them
        assert said["cat_RAJ2000"]["ucd"] == "pos.eq.ra" and said["cat_DEJ2000"]["unit"] == "deg"
        # positions the catalogue wrote in sexagesimal are joined, and exported as that text: no unit, no UCD
        sexagesimal = tmp_path / "sexagesimal.csv"
        sexagesimal.write_text("ra,dec,z\n" + "".join(f"10:{4 * i:02d}:00.0,-02:00:00,{i}\n" for i in range(0, 8, 2)))
        project.set_join(*project.prepare_join(sexagesimal, "sky", radius_arcsec=1.0))
        assert project.join.matched == 4
        project.export(tmp_path / "sexagesimal.vot", "votable")
        table = Table.read(tmp_path / "sexagesimal.vot")
        assert table["cat_ra"].unit is None and "ucd" not in table["cat_ra"].meta
        assert "sexagesimal" in table["cat_ra"].description
        assert sorted(str(v) for v in table["cat_ra"] if str(v) not in ("", "--")) == [
            "10:00:00.0", "10:08:00.0", "10:16:00.0", "10:24:00.0"]
    finally:
        project.close()


def test_cli_sky_join_skips_catalogue_rows_without_a_usable_position_and_says_so(tmp_path, capsys):
    """Exploratory QA: a Dec of 95 in one row stopped the sky join ("Latitude angle(s) must be within -90 deg");
    the other rows are joined, the skipped ones counted and named by line, in the output and the sidecar."""
    from tests.helpers import write_wcs_galaxies

    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 6)
    cat = tmp_path / "sky.csv"
    cat.write_text("ra,dec,z\n" + "".join(f"{150.0 + i},{95 if i == 2 else -2.0},{i}\n" for i in range(6)))
    out = tmp_path / "clusters.csv"
    code = main(["cluster", str(folder), "--clusters", "2", "--join", str(cat), "--by", "sky", "--out", str(out),
                 "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert ("joined sky.csv by sky: 5 of 6 images matched, 3 column(s) as cat_*; 1 catalogue row(s) skipped, "
            "with no usable position: line 4: Dec '95' is outside [-90, 90]") in text, text
    join = json.loads(out.with_name(out.name + ".json").read_text())["join"]
    assert join["skipped_rows"] == 1 and join["skipped"] == ["line 4: Dec '95' is outside [-90, 90]"]
    cat.write_text("ra,dec,z\n150,95,1\n151,-90.5,2\n")  # no row to join: refused before the clustering
    code = main(["cluster", str(folder), "--clusters", "2", "--join", str(cat), "--by", "sky", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--join: none of its 2 rows has a position a sky join can use" in err, err


def test_cli_joins_scores_and_exports_a_galaxy_of_band_files_by_its_base_name(tmp_path, capsys):
    """Exploratory QA: ``cluster --join`` refused a catalogue naming band-file galaxies ngc0.. ("no image matched:
    none of the 6 image ids (such as 'ngc0_i'...)") and ``--truth`` scored none of them; the export said ngc0_i."""
    import csv

    from tests.helpers import write_band_galaxies

    folder = tmp_path / "bands"
    write_band_galaxies(folder, 6)
    cat = tmp_path / "ngc.csv"
    cat.write_text("id,mass\n" + "".join(f"ngc{i},{i}\n" for i in range(6)))
    truth = tmp_path / "truth.csv"  # either spelling: the galaxy, or the band file it is listed by
    truth.write_text("id,class\n" + "".join(f"ngc{i}{'_i' if i > 2 else ''},{'ab'[i % 2]}\n" for i in range(6)))
    out = tmp_path / "clusters.csv"
    code = main(["cluster", str(folder), "--clusters", "2", "--join", str(cat), "--truth", str(truth),
                 "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "joined ngc.csv by id: 6 of 6 images matched" in text.out and "against truth.csv (6 labelled" in text.out
    rows = list(csv.DictReader(open(out)))
    assert {r["id"]: float(r["cat_mass"]) for r in rows} == {f"ngc{i}": i for i in range(6)}
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in rows) == [f"ngc{i}_i.fits" for i in range(6)]


def test_cli_join_says_which_images_share_a_catalogue_row(tmp_path, capsys):
    """Exploratory QA: ``ngc0.png`` beside the band set ``ngc0_g/_r/_i.fits``, and ``sub/ngc1.png`` beside the band
    set ``ngc1_*``, share the ids ``ngc0`` and ``ngc1``: each pair got one catalogue row with nothing said, so a mass
    measured for one galaxy was exported for two. The join now counts and names them, in its line and the sidecar."""
    from PIL import Image

    from tests.helpers import blob, write_band_galaxies

    folder = tmp_path / "bands"
    write_band_galaxies(folder, 4)
    Image.fromarray(blob(4, size=48, seed=7)).save(folder / "ngc0.png")
    (folder / "sub").mkdir()
    Image.fromarray(blob(6, size=48, seed=8)).save(folder / "sub" / "ngc1.png")
    cat = tmp_path / "ngc.csv"
    cat.write_text("id,mass\n" + "".join(f"ngc{i},{i}\n" for i in range(4)))
    out = tmp_path / "clusters.csv"
    code = main(["cluster", str(folder), "--clusters", "2", "--join", str(cat), "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "joined ngc.csv by id: 6 of 6 images matched" in text.out, text.out
    assert ("4 image(s) share their catalogue row with another image, so its values may be only one's: "
            "bands/ngc0.png = bands/ngc0_i.fits (line 2); bands/ngc1_i.fits = sub/ngc1.png (line 3)") in text.out, text.out
    join = json.loads(out.with_name(out.name + ".json").read_text())["join"]
    assert join["shared"] == 4 and len(join["shared_examples"]) == 2
