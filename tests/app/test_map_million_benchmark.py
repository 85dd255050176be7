"""``benchmarks/map_million.py --points N`` runs on both sides of the map's big-map threshold (issue 22).

Below ``BIG_POINTS`` the map hovers through a KD-tree and ``BigMap.grid`` is None;
the benchmark read ``w.big.grid.nearest`` for its hover check and failed there
with an AttributeError.  It now asks the map's own lookup.  Both runs are small
(the threshold is lowered for the second), and the hover answers and the lasso's
points must match the scan of every point that the benchmark prints beside them.
"""

from __future__ import annotations

import re

import pytest

from benchmarks import map_million


def _run(capsys) -> str:
    assert map_million.main(["--points", "4000", "--clusters", "4"]) == 0
    return capsys.readouterr().out


def test_below_the_threshold_the_kd_tree_answers_hovers(qapp, capsys):
    out = _run(capsys)
    assert "set data (density image: False)" in out
    assert re.search(r"KD-tree answer = scan of every point: (\d+)/50", out).group(1) == "50"
    assert "same points: True" in out
    assert "every point redrawn" in out


def test_above_the_threshold_the_grid_answers_hovers(qapp, capsys, monkeypatch: pytest.MonkeyPatch):
    import app.widgets.qt_bigmap as bigmap
    import app.widgets.qt_map as qt_map

    monkeypatch.setattr(bigmap, "BIG_POINTS", 1_000)
    monkeypatch.setattr(qt_map, "BIG_POINTS", 1_000)
    out = _run(capsys)
    assert re.search(r"grid answer = scan of every point: (\d+)/50", out).group(1) == "50"
    assert "same points: True" in out
    assert "density recomputed" in out
