"""Catalogues at survey scale (issue 22): a partitioned Parquet folder, HATS for LSDB, the reopen's arrays.

The folder formats are read back by pyarrow, pandas, astropy and ``lsdb.read_hats``
and compared with the CSV of the same run; the reopen's array reader is compared
with the row reader it replaced, on a store with the cases that differ (a
skipped file, an image outside the run, a run without map coordinates).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.catalog import survey
from core.catalog.export import catalogue_rows, export_catalogue
from core.cli import main
from core.store.database import ProjectStore
from core.store.rows import run_arrays
from tests.helpers import write_wcs_galaxies

CLUSTERS = [0, 1, 1, 0, 1, 2, 1]


@pytest.fixture
def sky_run(tmp_path):
    """A store with one run over seven FITS galaxies with a WCS (so ``ra``/``dec``), one user label."""
    images = tmp_path / "images"
    write_wcs_galaxies(images, 7)  # g0 ... g6 at RA 150 + i, Dec -2
    paths = [images / f"g{i}.fits" for i in range(7)]
    store = ProjectStore(tmp_path / "store", root=images)
    ids = store.add_images(paths)
    run = store.save_run("kmeans", "galaxy_cnn", 3, {"seed": 3, "folder": str(images)}, [], list(ids.values()),
                         np.array(CLUSTERS), np.linspace(0.9, 0.3, 7), np.arange(14.0).reshape(7, 2))
    store.set_labels([ids[str(paths[1])]], "spiral")
    yield store, run, tmp_path
    store.close()


def _csv(store, run, path) -> dict[str, dict[str, str]]:
    out, _ = export_catalogue(store, run, path, "csv")
    return {r["id"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}


def _same_as_csv(frame, expected: dict[str, dict[str, str]]) -> None:
    """Every row and column of a pandas frame equals the CSV's (numbers to their printed precision)."""
    assert sorted(frame["id"]) == sorted(expected)
    for row in frame.to_dict("records"):
        want = expected[row["id"]]
        for name in ("path", "cluster_name", "label", "label_source"):
            assert row[name] == want[name], name
        assert int(row["cluster"]) == int(want["cluster"])
        for name in ("confidence", "x", "y", "ra", "dec"):
            assert float(row[name]) == pytest.approx(float(want[name]), rel=1e-5, abs=1e-9), name


def test_a_large_parquet_export_is_a_partitioned_folder_read_back_whole(sky_run, monkeypatch):
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
    from astropy.table import Table

    store, run, tmp = sky_run
    expected = _csv(store, run, tmp / "cat.csv")
    monkeypatch.setattr(survey, "PARTITION_ROWS", 2)  # above it, --format parquet writes a folder
    out, sidecar = export_catalogue(store, run, tmp / "cat.parquet", "parquet")
    assert out.is_dir()
    parts = sorted(out.glob("part-*.parquet"))
    # clusters 0 (2 rows), 1 (4 rows: two files of 2), 2 (1 row): never two clusters in a file, never over 2 rows
    assert [len(set(Table.read(p)["cluster"])) for p in parts] == [1, 1, 1, 1]
    assert [len(Table.read(p)) for p in parts] == [2, 2, 2, 1]
    dataset = ds.dataset(out, format="parquet")
    frame = dataset.to_table().to_pandas()
    _same_as_csv(frame, expected)
    assert list(frame["cluster"]) == sorted(CLUSTERS)  # sorted by cluster, so a filter skips files
    assert str(dataset.schema.field("id").type) in ("string", "large_string")  # ids stay text, digit for digit
    assert frame["id"].iloc[0] == "g0"
    assert pq.read_metadata(out / "_metadata").num_rows == 7  # one footer for the whole folder
    one = Table.read(parts[0])
    assert one["id"].meta["ucd"] == "meta.id;meta.main" and one["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert str(one["ra"].unit) == "deg"
    assert json.loads(one.meta["run_record"])["run"]["id"] == run
    record = json.loads(sidecar.read_text())
    assert record["catalogue"] == {"format": "parquet-dataset", "sha256": survey.folder_sha256(out)}
    assert record["columns"]["ra"]["ucd"] == "pos.eq.ra;meta.main"
    # written again over itself: replaced whole, no temporary folder left
    monkeypatch.setattr(survey, "PARTITION_ROWS", 4)
    export_catalogue(store, run, out, "parquet-dataset")
    assert len(list(out.glob("part-*.parquet"))) == 3  # one a cluster now; the old part-00003 is gone
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".")] == []


def test_a_small_parquet_export_stays_one_file(sky_run):
    store, run, tmp = sky_run
    out, _ = export_catalogue(store, run, tmp / "cat.parquet", "parquet")
    assert out.is_file()


def test_hats_export_reads_back_in_lsdb_with_the_csv_values(sky_run):
    lsdb = pytest.importorskip("lsdb", reason="lsdb/hats are the optional 'survey' extra: pip install "
                                               "'galaxy-sorter[survey]'")
    store, run, tmp = sky_run
    expected = _csv(store, run, tmp / "cat.csv")
    out, sidecar = export_catalogue(store, run, tmp / "galaxies.hats", "hats")
    catalog = lsdb.read_hats(out)
    frame = catalog.compute().reset_index(drop=True)
    _same_as_csv(frame, expected)
    assert json.loads(sidecar.read_text())["catalogue"]["sha256"] == survey.folder_sha256(out)
    # LSDB cross-matches it: each galaxy with itself, at distance 0
    matched = catalog.crossmatch(lsdb.read_hats(out), radius_arcsec=1, suffixes=("", "_2"),
                                suffix_method="all_columns").compute()
    assert sorted(matched["id"]) == sorted(expected) and (matched["id"] == matched["id_2"]).all()


