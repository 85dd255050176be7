"""Export as a DS9 region file (ds9, Aladin): each galaxy with a sky position a circle in its class's colour.

Every file is read back with astropy's ``regions`` package (its DS9 parser), not by the code that wrote it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.catalog.export import CatalogueRow
from core.catalog.regions import NoRegionPositions, write_regions
from core.cli import main

regions = pytest.importorskip("regions", reason="the dev extra's regions package reads the files back")


def _row(i: int, label: str, cluster: int = 0, **extra: float | str) -> CatalogueRow:
    return CatalogueRow(f"/data/g{i}.png", f"g{i}", cluster, f"cluster {cluster}", label, "user", 0.9, 0.0, 0.0,
                        dict(extra))


def _read(path) -> list:
    return list(regions.Regions.read(str(path), format="ds9"))


def test_the_cli_writes_a_region_file_of_a_wcs_folder_that_ds9s_parser_reads_back(tmp_path, capsys):
    """``--out x.reg`` names the format: a point a galaxy at its WCS centre (RA 150 + i, Dec -2), its label as text."""
    from tests.helpers import write_wcs_galaxies

    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 6)
    out = tmp_path / "galaxies.reg"
    assert main(["cluster", str(folder), "--clusters", "2", "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    found = _read(out)
    assert len(found) == 6 and all(isinstance(r, regions.PointSkyRegion) for r in found)
    ra = sorted(r.center.icrs.ra.deg for r in found)
    assert np.allclose(ra, [150 + i for i in range(6)], atol=1e-6)
    assert np.allclose([r.center.icrs.dec.deg for r in found], -2, atol=1e-6)
    assert {r.meta["text"] for r in found} <= {"cluster 0", "cluster 1"}
    assert all(r.visual["color"].startswith("#") and r.visual["marker"] == "o" for r in found)
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["catalogue"]["format"] == "ds9" and side["images"] == 6


def test_colours_follow_the_classes_and_labels_are_written_safely(tmp_path):
    """The project's class colour, the special labels' own, a cluster's colour for a cluster's name; braces in a
    label cannot end DS9's text field early; a sexagesimal joined RA/Dec is placed; a galaxy without one is counted."""
    from core.vocabulary import SPECIAL, cluster_color

    rows = [_row(0, "spiral", cat_ra="10:00:00", cat_dec="+02:00:00"),
            _row(1, "odd {x} } one", cat_ra="10:00:01", cat_dec="+02:00:10"),
            _row(2, "unsure", cat_ra="150.5", cat_dec="-1.5"),
            _row(3, "cluster 3", cluster=3, cat_ra="150.6", cat_dec="-1.6"),
            _row(4, "spiral", cat_ra="", cat_dec="")]
    record = {"classes": [{"name": "spiral", "color": "#E69F00"}], "run": {"id": 7, "method": "dec", "model": "m"}}
    out = write_regions(rows, tmp_path / "r.reg", record)
    found = _read(out)
    assert [r.meta["text"] for r in found] == ["spiral", "odd (x) ) one", "unsure", "cluster 3"]
    assert [r.visual["color"] for r in found] == ["#E69F00", cluster_color(0), SPECIAL["unsure"], cluster_color(3)]
    assert np.allclose([found[0].center.ra.deg, found[0].center.dec.deg], [150.0, 2.0])
    text = out.read_text()
    assert "4 of 5 galaxies with a sky position (cat_ra/cat_dec)" in text and "#   spiral: #E69F00 (1)" in text


def test_a_folder_without_sky_positions_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(NoRegionPositions, match="no sky position") as raised:
        write_regions([_row(0, "spiral"), _row(1, "spiral")], tmp_path / "r.reg")
    assert "celestial WCS" in raised.value.hint and "HATS" not in raised.value.hint
    with pytest.raises(NoRegionPositions, match="none of the 1 galaxies"):
        write_regions([_row(0, "spiral", ra=float("nan"), dec=float("nan"))], tmp_path / "r.reg")
    assert not (tmp_path / "r.reg").exists()
