"""Cost of showing a galaxy: thumbnails with the model's crop and the display stretches.

One command::

    .venv/bin/python benchmarks/display_speed.py [--images 100]

On the first ``--images`` Galaxy Zoo JPEGs of ``../shared/data/galaxy-zoo-kaggle``
(424x424) and on a synthetic 512x512x3 float32 FITS cube, prints the median
milliseconds per image of: the old whole-frame thumbnail (``core.images.io.thumbnail``),
the cropped thumbnail as read, and each stretch (linear, sqrt, log, asinh;
per band) for a 96 px thumbnail and the full-size preview, with ratios to the
old thumbnail from the same run; then the display-sized stretched thumbnail
(``render(..., size=96)`` now shrinks the frame before the curve) against the
full-resolution stretch the old code did.

Last, the GUI thread (issue 18 item 4, needs ``QT_QPA_PLATFORM=offscreen``): a
strip of the images and the preview, as in the window; the longest gap of a
5 ms heartbeat timer while the stretch, a limit (dragged, 12 steps) and the
thumbnail size (dragged 64-256) change and everything is redrawn, against the
work the old code did on the GUI thread for one such change (every visible
thumbnail and the preview stretched at full resolution), timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "galaxy-zoo-kaggle" / "images"


def per_image(fn, paths: list[str], repeat: int = 3) -> float:
    """Median over ``repeat`` passes of the mean milliseconds per image."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for p in paths:
            fn(p)
        times.append((time.perf_counter() - t) / len(paths) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args(argv)
    from astropy.io import fits

    from core.images.display import Stretch, render
    from core.images.io import thumbnail
    from core.images.preprocess import Preprocessing

    jpegs = sorted(str(p) for p in DATA.glob("*.jpg"))[: args.images]
    if not jpegs:
        print(f"no images in {DATA}")
        return 1
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    cube = tmp / "cube.fits"
    fits.PrimaryHDU(rng.gamma(2.0, 10.0, (3, 512, 512)).astype(np.float32)).writeto(cube)
    cubes = [str(cube)] * 10
    prep = Preprocessing()
    print(f"{len(jpegs)} Galaxy Zoo JPEGs (424 px) and a 512x512x3 float32 FITS cube; ms per image, median of 3")
    for name, paths in (("JPEG", jpegs), ("FITS", cubes)):
        base = per_image(lambda p: thumbnail(p, 96), paths)
        print(f"\n{name}: old whole-frame 96 px thumbnail {base:.2f} ms (1.00x)")
        rows = [("crop, as read", Stretch("as read"))] + [
            (f"crop, {k}", Stretch(k, 0.5, 99.5)) for k in ("linear", "sqrt", "log", "asinh")] + [
            ("crop, asinh per band", Stretch("asinh", 0.5, 99.5, per_band=True))]
        for label, stretch in rows:
            thumb = per_image(lambda p, s=stretch: render(p, s, prep, 96), paths)
            full = per_image(lambda p, s=stretch: render(p, s), paths)
            print(f"  {label:22s} thumbnail {thumb:6.2f} ms ({thumb / base:4.2f}x)   preview {full:6.2f} ms "
                  f"({full / base:4.2f}x)")
    print("\nDisplay-sized stretch (96 px thumbnail, the run's 0.5 crop) against the full-resolution one:")
    for name, paths in (("JPEG", jpegs), ("FITS", cubes)):
        for kind in ("linear", "asinh"):
            stretch = Stretch(kind, 0.5, 99.5)
            old = per_image(lambda p, s=stretch: old_render(p, s, prep, 96), paths)
            new = per_image(lambda p, s=stretch: render(p, s, prep, 96), paths)
            print(f"  {name} {kind:7s} full resolution {old:6.2f} ms, display-sized {new:6.2f} ms ({old / new:4.1f}x faster)")
    gui_stall(jpegs)
    return 0


def old_render(path: str, stretch, prep, size: int) -> np.ndarray:
    """What ``render`` did before issue 18: stretch the full-resolution frame, then crop and shrink."""
    import cv2

    from core.images.display import apply_stretch, read_raw
    from core.images.preprocess import crop_image

    rgb = crop_image(apply_stretch(read_raw(path), stretch), prep)
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def gui_stall(paths: list[str]) -> None:
    """Longest GUI-thread stall during stretch, limit and size changes, against the old synchronous work."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

    from app.widgets.qt_preview import QtPreview
    from app.widgets.qt_thumbnails import QtThumbnailGrid
    from app.workers import render_pool
    from core.images.display import Stretch, render
    from core.images.preprocess import Preprocessing

    app = QApplication.instance() or QApplication([])
    top = QWidget()
    grid, preview = QtThumbnailGrid(), QtPreview()
    layout = QHBoxLayout(top)
    layout.addWidget(grid, 3)
    layout.addWidget(preview, 1)
    top.resize(1366, 420)
    top.show()
    grid.paths = list(paths)
    grid.show_rows(np.arange(len(paths)), "bench")
    preview.show_image(paths[0])
    gaps: list[float] = []
    cpu_gaps: list[float] = []  # the GUI thread's own CPU time per gap (wall time includes waiting for a core)
    last = [time.perf_counter(), time.thread_time()]

    def tick() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append(now - last[0])
        cpu_gaps.append(cpu - last[1])
        last[0], last[1] = now, cpu

    def settle() -> None:
        while render_pool().pending() or preview._stretch_timer.isActive() or grid._size_timer.isActive():
            app.processEvents()
            time.sleep(0.002)
        app.processEvents()

    settle()
    visible = sum(grid.view.visualRect(grid.model.index(i)).intersects(grid.view.viewport().rect())
                  for i in range(len(paths)))
    beat = QTimer(interval=5)
    beat.timeout.connect(tick)
    beat.start()
    worst = {}
    control = preview.stretch_control
    steps = [("stretch curve", [lambda k=k: control.kind.setCurrentText(k) for k in ("asinh", "log", "linear")]),
             ("limit drag", [lambda v=v: control.upper.setValue(float(v)) for v in np.linspace(99.5, 97, 12)]),
             ("size drag", [lambda v=v: grid.size_slider.setValue(int(v)) for v in range(64, 257, 16)])]
    for name, actions in steps:
        gaps.clear()
        cpu_gaps.clear()
        last[0], last[1] = time.perf_counter(), time.thread_time()
        t0 = time.perf_counter()
        for act in actions:
            act()
            end = time.perf_counter() + 0.012
            while time.perf_counter() < end:
                app.processEvents()
            if name == "stretch curve":
                settle()
        settle()
        worst[name] = (max(gaps, default=0.0) * 1000, max(cpu_gaps, default=0.0) * 1000, (time.perf_counter() - t0) * 1000)
    beat.stop()
    stretch, prep = Stretch("asinh", 0.5, 99.5), Preprocessing()
    t0, c0 = time.perf_counter(), time.thread_time()
    for p in paths[:visible]:
        old_render(p, stretch, prep, 96)
    render(paths[0], stretch)
    old, old_cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
    print(f"\nGUI thread, a strip of {len(paths)} images ({visible} visible at 96 px) and the preview, 1366x420:")
    print(f"  old: one stretch change rendered on the GUI thread: {old:.0f} ms stall, {old_cpu:.0f} ms of its CPU "
          "(measured now, same work)")
    for name, (gap, cpu, total) in worst.items():
        print(f"  new: {name:13s} longest GUI stall {gap:5.1f} ms ({old / gap:4.1f}x shorter), {cpu:4.1f} ms of its "
              f"CPU ({old_cpu / max(cpu, 0.1):5.1f}x less), all redrawn in {total:.0f} ms")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    top.close()


if __name__ == "__main__":
    raise SystemExit(main())