def test_the_cli_writes_hats_from_fits_images_with_a_wcs(tmp_path):
    lsdb = pytest.importorskip("lsdb", reason="lsdb/hats are the optional 'survey' extra")
    images = tmp_path / "images"
    write_wcs_galaxies(images, 8)
    out = tmp_path / "galaxies.hats"
    assert main(["cluster", str(images), "--clusters", "2", "--method", "kmeans", "--quiet", "--cpu",
                 "--project-dir", str(tmp_path / "p"), "--format", "hats", "--out", str(out)]) == 0
    frame = lsdb.read_hats(out).compute()
    assert sorted(frame["id"]) == [f"g{i}" for i in range(8)]
    np.testing.assert_allclose(sorted(frame["ra"]), 150.0 + np.arange(8), atol=1e-6)
    assert json.loads(out.with_name(out.name + ".json").read_text())["catalogue"]["format"] == "hats"


def test_hats_is_refused_inside_the_image_folder(sky_run):
    """A HATS folder holds FITS maps (skymap.fits): inside the image folder the next scan would read them."""
    from core.catalog.tables import CatalogueInImageFolder

    store, run, tmp = sky_run
    with pytest.raises(CatalogueInImageFolder):
        export_catalogue(store, run, tmp / "images" / "cat.hats", "hats")


def test_hats_without_sky_positions_says_how_to_get_them(tmp_path, sample_folder):
    out = tmp_path / "cat.hats"
    code = main(["cluster", str(sample_folder), "--clusters", "2", "--method", "kmeans", "--quiet",
                 "--project-dir", str(tmp_path / "p"), "--format", "hats", "--out", str(out)])
    assert code == 2
    assert not out.exists() and not list(tmp_path.glob(".cat.hats*"))  # nothing half-written


def test_hats_message_names_the_missing_positions(sky_run):
    store, run, tmp = sky_run
    with pytest.raises(survey.NoSkyPositions, match="celestial WCS"):
        survey.write_hats([], tmp / "x.hats")
    rows = catalogue_rows(store, run)
    rows[3].extra["ra"] = float("nan")
    with pytest.raises(survey.NoSkyPositions, match="1 of 7 have no ra/dec"):
        survey.write_hats(rows, tmp / "x.hats")
    assert not (tmp / "x.hats").exists()


def test_survey_packages_are_never_imported_at_start_up(tmp_path):
    code = ("import sys\n"
            "import app.window, core.cli, core.project, core.catalog.export\n"
            "from core.cli import _parser\n"
            "_parser()\n"
            "print(sorted(m for m in ('lsdb', 'hats', 'hats_import', 'nested_pandas', 'dask') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2],
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_reopen_arrays_are_the_rows_of_the_run(tmp_path):
    images = tmp_path / "images"
    (images / "b").mkdir(parents=True)
    names = ["z.png", "b/a.png", "a.png", "m.png", "skipped.png", "outside.png"]
    for n in names:
        (images / n).write_bytes(b"x")
    store = ProjectStore(tmp_path / "store", root=images)
    try:
        ids = store.add_images([images / n for n in names[:4]] + [images / "outside.png"],
                               skipped=[(str(images / "skipped.png"), "unreadable")])
        in_run = [ids[str(images / n)] for n in names[:4]]
        run = store.save_run("kmeans", "m", 2, {}, [], in_run, np.array([1, 0, 1, 0]), np.array([0.5, 0.6, 0.7, 0.8]),
                             np.array([[1.0, 2.0], [np.nan, np.nan], [5.0, 6.0], [7.0, 8.0]]))
        rows = store.assignments(run)
        arrays = run_arrays(store, run)
        assert arrays.paths == [r[1] for r in rows] == [str(images / n) for n in ("a.png", "b/a.png", "m.png", "z.png")]
        assert arrays.keys == [store.key_of(p) for p in arrays.paths]
        assert arrays.ids.tolist() == [r[0] for r in rows]
        assert arrays.clusters.tolist() == [r[3] for r in rows]
        np.testing.assert_allclose(arrays.confidence, [r[4] for r in rows], rtol=1e-6)
        np.testing.assert_array_equal(arrays.coords, np.array([[r[5], r[6]] for r in rows], np.float32))
        assert np.isnan(arrays.coords[1]).all()  # no map position: NaN, as before
        empty = store.save_run("kmeans", "m", 2, {}, [], [], np.zeros(0), np.zeros(0))
        assert run_arrays(store, empty).paths == [] and run_arrays(store, empty).coords.shape == (0, 2)
    finally:
        store.close()


def test_the_skipped_files_are_read_through_their_own_index(tmp_path):
    """The skipped-files list reads its few rows, not a scan of a million images (a partial index)."""
    images = tmp_path / "images"
    images.mkdir()
    for n in ("a.png", "b.png", "bad.png"):
        (images / n).write_bytes(b"x")
    store = ProjectStore(tmp_path / "store", root=images)
    try:
        store.add_images([images / "a.png", images / "b.png"], skipped=[(str(images / "bad.png"), "unreadable")])
        plan = " ".join(str(r) for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT path, error FROM images WHERE status='skipped' ORDER BY path"))
        assert "images_skipped" in plan
        assert store.skipped() == [(str(images / "bad.png"), "unreadable")]
    finally:
        store.close()
