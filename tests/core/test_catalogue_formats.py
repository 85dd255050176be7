"""Catalogues in FITS, VOTable, ECSV and Parquet: read back by astropy and by STILTS (TOPCAT's command-line twin).

STILTS is a Debian package (``apt-get install stilts``, installed by ``.ci/run``);
the STILTS tests skip with a message saying so where it is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from core.catalog.export import EXPORT_FORMATS, export_catalogue
from core.catalog.tables import CatalogueInImageFolder, read_run_record
from core.images.io import scan_images
from core.store.database import ProjectStore

#: Single-file table formats (the region file: tests/core/test_regions.py; the folder formats, partitioned Parquet
#: and HATS: tests/core/test_survey_catalogue.py).
TABLE_FORMATS = [e.name for e in EXPORT_FORMATS
                 if e.option("record", False) and e.option("table", True) and not e.option("folder", False)]
STILTS = shutil.which("stilts")
needs_stilts = pytest.mark.skipif(STILTS is None, reason="STILTS is not installed (apt-get install stilts; .ci/run "
                                                          "installs it): the catalogues are not checked by STILTS here")


def _fits_with_wcs(path, ra: float, dec: float, n: int = 21):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.random.default_rng(0).random((n, n), np.float32))
    h = hdu.header
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRPIX1"], h["CRPIX2"] = (n + 1) / 2, (n + 1) / 2
    h["CRVAL1"], h["CRVAL2"] = ra, dec
    h["CDELT1"], h["CDELT2"] = -1.0 / 3600, 1.0 / 3600
    hdu.writeto(path)
    return path


@pytest.fixture
def stored_run(tmp_path):
    """A store with one run over three FITS galaxies with a WCS (so ``ra``/``dec`` columns), one user label."""
    images = tmp_path / "images"
    images.mkdir()
    paths = [_fits_with_wcs(images / f"{name}.fits", 150.0 + i, 2.0 + i)
             for i, name in enumerate(("587722982265585737", "b", "c"))]
    store = ProjectStore(tmp_path / "store", root=images)
    ids = store.add_images(paths)
    run = store.save_run("kmeans", "galaxy_cnn", 2, {"seed": 3, "folder": str(images)}, [], list(ids.values()),
                         np.array([0, 1, 1]), np.array([0.9, 0.8, 0.7]), np.arange(6.0).reshape(3, 2))
    store.set_labels([ids[str(paths[1])]], "spiral")
    yield store, run, images, tmp_path
    store.close()


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_each_format_round_trips_in_astropy_with_units_ucds_and_the_run_record(stored_run, fmt):
    from astropy.table import Table

    store, run, _images, tmp = stored_run
    entry = EXPORT_FORMATS.get(fmt)
    out, sidecar = export_catalogue(store, run, tmp / f"cat{entry.option('suffix')}", fmt,
                                    columns={"cat_objid": {str(tmp / "images" / "b.fits"): "587722982265585999"}})
    table = Table.read(out, format={"ecsv": "ascii.ecsv"}.get(fmt, fmt))
    assert len(table) == 3
    assert list(table["id"]) == ["587722982265585737", "b", "c"]  # the 18-digit id is text, digit for digit
    assert list(table["label"]) == ["cluster 0", "spiral", "cluster 1"]
    assert list(table["cluster"]) == [0, 1, 1]
    np.testing.assert_allclose(table["confidence"], [0.9, 0.8, 0.7])
    assert str(table["ra"].unit) == "deg" and str(table["dec"].unit) == "deg"
    np.testing.assert_allclose(np.asarray(table["ra"]), [150.0, 151.0, 152.0], atol=1e-6)
    assert table["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert table["id"].meta["ucd"] == "meta.id;meta.main"
    assert table["label"].meta["ucd"] == "src.morph.type"
    assert table["confidence"].meta["ucd"] == "stat.probability"
    assert "right ascension" in table["ra"].description
    # Empty cells may come back masked (FITS, VOTable: a null): either way no value, never 0.
    objid = table["cat_objid"].filled("") if hasattr(table["cat_objid"], "filled") else table["cat_objid"]
    assert [str(v) for v in objid] == ["", "587722982265585999", ""]  # a joined id stays a string too
    record = read_run_record(out)
    assert record["run"] == json.loads(sidecar.read_text())["run"]
    assert record["run"]["id"] == run and record["seed"] == 3 and record["joined_columns"] == ["cat_objid"]


@needs_stilts
def test_every_votable_passes_votlint(stored_run):
    store, run, _images, tmp = stored_run
    out, _ = export_catalogue(store, run, tmp / "cat.vot", "votable",
                              columns={"cat_z": {str(tmp / "images" / "c.fits"): 0.25}})
    done = subprocess.run([STILTS, "votlint", f"votable={out}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "" and "ERROR" not in done.stderr and "WARNING" not in done.stderr, \
        done.stdout + done.stderr


@needs_stilts
@pytest.mark.parametrize("fmt", TABLE_FORMATS + ["csv"])
def test_every_format_is_read_by_stilts_tpipe(stored_run, fmt):
    store, run, _images, tmp = stored_run
    entry = EXPORT_FORMATS.get(fmt)
    stilts_fmt = {"votable": "votable", "fits": "fits", "ecsv": "ecsv", "csv": "csv", "parquet": "parquet"}[fmt]
    handlers = subprocess.run([STILTS, "tpipe", "help=ifmt"], capture_output=True, text=True, timeout=120)
    if stilts_fmt not in (handlers.stdout + handlers.stderr).lower():
        pytest.skip(f"this STILTS has no {stilts_fmt} input handler (Debian's package lacks the parquet jars); "
                    f"astropy's round trip still checks the file")
    out, _ = export_catalogue(store, run, tmp / f"cat{entry.option('suffix')}", fmt)
    done = subprocess.run([STILTS, "tpipe", f"in={out}", f"ifmt={stilts_fmt}", "omode=meta"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "label" in done.stdout and "cluster_name" in done.stdout, done.stdout
    count = subprocess.run([STILTS, "tpipe", f"in={out}", f"ifmt={stilts_fmt}", "omode=count"],
                           capture_output=True, text=True, timeout=120)
    assert count.returncode == 0 and "rows: 3" in count.stdout.lower(), count.stdout + count.stderr
    if fmt != "csv":
        assert "pos.eq.ra;meta.main" in done.stdout or "deg" in done.stdout, done.stdout  # units/UCDs reach STILTS


def test_a_fits_catalogue_is_refused_inside_the_image_folder_and_never_scanned(stored_run):
    store, run, images, tmp = stored_run
    with pytest.raises(CatalogueInImageFolder, match="outside the image folder"):
        export_catalogue(store, run, images / "sub" / ".." / "cat.fits", "fits")
    assert not (images / "cat.fits").exists()
    export_catalogue(store, run, images / "cat.vot", "votable")  # not an image suffix: allowed there
    # Put there anyway (copied by hand): the scanner knows its own catalogue and leaves it out.
    out, sidecar = export_catalogue(store, run, tmp / "cat.fits", "fits")
    shutil.copy(out, images / "cat.fits")
    shutil.copy(sidecar, images / "cat.fits.json")
    found, skipped = scan_images(images)
    assert sorted(p.name for p in found) == ["587722982265585737.fits", "b.fits", "c.fits"] and not skipped
