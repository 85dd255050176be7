"""End-to-end: the CLI on the synthetic sample and on real Galaxy Zoo images."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys

import pytest

from core.catalog.truth import load_truth
from core.cli import main


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_cli_clusters_the_sample_with_dec(tmp_path, sample_folder, capsys):
    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    (folder / "not_an_image.jpg").write_text("hello")
    out = tmp_path / "clusters.csv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--clusters", "3", "--out", str(out),
                 "--truth", str(folder / "labels.csv"), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    rows = _rows(out)
    assert len(rows) == 30
    assert {r["label_source"] for r in rows} == {"model"}
    assert "not_an_image.jpg" in text and "1 file(s) skipped" in text
    ari = float(text.split("ARI ")[1].split()[0])
    assert ari > 0.8, text
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["method"] == "dec" and len(side["model"]["sha256"]) == 64
    assert side["skipped"][0]["path"].endswith("not_an_image.jpg")
    # second run hits the feature cache in the project store
    assert (folder / ".galaxy-sorter" / "project.sqlite").exists()


def test_cli_reports_missing_folder_and_models(tmp_path, capsys, monkeypatch):
    assert main(["cluster", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "a.png").write_bytes(b"")
    monkeypatch.setenv("GALAXY_SORTER_MODELS", str(tmp_path / "no-models"))
    assert main(["cluster", str(tmp_path)]) == 2
    assert "scripts/dev.sh setup" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_on_real_galaxies_with_truth(tmp_path, kaggle, capsys):
    truth = load_truth(kaggle / "labels.csv")
    ell = [k for k, v in truth.items() if v == "elliptical"][:20]
    spi = [k for k, v in truth.items() if v == "spiral"][:20]
    folder = tmp_path / "real"
    folder.mkdir()
    for gid in ell + spi:
        os.symlink(kaggle / "images" / f"{gid}.jpg", folder / f"{gid}.jpg")
    out = tmp_path / "real.csv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "2",
                 "--out", str(out), "--truth", str(kaggle / "labels.csv"), "--project-dir", str(tmp_path / "store"),
                 "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "against labels.csv (40 labelled images)" in text
    assert len(_rows(out)) == 40


def test_store_errors_are_told_apart_by_sqlite_code_not_by_words(tmp_path):
    import sqlite3

    from core.cli import error_line

    def operational(text: str, code: int) -> sqlite3.OperationalError:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # as sqlite3 sets it (Python 3.11+)
        return exc

    assert "disk is full" in error_line(operational("anything", sqlite3.SQLITE_FULL))[0]
    assert "busy in another program" in error_line(operational("anything", sqlite3.SQLITE_BUSY | (2 << 8)))[0]
    # a message that merely contains the word is not taken for a full disk
    assert "disk is full" not in error_line(operational("no such table: full", sqlite3.SQLITE_ERROR))[0]


def test_cli_joins_a_catalogue_keeps_it_in_the_project_and_records_it(tmp_path, sample_folder, capsys):
    """``cluster ... --join CAT --by id``: cat_* columns in the catalogue, the join in the sidecar and the project."""
    from core.project import Project

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    names = sorted(p.stem for p in folder.rglob("*.png"))
    cat = tmp_path / "sdss.csv"
    cat.write_text("objid,z\n" + "".join(f"{n},{i / 100}\n" for i, n in enumerate(names[:10])))
    out = tmp_path / "clusters.ecsv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
                 "--out", str(out), "--format", "ecsv", "--join", str(cat), "--by", "id", "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"joined sdss.csv by id: 10 of {len(names)} images matched" in text
    from astropy.table import Table

    table = Table.read(out, format="ascii.ecsv")
    z = {i: v for i, v in zip(table["id"], table["cat_z"].filled(float("nan")) if hasattr(table["cat_z"], "filled")
                             else table["cat_z"])}
    assert z[names[3]] == 0.03 and z[names[-1]] != z[names[-1]]  # unmatched: NaN
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["join"]["by"] == "id" and side["join"]["id_column"] == "objid" and len(side["join"]["sha256"]) == 64
    assert side["joined_columns"] == ["cat_z", "cat_objid"]
    project = Project.open(folder)  # the app reopens the folder with the join
    try:
        assert project.join is not None and project.join.catalogue == str(cat.resolve())
        assert int((project.catalog_columns["cat_objid"] != "").sum()) == 10
    finally:
        project.close()


def test_cli_refuses_a_fits_catalogue_inside_the_image_folder_before_any_work(tmp_path, sample_folder, capsys):
    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    code = main(["cluster", str(folder), "--format", "fits", "--out", str(folder / "cat.fits"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "would be read as an image" in err and not (folder / ".galaxy-sorter").exists()
    code = main(["cluster", str(folder), "--join", str(tmp_path / "missing.csv"), "--quiet"])
    assert code != 0 and "no such file" in capsys.readouterr().err


def test_cli_takes_the_format_from_the_out_name_and_refuses_a_name_of_another_format(tmp_path, sample_folder, capsys):
    """Exploratory QA: ``--format fits --out x.csv`` wrote a FITS table named x.csv, and ``--out x.fits`` alone a CSV
    file named x.fits (the next scan of that folder listed it as an unreadable image), both without a word."""
    from astropy.table import Table

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    code = main(["cluster", str(folder), "--format", "fits", "--out", str(tmp_path / "x.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "x.csv names a csv catalogue, not a fits one: name it x.fits, or leave out --format" in err
    assert not (tmp_path / "x.csv").exists() and not (folder / ".galaxy-sorter").exists()  # refused before any work
    out = tmp_path / "x.fits"
    assert main(["cluster", str(folder), "--method", "kmeans", "--clusters", "3", "--out", str(out), "--quiet"]) == 0
    assert len(Table.read(out)) == len(list(folder.glob("*.png")))  # a FITS table, not a CSV under a FITS name
    assert json.loads((tmp_path / "x.fits.json").read_text())["catalogue"]["format"] == "fits"


def test_progress_bar_writes_to_the_stderr_of_the_moment(monkeypatch):
    """The bar used to bind ``sys.stderr`` when the module was imported, so a replaced stream never saw it."""
    import io

    from core.cli import ProgressBar

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    bar = ProgressBar()
    bar(0.5, "features 5/10")
    assert "50.0% features 5/10" in stream.getvalue()


def test_cli_writes_a_fits_catalogue_of_non_ascii_names_that_reads_back_the_same(tmp_path, sample_folder, capsys):
    """A folder ``Müller``, a file ``galaxie_α.png``: FITS allows ASCII only, and the export used to fail after the run."""
    from astropy.table import Table

    from core.catalog.tables import read_run_record

    folder = tmp_path / "José" / "Müller"
    shutil.copytree(sample_folder, folder)
    first = sorted(folder.glob("*.png"))[0]
    first.rename(folder / "galaxie_α.png")
    out = tmp_path / "catalogue.fits"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
                 "--format", "fits", "--out", str(out), "--quiet", "--cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = Table.read(out)
    assert sorted(table["path"]) == sorted(str(p) for p in folder.glob("*.png"))  # the same strings, ü and α
    assert "galaxie_α" in list(table["id"]) and len(table) == 30
    assert table.meta["TXTENC"] == "UTF-8"  # the header says the text is UTF-8, not ASCII
    assert read_run_record(out)["folder"] == str(folder)  # the run record's card: ASCII, decoded back


def test_cli_exports_of_one_run_as_csv_then_fits_keep_one_sidecar_each(tmp_path, sample_folder, capsys):
    """``catalogue.csv`` then ``catalogue.fits``: both wrote ``catalogue.json``, the CSV's left describing the FITS file."""
    import hashlib

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = ["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
           "--quiet", "--cpu"]
    for fmt in ("csv", "fits"):
        assert main([*run, "--format", fmt, "--out", str(out_dir / f"catalogue.{fmt}")]) == 0, capsys.readouterr().err
        assert f"catalogue.{fmt}.json" in capsys.readouterr().out  # "wrote ... and ...": the sidecar's own name
    assert sorted(p.name for p in out_dir.iterdir()) == ["catalogue.csv", "catalogue.csv.json", "catalogue.fits",
                                                         "catalogue.fits.json"]
    for fmt in ("csv", "fits"):
        side = json.loads((out_dir / f"catalogue.{fmt}.json").read_text())
        assert side["catalogue"]["format"] == fmt
        assert side["catalogue"]["sha256"] == hashlib.sha256((out_dir / f"catalogue.{fmt}").read_bytes()).hexdigest()


