"""The GUI thread while the catalogue is exported: the old synchronous export against the export job.

One command::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/export_stall.py [--rows 150000] [--format csv]

Opens the main window on a synthetic 30-galaxy sample (made in a temporary folder),
clusters it (EfficientNet-Lite0, k-means, k=3), and makes its catalogue ``--rows``
rows long by repeating the 30 rows (the writers' cost is per row; a survey store of
that size is not needed to measure it).  Then, in one run, with a 5 ms heartbeat
timer on the GUI thread, it exports the catalogue twice: the way File > Export did
before (``Project.export`` called on the GUI thread) and as the ``export`` job it
is now (``MainWindow.export_catalogue``), and prints for each the wall time and the
longest gap between heartbeats (the longest the window could not answer), with
their ratios; then, over the job's wall time, the longest gap with nothing running
and beside a thread of plain Python (which hands the GIL back every 5 ms): what
the operating system's scheduler alone costs on a loaded machine, the floor
under any job's stall.
Absolute times are noisy on a shared machine; the ratio is the figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--format", default="csv")
    args = parser.parse_args(argv)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow
    from core.catalog import export as core_export
    from core.catalog.export import EXPORT_FORMATS
    from core.images.sample import make_sample

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="gs-export-"))
    folder = make_sample(tmp / "galaxies", per_class=10, size=128, seed=1)
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.show()
    window.open_folder(folder)
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(3)
    window.start_clustering()
    while window.jobs.busy or window.project.run_id is None:
        app.processEvents()
        time.sleep(0.01)
    p = window.project
    copies = max(1, args.rows // len(p))
    real = core_export.catalogue_rows
    core_export.catalogue_rows = lambda *a, **k: real(*a, **k) * copies
    rows = copies * len(p)
    suffix = EXPORT_FORMATS.get(args.format).options.suffix

    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)

    def measure(name: str, run) -> tuple[float, float]:
        for _ in range(20):  # the heartbeat running before the export starts
            app.processEvents()
            time.sleep(0.005)
        ticks.clear()
        t0 = time.perf_counter()
        run(tmp / f"{name}{suffix}")
        while window.jobs.busy:
            app.processEvents()
            time.sleep(0.001)
        wall = time.perf_counter() - t0
        for _ in range(5):
            app.processEvents()
            time.sleep(0.005)
        beats = [t0, *[t for t in ticks if t >= t0]]
        return wall, float(np.diff(beats).max())

    old_wall, old_gap = measure("old", lambda path: p.export(path, args.format))
    new_wall, new_gap = measure("job", lambda path: window.export_catalogue(str(path), args.format))

    def idle(path: Path) -> None:  # the heartbeat alone, as long as the job took: the machine's own gaps
        end = time.perf_counter() + new_wall
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    _, idle_gap = measure("idle", idle)

    def python_thread(path: Path) -> None:  # a thread of plain Python as long: the GIL handed back every 5 ms
        import threading

        def spin() -> None:
            end, x = time.perf_counter() + new_wall, 0
            while time.perf_counter() < end:
                x += 1
        thread = threading.Thread(target=spin)
        thread.start()
        while thread.is_alive():
            app.processEvents()
            time.sleep(0.001)

    _, spin_gap = measure("spin", python_thread)
    print(f"export of {rows} rows ({args.format}); 5 ms heartbeat on the GUI thread; one run")
    print(f"  old, on the GUI thread:  wall {old_wall:6.2f} s, longest GUI stall {old_gap * 1e3:7.0f} ms")
    print(f"  now, the 'export' job:   wall {new_wall:6.2f} s, longest GUI stall {new_gap * 1e3:7.0f} ms")
    print(f"  stall old/now: {old_gap / new_gap:.1f}x; wall now/old: {new_wall / old_wall:.2f}x "
          f"(house budget: no stall over 100 ms) -> {window.stage_label.text()}")
    print(f"  the same {new_wall:.2f} s without an export: longest gap {idle_gap * 1e3:5.0f} ms; beside a thread of "
          f"plain Python: {spin_gap * 1e3:5.0f} ms")
    print(f"    (what this machine's scheduler alone costs: a thread preempted while it holds the GIL keeps the window "
          f"waiting; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
