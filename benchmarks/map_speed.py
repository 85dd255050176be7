"""Speed of the cluster map at 60,000 points (synthetic coordinates).

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/map_speed.py [--points 60000]

Prints the time to set the data, to redraw (render the widget), to recolour,
to outline a selection, the hover lookup and the lasso selection latency, with
the same data set once more with a new QBrush per point (what the cached
brushes avoid) for the ratio.  Set data and the recolours are timed twice: the
widget's own work (what the map code controls) and with the repaint that
follows it (pyqtgraph drawing every visible point once, the "redraw" row).
The budgets of issue 13 are printed beside the figures.  ``--against REV``
also times the map code of git revision REV (for example ``0eeefea``, before
issue 13) and this one alternately in the same process, three rounds, and
prints the ratios: the fair before/after on a shared CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import PySide6  # noqa: E402,F401  (before pyqtgraph)

from benchmarks._maptiming import lasso_around, median_time, shown_clusters, time_split  # noqa: E402


def compare(rev: str, coords: np.ndarray, groups: np.ndarray, colors: dict, app) -> None:
    """Time set data / recolour all / recolour one label with REV's map code and this one, alternating."""
    import importlib.util
    import subprocess
    import tempfile

    from app.widgets import qt_map as current

    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{rev}:app/widgets/qt_map.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "qt_map_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("qt_map_before", path)
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    k = int(groups.max()) + 1
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(3):
        for name, mod in (("before", before), ("now", current)):
            w = mod.QtClusterMap()
            w.resize(1200, 800)
            w.show()
            app.processEvents()
            one = ((groups + 1) % k).copy()
            one[3] = (one[3] + 1) % k
            for op, fn in (("set data", lambda w=w: w.set_points(coords, groups, colors)),
                           ("recolour all", lambda w=w: w.set_colors((groups + 1) % k, colors)),
                           ("recolour one label", lambda w=w, one=one: w.set_colors(one, colors))):
                t = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                app.processEvents()
                res.setdefault((name, op), []).append((t1 - t, time.perf_counter() - t))
            w.close()
            w.deleteLater()
            app.processEvents()
    print(f"  against {rev} (alternating, median of 3; widget / with repaint):")
    for op in ("set data", "recolour all", "recolour one label"):
        b = [statistics.median(x) for x in zip(*res[("before", op)])]
        n = [statistics.median(x) for x in zip(*res[("now", op)])]
        print(f"    {op:19s} before {b[0] * 1000:8.1f} / {b[1] * 1000:8.1f} ms   now {n[0] * 1000:8.1f} / "
              f"{n[1] * 1000:8.1f} ms   ratio {b[0] / n[0]:6.1f}x / {b[1] / n[1]:4.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=60_000)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--against", default="", help="git revision whose map code to compare with")
    args = parser.parse_args(argv)
    from PySide6.QtGui import QBrush, QColor


    n, k = args.points, args.clusters
    app, w, centres, groups, coords, colors, rng = shown_clusters(n, k)

    def redraw() -> None:
        w.plot.viewport().repaint()

    t_set, t_set_paint = time_split(lambda: w.set_points(coords, groups, colors), app, 3)
    t_draw = median_time(redraw, 5)
    shifted = [(groups + i) % k for i in range(1, 6)]
    t_recolor, t_recolor_paint = time_split(lambda: w.set_colors(shifted.pop(), colors), app, 5)
    one = shifted[-1].copy() if shifted else groups.copy()
    w.set_colors(one, colors)
    app.processEvents()
    flips = iter(range(20))

    def label_one() -> None:
        i = next(flips)
        one[i] = (one[i] + 1) % k
        w.set_colors(one, colors)

    t_one, t_one_paint = time_split(label_one, app, 7)

    def legend_counts() -> None:  # what the legend's timer does 40 ms after a label, in its own repaint
        label_one()
        w._legend_timer.stop()
        app.processEvents()
        t = time.perf_counter()
        w._apply_legend_counts()
        app.processEvents()
        legend_times.append(time.perf_counter() - t)

    legend_times: list[float] = []
    for _ in range(5):
        legend_counts()
    t_legend = statistics.median(legend_times)
    sel = rng.choice(n, min(n, 5000), replace=False)
    t_sel = median_time(lambda: (w.set_selection(sel), app.processEvents()), 3)
    queries = coords[rng.choice(n, 2000)] + rng.normal(scale=0.05, size=(2000, 2))
    t = time.perf_counter()
    for x, y in queries:
        w.nearest(float(x), float(y))
    t_hover = (time.perf_counter() - t) / len(queries)
    lasso = lasso_around(centres[0])
    picked = []
    t_lasso = median_time(lambda: picked.append(w.select_polygon(lasso)), 5)

    # The slow way the cached brushes avoid: a new QBrush object per point.
    def per_point() -> None:
        brushes = [QBrush(QColor(colors[int(g)])) for g in groups]
        w.scatter.setData(x=coords[:, 0], y=coords[:, 1], brush=brushes)
        app.processEvents()

    t_naive = median_time(per_point, 1)
    w.set_points(coords, groups, colors)
    app.processEvents()
    t_draw_again = median_time(redraw, 5)
    print(f"map with {n} points, {k} clusters, 1200x800 widget, offscreen (Qt {PySide6.__version__}):")
    print("  operation                            widget (ms)  with repaint (ms)  budget (ms)")
    print(f"  set data (cached brush per cluster): {t_set * 1000:11.1f}  {t_set_paint * 1000:17.1f}  150")
    print(f"  recolour all points:                 {t_recolor * 1000:11.1f}  {t_recolor_paint * 1000:17.1f}  100")
    print(f"  recolour one point (a label):        {t_one * 1000:11.1f}  {t_one_paint * 1000:17.1f}  16")
    print(f"  then the legend's counts, own repaint: {'':9s}  {t_legend * 1000:17.1f}  16")
    print(f"  set data (new brush per point):      {t_naive * 1000:8.1f} ms with repaint "
          f"({t_naive / t_set_paint:.1f}x slower)")
    print(f"  redraw:                              {min(t_draw, t_draw_again) * 1000:8.1f} ms")
    print(f"  outline a 5,000-point selection:     {t_sel * 1000:8.1f} ms")
    print(f"  hover lookup (KD-tree, per move):    {t_hover * 1e6:8.1f} us")
    print(f"  lasso selection (200-vertex polygon, {len(picked[-1])} points): {t_lasso * 1000:.1f} ms")
    w.close()
    w.deleteLater()
    app.processEvents()
    if args.against:
        compare(args.against, coords, groups, colors, app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
