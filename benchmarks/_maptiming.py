"""What the two map benchmarks share: the synthetic clusters, the shown widget and the timers.

``map_speed.py`` (60,000 points) and ``map_million.py`` (1,000,000) measure the
same operations on the same kind of data, so they make it, show it and time it
the same way: a change to the harness then changes both figures alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def synthetic_clusters(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """``n`` points in ``k`` Gaussian blobs: (centres, groups, float32 coordinates, the generator for what follows)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10, size=(k, 2))
    groups = rng.integers(0, k, n)
    coords = (centres[groups] + rng.normal(size=(n, 2))).astype(np.float32)
    return centres, groups, coords, rng


def shown_map(app):
    """A 1200 x 800 ``QtClusterMap``, shown and laid out."""
    from app.widgets.qt_map import QtClusterMap

    w = QtClusterMap()
    w.resize(1200, 800)
    w.show()
    app.processEvents()
    return w


def shown_clusters(n: int, k: int):
    """The app, ``n`` synthetic points in ``k`` clusters with the app's cluster colours, and a shown map.

    Returns ``(app, w, centres, groups, coords, colors, rng)``; the points are not set on the map yet
    (setting them is what the benchmarks time first).
    """
    from PySide6.QtWidgets import QApplication

    from app.widgets.qt_labels import cluster_color

    app = QApplication.instance() or QApplication([])
    centres, groups, coords, rng = synthetic_clusters(n, k)
    colors = {c: cluster_color(c) for c in range(k)}
    return app, shown_map(app), centres, groups, coords, colors, rng


def lasso_around(centre: np.ndarray, vertices: int = 200) -> np.ndarray:
    """A wavy ``vertices``-vertex polygon of radius ~3 around ``centre`` (one cluster, most of its points)."""
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    return np.column_stack([centre[0] + 3 * np.cos(angles) * (1 + 0.3 * np.sin(5 * angles)),
                            centre[1] + 3 * np.sin(angles)])


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of ``repeat`` calls of ``fn``."""
    return statistics.median(timed(fn, repeat))


def time_split(fn: Callable[[], object], app, repeat: int = 5) -> tuple[float, float]:
    """Median time of ``fn`` alone and of ``fn`` plus the event processing (repaint) it causes."""
    alone, total = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        app.processEvents()
        alone.append(t1 - t)
        total.append(time.perf_counter() - t)
    return statistics.median(alone), statistics.median(total)
