"""A shaded map's legend names each step in the quantity's own values, and the quantity once.

Coloured by a morphology parameter, each of the ten entries read "concentration 2.54 to 4.10, 0.1-0.2": the name
and the whole range repeated, the step given as a fraction of that range, and cut short in the legend's column
("concentration 2.54..., 0.0-0.1").  Nobody could read a galaxy's concentration off its colour.
"""

from __future__ import annotations

import re

import numpy as np

from tests.helpers import cluster, fast, pick

STEP = re.compile(r"^(?:(?P<title>[a-z]+) )?(?P<a>-?[\d.e+-]+) to (?P<b>-?[\d.e+-]+) \((?P<n>\d+)\)$")


def test_colour_by_concentration_names_each_step_in_concentration(qtbot, window, folder):
    from core.features.morphology import morphology_values

    window.open_folder(folder)
    fast(window)
    cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.morphology_action.trigger()
    pick(qtbot, window.color_combo, "concentration")
    assert window.color_mode == "concentration"
    p = window.project
    v = morphology_values(p.store, p.db_ids, ("concentration",))[:, 0]
    lo, hi = np.nanpercentile(v, [2, 98])
    qtbot.waitUntil(lambda: len(window.map.legend.texts) == 10)
    steps = [STEP.match(t) for t in window.map.legend.texts]
    assert all(steps), window.map.legend.texts
    assert [m["title"] for m in steps] == ["concentration"] + [None] * 9  # the quantity named once
    edges = [float(m["a"]) for m in steps] + [float(steps[-1]["b"])]
    assert all(float(m["b"]) == float(n["a"]) for m, n in zip(steps, steps[1:]))  # the steps meet
    np.testing.assert_allclose(edges, np.linspace(lo, hi, 11), rtol=5e-3)  # in concentration, not fractions of it
    assert sum(int(m["n"]) for m in steps) == len(p)