def test_a_sidecar_and_a_journal_of_the_old_naming_are_still_honoured(tmp_path, sample_folder, capsys):
    """An older ``<stem>.json`` is read when it matches its catalogue; an old journal is finished to the name it meant."""
    from core.catalog.pair import find_sidecar, recover_export, sidecar_matches

    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    out = tmp_path / "c.csv"
    assert main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
                 "--quiet", "--cpu", "--out", str(out)]) == 0
    (tmp_path / "c.csv.json").rename(tmp_path / "c.json")  # what an older version left
    assert find_sidecar(out) == tmp_path / "c.json" and sidecar_matches(out)
    (tmp_path / "c.fits").write_bytes(b"another catalogue")  # c.json is not its sidecar: its SHA-256 differs
    assert find_sidecar(tmp_path / "c.fits") == tmp_path / "c.fits.json" and not sidecar_matches(tmp_path / "c.fits")
    # A journal of the old code, killed before its renames: it names the sidecar's temporary file only.
    text, side = out.read_bytes(), (tmp_path / "c.json").read_text()
    (tmp_path / ".c.csv.export-1-0a0b0c0d.csv").write_bytes(text)
    (tmp_path / ".c.json.export-1-0a0b0c0d.json").write_text(side)
    out.unlink()
    (tmp_path / "c.json").unlink()
    (tmp_path / ".c.csv.export-journal").write_text(json.dumps(
        {"catalogue": ".c.csv.export-1-0a0b0c0d.csv", "sidecar": ".c.json.export-1-0a0b0c0d.json", "sha256": "x"}))
    assert recover_export(out)
    assert out.read_bytes() == text and (tmp_path / "c.json").read_text() == side and sidecar_matches(out)
    assert not (tmp_path / ".c.csv.export-journal").exists()


def test_cli_truth_ids_written_with_the_file_extension_match_their_images(tmp_path, sample_folder, capsys):
    """Exploratory QA: a truth file of ids "g0.png" matched no image "g0" ("no image in the folder has a label")."""
    folder = tmp_path / "imgs"
    shutil.copytree(sample_folder, folder)
    truth = load_truth(folder / "labels.csv")
    named = tmp_path / "named.csv"
    named.write_text("id,class\n" + "".join(f"{n}.png,{c}\n" for n, c in truth.items()))
    code = main(["cluster", str(folder), "--clusters", "3", "--truth", str(named), "--quiet",
                 "--out", str(tmp_path / "c.csv")])
    text = capsys.readouterr().out
    assert code == 0 and f"against named.csv ({len(truth)} labelled images)" in text, text
