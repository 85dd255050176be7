"""The neighbour index: the rows the exact scan finds, in its order, measuring only a few rows exactly."""

from __future__ import annotations

import numpy as np
import pytest

from core.neighbours import NeighbourIndex, nearest_rows


def _clustered(n: int, d: int, offset: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3, size=(8, d))
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d)) + offset).astype(np.float32)


@pytest.mark.parametrize(("n", "d", "offset"), [(5000, 64, 0.0), (5000, 64, 300.0), (3000, 2, 0.0), (3000, 2, 1e4)],
                         ids=["features", "features far from the origin", "map", "map far from the origin"])
def test_the_index_finds_the_rows_of_the_exact_scan_in_its_order(n, d, offset, monkeypatch):
    """Far from the origin, |x|^2 - 2 x.q + |q|^2 loses digits to cancellation in float32: the rows
    near the boundary are measured again as the exact scan measures them, so the answer is its answer."""
    space = _clustered(n, d, offset)
    index = NeighbourIndex(space)
    exact_scans: list[int] = []
    monkeypatch.setattr("core.neighbours.nearest_rows", lambda *a, **k: exact_scans.append(1) or nearest_rows(*a, **k))
    for row in np.random.default_rng(1).integers(0, n, 40).tolist():
        np.testing.assert_array_equal(index.nearest(row), nearest_rows(space, row))
        np.testing.assert_array_equal(index.nearest(row, 3), nearest_rows(space, row, 3))
    assert exact_scans == []  # never by falling back to the full scan


def test_only_a_few_rows_are_measured_exactly(monkeypatch):
    """The full scan subtracted the galaxy from all n x 64 features; the index measures the few candidates."""
    space = _clustered(20_000, 64, 0.0)
    index = NeighbourIndex(space)
    measured: list[int] = []
    norm = np.linalg.norm
    monkeypatch.setattr(np.linalg, "norm", lambda x, *a, **k: measured.append(len(x)) or norm(x, *a, **k))
    for row in range(10):
        index.nearest(row)
    assert len(measured) == 10 and max(measured) < 200, measured


def test_a_float64_space_is_ranked_as_in_float32_and_small_spaces_answer_what_they_have():
    coords = np.random.default_rng(2).normal(size=(500, 2))  # the map, while the features load
    index = NeighbourIndex(coords)
    assert index.source is coords
    for row in range(0, 500, 37):
        np.testing.assert_array_equal(index.nearest(row), nearest_rows(coords.astype(np.float32), row))
    assert len(NeighbourIndex(coords[:1]).nearest(0)) == 0
    np.testing.assert_array_equal(NeighbourIndex(np.array([[0.0], [5.0], [1.0]])).nearest(0), [2, 1])


def test_features_that_overflow_float32_fall_back_to_the_exact_scan():
    space = np.array([[0.0, 0.0], [1e20, 0.0], [1.0, 0.0], [np.nan, 0.0]], np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(NeighbourIndex(space).nearest(0, 2), nearest_rows(space, 0, 2))
