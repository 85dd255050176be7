"""Run > Compute morphology parameters: a background job, then the map colours by a parameter."""

from __future__ import annotations

import csv

import pytest

from tests.helpers import cluster as _cluster
from tests.helpers import export_catalogue as _export
from tests.helpers import fast as _fast


@pytest.mark.slow
def test_morphology_action_colours_the_map_and_the_catalogue(qtbot, window, folder, tmp_path):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    # not computed yet: choosing the colouring says why and keeps the current one
    window.set_color_mode("concentration")
    assert window.color_mode == "cluster"
    assert window.color_combo.currentData() == "cluster"
    assert "Compute morphology" in window.stage_label.text()
    assert window.morphology_action.text().replace("&", "") == "Compute morphology parameters"
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000) as blocker:
        window.morphology_action.trigger()
    assert blocker.args[0] == "morphology"
    assert "Morphology parameters" in window.stage_label.text()
    window.set_color_mode("concentration")
    assert window.color_mode == "concentration"
    assert window.color_combo.currentData() == "concentration"
    assert any("concentration" in label.text for _, label in window.map.legend.items)
    window.project.set_labels([0], "spiral")  # recolouring keeps the shading
    assert window.color_mode == "concentration"
    out = _export(qtbot, window, str(tmp_path / "cat.csv"))
    with open(out, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[-6:] == ["concentration", "asymmetry", "gini", "m20", "ellipticity", "colour"]


def test_morphology_of_files_gone_since_the_clustering_is_not_said_computed(qtbot, window, folder):
    """A GUI audit: Run > Compute morphology parameters on images that could not be read said "200000 image(s)
    computed"; those galaxies got no values.  It says how many could not be read."""
    import os

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    for path in p.paths[:3]:
        os.unlink(path)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.morphology_action.trigger()
    said = window.stage_label.text()
    assert f"{len(p) - 3} image(s) computed" in said and "(3 could not be read: no values for them)" in said, said


@pytest.mark.slow
def test_morphology_measures_the_runs_crop(qtbot, window, folder, tmp_path):
    """Run > Compute morphology parameters measured every galaxy in the fixed 0.5 crop, whatever the run's: for
    galaxies small in their frames (clustered at crop 0.3) the parameters saw other sky and neighbours than the
    features did. They follow the run's crop now, and the catalogue's sidecar says which."""
    import json

    from core.features.morphology import load_morphology

    window.open_folder(folder)
    _fast(window)
    window.run_settings.crop_fraction.setValue(0.3)
    _cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.morphology_action.trigger()
    kept = load_morphology(window.project.store)
    assert kept["prep"] == {"crop": "fixed", "crop_fraction": 0.3, "rotations": False}
    out = _export(qtbot, window, str(tmp_path / "cat.csv"))
    side = json.loads(open(str(out) + ".json").read())
    assert side["morphology"]["crop"]["crop_fraction"] == 0.3
