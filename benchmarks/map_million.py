"""Speed of the cluster map at 1,000,000 points (issue 22), synthetic coordinates, in one run.

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/map_million.py [--points 1000000] [--compare REV]

Above ``BIG_POINTS`` the map draws a density image when zoomed out and the
visible points when zoomed in (``app/widgets/qt_bigmap.py``).  Prints, beside
issue 22's budgets: set data, recolour every point, one label, the hover
lookup (per mouse move, through the scene's mouse-move handler, checked against a scan
of every point), the lasso
(a 200-vertex polygon around one cluster, ~1/8 of the points) against the plain
scan of every point (the ratio, same run), and the debounced redraw after a pan
(density) and after a zoom onto few enough points to draw them.  Times are
the widget's own work and, where a repaint follows, with it (offscreen).

One label is timed twice: the widget's ``set_colors`` after one point's group
changed, and what the window's map view does on ``labels_changed`` (colour by
cluster: the galaxy's ring; colour by label: its colour).  ``--compare REV`` prints only those, for REV's
``app/`` and ``core/`` and this checkout's, in alternating processes of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# --tree DIR: measure the app/ and core/ of another checkout (what --compare runs, one process per side)
sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else str(Path(__file__).resolve().parents[1]))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

from benchmarks._maptiming import lasso_around, shown_clusters, time_split, timed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--compare", metavar="REV", help="also time one label with REV's app/ and core/ (git "
                        "archive), old and new alternately in separate processes, and print both")
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(one_label(*shown_clusters(args.points, args.clusters))))
        return 0
    if args.compare:
        return compare(args.compare, args.points, args.clusters)
    from PySide6.QtCore import QPointF

    from app.widgets.qt_bigmap import BIG_POINTS, points_in_polygon

    n, k = args.points, args.clusters
    app, w, centres, groups, coords, colors, rng = shown_clusters(n, k)

    t_set, t_set_paint = time_split(lambda: w.set_points(coords, groups, colors), app, 3)
    density = w.big.density_shown
    shifted = [(groups + i) % k for i in range(1, 6)]
    t_all, t_all_paint = time_split(lambda: w.set_colors(shifted.pop(), colors), app, 5)
    labels = one_label(app, w, centres, groups, coords, colors, rng, set_data=False)
    # hover: the scene's mouse-move handler (KD-tree lookup, hover ring, signal), per move
    vb = w.view
    queries = coords[rng.choice(n, 500)] + rng.normal(scale=0.05, size=(500, 2)).astype(np.float32)
    scene_pts = [vb.mapViewToScene(QPointF(float(x), float(y))) for x, y in queries]
    t = time.perf_counter()
    for p in scene_pts:
        w._on_mouse_moved(p)
    t_hover = (time.perf_counter() - t) / len(scene_pts)
    lasso = lasso_around(centres[0])
    picked: list[np.ndarray] = []
    t_lasso = statistics.median(timed(lambda: picked.append(w.select_polygon(lasso)), 5))
    t_scan = statistics.median(timed(lambda: np.flatnonzero(points_in_polygon(coords, lasso)), 3))
    same = np.array_equal(picked[-1], np.flatnonzero(points_in_polygon(coords, lasso)))
    (x0, x1), (y0, y1) = vb.viewRange()
    dx = (x1 - x0) * 0.1
    pans = iter([1, 2, 3])

    def pan() -> None:
        shift = dx * next(pans)
        vb.setXRange(x0 + shift, x1 + shift, padding=0)
        w.big.refresh()

    t_pan, t_pan_paint = time_split(pan, app, 3)
    cx, cy = float(centres[0, 0]), float(centres[0, 1])
    zooms = iter([0.8, 0.7, 0.6])

    def zoom_in() -> None:
        r = next(zooms)
        vb.setRange(xRange=(cx - r, cx + r), yRange=(cy - r, cy + r), padding=0)
        w.big.refresh()

    t_zoom, t_zoom_paint = time_split(zoom_in, app, 3)
    drawn = len(w.big.shown) if w.big.active else n  # below BIG_POINTS the scatter holds every point
    from scipy.spatial import cKDTree

    from app.widgets.qt_bigmap import GridIndex

    t_tree = statistics.median(timed(lambda: cKDTree(coords, balanced_tree=False, compact_nodes=False), 3))
    radius = w._pixel_radius(6.0)
    # the map's own lookup, whichever index serves it: BigMap's grid above BIG_POINTS, a KD-tree below
    # (``w.big.grid`` is None there, which made ``--points`` under the threshold fail)
    hover_ok = sum(w.nearest(float(x), float(y)) == _brute_nearest(coords, x, y, radius) for x, y in queries[:50])
    index = "grid" if w.big.active else "KD-tree"
    t_grid = statistics.median(timed(lambda: GridIndex(coords), 3))
    t_density = statistics.median(timed(lambda: w.big.refresh(force=True), 3))
    print(f"map with {n:,} points, {k} clusters, 1200x800 widget, offscreen (Qt {PySide6.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    print("  operation                                widget (ms)  with repaint (ms)  budget (ms)")
    print(f"  set data (density image: {density}):       {t_set * 1000:11.1f}  {t_set_paint * 1000:17.1f}  1000")
    print(f"  recolour every point:                    {t_all * 1000:11.1f}  {t_all_paint * 1000:17.1f}  200")
    print(f"  recolour one point (a label):            {labels['widget'] * 1000:11.1f}  "
          f"{labels['widget_paint'] * 1000:17.1f}  16")
    print(f"  a label through the window's map view:   {labels['window'] * 1000:11.1f}  "
          f"{labels['window_paint'] * 1000:17.1f}  16   (labels_changed, colour by cluster)")
    print(f"  the same under colour by label:          {labels['label'] * 1000:11.1f}  "
          f"{labels['label_paint'] * 1000:17.1f}  16   (the galaxy recoloured)")
    print(f"  hover (mouse-move handler, per move):    {t_hover * 1000:11.3f}  {'':17s}  5"
          f"   ({index} answer = scan of every point: {hover_ok}/50)")
    print(f"  lasso, 200 vertices, {len(picked[-1]):,} points: {t_lasso * 1000:11.1f}  {'':17s}  100")
    print(f"    the plain scan of every point:         {t_scan * 1000:11.1f}  ({t_scan / t_lasso:.1f}x slower; "
          f"same points: {same})")
    redraw = "density recomputed" if w.big.active else "every point redrawn"
    print(f"  pan 10% ({redraw}):{'':>{30 - len(redraw)}}{t_pan * 1000:11.1f}  {t_pan_paint * 1000:17.1f}")
    print(f"  zoom onto {drawn:,} points (drawn as points): {t_zoom * 1000:8.1f}  {t_zoom_paint * 1000:17.1f}")
    if not w.big.active:
        print(f"  (below BIG_POINTS = {BIG_POINTS:,} the map draws every point and hovers through a KD-tree; "
              f"the lasso is the plain scan)")
    print(f"  set data's parts: grid index (hover, click, lasso) {t_grid * 1000:.1f} ms, the view's points or "
          f"density image {t_density * 1000:.1f} ms; a KD-tree instead of the grid would take {t_tree * 1000:.1f} ms "
          f"({t_tree / t_grid:.1f}x)")
    w.close()
    w.deleteLater()
    app.processEvents()
    return 0


def one_label(app, w, centres, groups, coords, colors, rng, set_data: bool = True) -> dict[str, float]:
    """Median seconds of one label, without and with its repaint: (widget) ``set_colors`` after one point's
    group changed in the caller's array; (window, label) what the app's map view does on ``labels_changed``
    under colour by cluster and colour by label, on a :class:`~core.project.Project` holding the points
    (the store write left out)."""
    from app.views import MapView
    from core.project import Project

    n, k = len(coords), len(colors)
    if set_data:
        w.set_points(coords, groups, colors)
    one = groups.copy()
    w.set_colors(one, colors)
    app.processEvents()
    flips = iter(rng.choice(n, 50, replace=False))

    def label_one() -> None:
        i = next(flips)
        one[i] = (one[i] + 1) % k
        w.set_colors(one, colors)

    widget = time_split(label_one, app, 9)
    shifted = [(groups + i) % k for i in range(1, 6)]
    every = time_split(lambda: w.set_colors(shifted.pop(), colors), app, 5)
    w.set_colors(one, colors)
    p = Project(folder=Path("."), store=None, paths=[""] * n, clusters=np.asarray(groups, np.int64),
                confidence=np.ones(n, np.float32), coords=coords, user_labels=np.full(n, None, object))
    view = MapView(w)
    view.set_project(p)
    view.render()
    app.processEvents()
    rows = iter(rng.choice(n, 50, replace=False))

    def key() -> None:  # what Project._write_labels does once the label is on disk
        i = next(rows)
        p.user_labels[i] = "spiral"
        p.events.labels_changed.emit(np.array([i], np.int64))

    window = time_split(key, app, 9)
    view.set_mode("label")  # colour by label: the label recolours its galaxy
    key()  # the class's first label adds its colour to the map (a regrouping, once): not timed
    app.processEvents()
    by_label = time_split(key, app, 5)
    w.hovered.disconnect(view._on_hover)  # the project's paths are empty: no hover thumbnail to draw later
    view.set_mode("cluster")
    app.processEvents()
    return {"widget": widget[0], "widget_paint": widget[1], "window": window[0], "window_paint": window[1],
            "label": by_label[0], "label_paint": by_label[1], "all": every[0], "all_paint": every[1]}


def compare(rev: str, n: int, k: int, rounds: int = 2) -> int:
    """Time one label with ``rev``'s app/ and core/ and with this checkout's, alternately, one process each."""
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=root, capture_output=True, text=True, check=True)
    runs: dict[str, list[dict[str, float]]] = {"new": [], "old": []}
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "archive", rev, "app", "core", "benchmarks"], cwd=root, capture_output=True,
                                 check=True)
        subprocess.run(["tar", "-x", "-C", old], input=archive.stdout, check=True)
        for _ in range(rounds):
            for side, tree in (("new", str(root)), ("old", old)):
                out = subprocess.run([sys.executable, __file__, "--points", str(n), "--clusters", str(k), "--json",
                                      "--tree", tree], capture_output=True, text=True, check=True)
                runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"one label on {n:,} points, {k} clusters: {rev} ({sha.stdout.strip()}) against this checkout, "
          f"{rounds} alternating processes each, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("  (ms, median of each process's median)      old       new   old/new  budget")
    rows = (("widget", "set_colors, one group changed", 16), ("widget_paint", "  with repaint", 16),
            ("window", "window's map view on a label", 16), ("window_paint", "  with repaint", 16),
            ("label", "the same, colour by label", 16), ("label_paint", "  with repaint", 16),
            ("all", "recolour every point", 200), ("all_paint", "  with repaint", 200))
    for key, what, budget in rows:
        a = statistics.median(r[key] for r in runs["old"]) * 1000
        b = statistics.median(r[key] for r in runs["new"]) * 1000
        print(f"  {what:40s} {a:8.1f}  {b:8.1f}  {a / b:7.1f}x  {budget}")
    return 0


def _brute_nearest(coords: np.ndarray, x: float, y: float, radius: float) -> int:
    d = (coords[:, 0] - np.float32(x)) ** 2 + (coords[:, 1] - np.float32(y)) ** 2
    return int(np.argmin(d)) if d.min() <= radius * radius else -1


if __name__ == "__main__":
    raise SystemExit(main())
