"""The longest GUI-thread stall of every user action on a survey-sized project (the house rule: none over 100 ms).

One command::

    QT_QPA_PLATFORM=offscreen nice -n 10 .venv/bin/python benchmarks/gui_stalls.py [--n 200000] [--only SUBSTRINGS]
        [--profile SUBSTRINGS] [--out DIR]

Builds once (``benchmarks/reopen_million.build``, kept under
``.cache/benchmarks/reopen_<n>``) a synthetic project of ``n`` galaxies: a stored
k-means run of 8 named clusters with map coordinates and confidences, 1% of the
galaxies labelled, no image files.  Each run works on a fresh copy of it under
``--out`` (default ``.cache/benchmarks/gui_stalls_<n>``), so the actions' labels
never reach the built one.  The feature job of the reopen returns synthetic
64-d features at once (there are no images to extract), and every dialog is
answered (a folder, a file, a name, a colour, the first choice of a list).

The window is opened (File > Open folder) and the user's actions are made one
after the other as a user makes them: clicks in the Clusters list, labelling
keys, undo and redo, Suggest, colour by, strip sorts, the size slider, classify
mode, the docks of the View menu, Select all, a map selection and lasso, a
whole cluster labelled, the Clusters and Classes panels (name, merge, split,
rename, colour), a catalogue joined and a truth file loaded, the Cluster x label
table, the Catalogue and File menus' exports, the Run menu and panel, and File >
Open recent of the same folder (with its join and truth), then File > Quit.
After each, the event loop runs until what it started (jobs, renders, redraw
timers, the table's recount) has finished.

A 5 ms timer beats on the GUI thread throughout.  For each action the table
gives the longest gap between two beats in the GUI thread's CPU time (the work
the window did while it could not answer: the verdict, against 100 ms) and in
wall time (the same plus the time the operating system gave other processes;
on a shared 2-core machine this alone can pass 100 ms).  The gap is the longest
piece, not the action's total: an action whose work is cut into short pieces,
or runs as a job, can take seconds and stay under 100 ms.  Two runs of the same
code differ by tens of ms (docs/benchmarks.md): read a difference smaller than
that from one run as noise.

The summary line names the action with the longest wall gap too, with the CPU
time the GUI thread and the process's other threads used in that gap: a gap
that is mostly other threads' CPU is a job's thread that kept the interpreter
lock (the GUI thread waited for it), one that is neither was the machine's
other processes or I/O.  ``--watch`` says which call kept the lock
(``benchmarks/_gil_watch.py``: a watchdog thread's stacks, in results.json).

``--only`` (comma-separated substrings of the action names) measures only the
actions named so; the project is always opened, and the unmeasured steps
between actions (a cluster clicked before a key) still run, but a skipped action
does not: name an action with what it builds on (an undo undoes whatever was
done last).  ``--profile`` profiles the GUI thread of the actions named so with
cProfile into ``--out``.  Every row, with the action's own call time, the
garbage collections in its longest gap and the status line it left, is written
to ``--out``/results.json as the run goes.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from benchmarks._gui_actions import (  # noqa: E402
    BUDGET_MS,
    CTRL,
    SHIFT,
    Stalls,
    answer_dialogs,
    click_cluster,
    key,
    menu_actions,
    spin,
    synthetic_features,
    trigger,
)
from benchmarks.reopen_million import build  # noqa: E402

K = 8  # clusters of the synthetic run (reopen_million's default: the same built project)
K_ = Qt.Key


def labelling(m: Stalls, w, p) -> None:
    """The Clusters list, the labelling keys on one galaxy, undo and redo, Suggest."""
    def one_galaxy() -> None:  # under --only: the state the skipped actions before would have left
        click_cluster(w, 3)()
        w.grid.view.setFocus()

    m.measure("Clusters list: click cluster 0 (strip shows ~n/k)", click_cluster(w, 0))
    m.measure("Clusters list: click cluster 3", click_cluster(w, 3))
    w.grid.view.setFocus()
    for name, k in (("Key 1 (one galaxy selected)", K_.Key_1), ("Key 2 (next galaxy)", K_.Key_2), ("Key U", K_.Key_U),
                    ("Key X", K_.Key_X), ("Key Backspace", K_.Key_Backspace)):
        m.measure(name, key(w, k), setup=one_galaxy)
    for i in range(10):
        m.measure(f"Key 1 repeat {i} (one galaxy, strip of a cluster)", key(w, K_.Key_1), setup=one_galaxy)
    m.measure("Ctrl+Z undo (one label)", key(w, K_.Key_Z, CTRL))
    m.measure("Ctrl+Shift+Z redo (one label)", key(w, K_.Key_Z, CTRL | SHIFT))
    m.measure("Enter on one galaxy of cluster 3 (named 'group 3')", key(w, K_.Key_Return), setup=one_galaxy)
    m.measure("Key Right (strip)", key(w.grid.view, K_.Key_Right))
    suggest = key(w, K_.Key_G, CTRL)
    m.measure("Ctrl+G Suggest (job + on_result)", suggest, until=lambda: not w.jobs.busy)
    m.measure("Key 1 on a suggested galaxy", key(w, K_.Key_1), setup=suggest)


def views(m: Stalls, w, p) -> None:
    """Colour by, the strip's sorts, the thumbnail size, classify mode, the docks of the View menu."""
    click_cluster(w, 0)()
    spin(200)
    colour = w.color_combo
    for i in range(colour.count()):
        m.measure(f"Colour by: {colour.itemData(i)}", lambda i=i: colour.setCurrentIndex(i))
    m.measure("Colour by: cluster (back)", lambda: colour.setCurrentIndex(colour.findData("cluster")))
    for s in w.grid.SORTS:
        m.measure(f"Sort strip: {s} (cluster of ~n/k)", lambda s=s: w.grid.sort.setCurrentText(s))
    m.measure("Sort strip: least sure first (back)", lambda: w.grid.sort.setCurrentText("least sure first"))

    def slide() -> None:
        for size in [*range(96, 257, 16), *range(256, 95, -32)]:
            w.grid.size_slider.setValue(size)
            spin(10)

    m.measure("Thumbnail size slider drag 96->256->96", slide)
    m.measure("Ctrl+K classify mode on", key(w, K_.Key_K, CTRL))
    m.measure("Classify mode: Right", key(w.classify, K_.Key_Right))
    m.measure("Classify mode: key 1", key(w, K_.Key_1))
    m.measure("Ctrl+K classify mode off", key(w, K_.Key_K, CTRL))
    for name in [n for n in menu_actions(w) if n.startswith("View/") and "Classify" not in n]:
        m.measure(f"{name} toggle off", trigger(w, name))
        m.measure(f"{name} toggle on", trigger(w, name))


def selections(m: Stalls, w, p) -> None:
    """Select all and none, a whole cluster and a lasso on the map, a whole cluster labelled, undone, redone, cleared."""
    m.measure("Edit/Select all", trigger(w, "Edit/Select all"))
    m.measure("File/Copy selected file paths (all)", key(w, K_.Key_C, CTRL | SHIFT))
    m.measure("Edit/Select none", trigger(w, "Edit/Select none"))
    whole = select_cluster_on_map(w, p, 2)

    def lasso() -> None:  # a square around the map's middle, as select_polygon gets it from a drawn lasso
        xy = p().coords
        cx, cy = np.median(xy, axis=0)
        r = 0.5 * float(np.std(xy))
        w.map.select_polygon(np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]]))

    m.measure("Map: select a whole cluster (lasso-sized, ~n/k)", whole)
    m.measure("Map: lasso (select_polygon) in the middle", lasso)
    m.measure("Map: select a whole cluster again", whole)
    m.measure("Key 1 on a whole-cluster selection", key(w, K_.Key_1), setup=whole)
    m.measure("Ctrl+Z undo (whole-cluster label)", key(w, K_.Key_Z, CTRL))
    m.measure("Ctrl+Shift+Z redo (whole-cluster label)", key(w, K_.Key_Z, CTRL | SHIFT))
    m.measure("Key Backspace on whole-cluster selection", key(w, K_.Key_Backspace), setup=whole)


def select_cluster_on_map(w, p, cluster: int):
    """Every galaxy of ``cluster`` selected on the map, as a lasso around it selects them."""
    return lambda: w.map.selection_requested.emit(np.flatnonzero(p().clusters == cluster), False)


def panels(m: Stalls, w, p, answers: dict) -> None:
    """The Clusters panel (name, accept, merge, split) and the Classes panel (preset, rename, merge, colour)."""
    buttons = {b.text(): b for b in w.clusters.findChildren(QPushButton)}

    def pick(cluster: int):
        def go() -> None:
            click_cluster(w, cluster)()
            spin(200)
        return go

    pick(1)()
    answers["item"] = "Spiral"
    m.measure("Clusters: Name as class (cluster 1 'Spiral')", buttons["Name as class…"].click)
    m.measure("Ctrl+Z undo (name cluster)", key(w, K_.Key_Z, CTRL))
    m.measure("Ctrl+Shift+Z redo (name cluster)", key(w, K_.Key_Z, CTRL | SHIFT))
    pick(1)()
    m.measure("Enter on a named cluster (one galaxy)", key(w, K_.Key_Return))
    m.measure("Map: select cluster 1 (named)", select_cluster_on_map(w, p, 1))
    m.measure("Enter on a whole named cluster (accept model labels)", key(w, K_.Key_Return),
              setup=select_cluster_on_map(w, p, 1))
    m.measure("Ctrl+Z undo (accept model labels)", key(w, K_.Key_Z, CTRL))
    pick(4)()
    answers["item"] = "5"
    m.measure("Clusters: Merge cluster 4 into 5", buttons["Merge into…"].click)
    m.measure("Ctrl+Z undo (merge clusters)", key(w, K_.Key_Z, CTRL))
    m.measure("Ctrl+Shift+Z redo (merge clusters)", key(w, K_.Key_Z, CTRL | SHIFT))
    m.measure("Ctrl+Z undo (merge clusters) again", key(w, K_.Key_Z, CTRL))
    pick(6)()
    m.measure("Clusters: Split cluster 6 in 2", buttons["Split in 2"].click, until=lambda: not w.jobs.busy)
    m.measure("Ctrl+Z undo (split)", key(w, K_.Key_Z, CTRL))
    answers["item"] = None

    cbuttons = {b.text(): b for b in w.classes.findChildren(QPushButton)}
    m.measure("Classes: Add preset", cbuttons["Add preset"].click)
    w.classes.list.setCurrentRow(0)
    answers["text"] = "Ellipticals"
    m.measure("Classes: Rename class 0", cbuttons["Rename…"].click)
    m.measure("Ctrl+Z undo (rename class)", key(w, K_.Key_Z, CTRL))
    w.classes.list.setCurrentRow(1)
    answers["item"] = p().class_names()[2]
    m.measure("Classes: Merge class 1 into 2", cbuttons["Merge into…"].click)
    m.measure("Ctrl+Z undo (merge classes)", key(w, K_.Key_Z, CTRL))
    answers["item"] = None
    w.classes.list.setCurrentRow(0)
    m.measure("Classes: Colour…", cbuttons["Colour…"].click)
    m.measure("Ctrl+Z undo (colour)", key(w, K_.Key_Z, CTRL))


def write_tables(p, folder: Path) -> tuple[Path, Path]:
    """A catalogue (mass, redshift, a kind) and a truth file (a class) of every galaxy, by its id."""
    rng = np.random.default_rng(3)
    cat, truth = folder / "cat.csv", folder / "truth.csv"
    with open(cat, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "mass", "z", "kind"])
        out.writerows([name, f"{rng.normal(10, 1):.3f}", f"{rng.uniform(0, 1):.4f}", ["E", "S", "Irr"][i % 3]]
                      for i, name in enumerate(p.names))
    classes = ["Elliptical", "Spiral", "Irregular"]
    with open(truth, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "class"])
        out.writerows([name, classes[int(c) % 3]] for name, c in zip(p.names, p.clusters, strict=True))
    return cat, truth


def catalogue(m: Stalls, w, p, answers: dict, scratch: Path) -> None:
    """A catalogue joined and coloured by, a truth file, the Cluster x label table, a cluster's files, SAMP."""
    cat, truth = write_tables(p(), scratch)
    answers["file"] = str(cat)
    m.measure("Catalogue/Join a catalogue (CSV, n rows)", trigger(w, "Catalogue/Join a catalogue (CSV)…"),
              until=lambda: not w.jobs.busy)
    colour = w.color_combo
    for i in range(colour.count()):
        if str(colour.itemData(i)).startswith("cat_"):
            m.measure(f"Colour by: {colour.itemData(i)}", lambda i=i: colour.setCurrentIndex(i))
    m.measure("Colour by: cluster (back)", lambda: colour.setCurrentIndex(colour.findData("cluster")))
    answers["file"] = str(truth)
    table = w.catalogue.table
    m.measure("Catalogue/Load a truth file (CSV, n rows)", trigger(w, "Catalogue/Load a truth file (CSV)…"),
              until=lambda: not table.reading)
    toggle = next(n for n in menu_actions(w) if n.startswith("Catalogue/Cluster x label"))
    m.measure("Catalogue/Cluster x label dock toggle", trigger(w, toggle))
    m.measure("Catalogue/Cluster x label dock toggle again", trigger(w, toggle))
    w.docks["Cluster x label"].show()
    w.docks["Cluster x label"].raise_()
    spin(300)
    for i in range(table.against.count()):
        m.measure(f"Cluster x label: against {table.against.itemData(i)}", lambda i=i: table.against.setCurrentIndex(i))
    click_cluster(w, 0)()
    spin(200)
    m.measure("Key 1 with Cluster x label dock shown", key(w, K_.Key_1))
    m.measure("Ctrl+Z with Cluster x label dock shown", key(w, K_.Key_Z, CTRL))
    m.measure("Clusters list click with Cluster x label shown", click_cluster(w, 5))
    w.docks["Galaxies"].raise_()
    spin(200)
    idle = lambda: not w.jobs.busy  # noqa: E731
    for name, folder, entry in (
            ("Catalogue/Export montages per cluster", "montages", "Catalogue/Export montages per cluster (PNG)…"),
            ("Catalogue/Copy or link a cluster's files (Link)", "linked",
             "Catalogue/Copy or link a cluster's files into a folder…"),
            ("Catalogue/Copy or link a cluster's files (Copy)", "copied",
             "Catalogue/Copy or link a cluster's files into a folder…")):
        (scratch / folder).mkdir()
        answers["dir"], answers["button"] = str(scratch / folder), "Copy" if "(Copy)" in name else "Link"
        m.measure(name, trigger(w, entry), until=idle)
    m.measure("Catalogue/Send to TOPCAT/Aladin (SAMP)", trigger(w, "Catalogue/Send to TOPCAT/Aladin (SAMP)"),
              until=lambda: w.stage_label.text().startswith("SAMP: ") and "sending" not in w.stage_label.text(),
              timeout_s=60)


def files_and_run(m: Stalls, w, p, answers: dict, scratch: Path, work: Path, n: int) -> None:
    """The File menu's exports and backup, the Run menu and panel, Help, Open recent of the same folder, Quit."""
    idle = lambda: not w.jobs.busy  # noqa: E731
    for name in [n for n in menu_actions(w) if n.startswith("File/Export ") and "map" not in n]:
        fmt = name[name.index("(") + 1:name.rindex(")")]  # "Export Catalogue (FITS table)…": a path per format
        answers["save"] = str(scratch / ("catalogue_" + "".join(ch if ch.isalnum() else "_" for ch in fmt)))
        m.measure(name, trigger(w, name), until=idle)
    for ext in ("png", "svg"):
        answers["save"] = str(scratch / f"map.{ext}")
        m.measure(f"File/Export map ({ext})", trigger(w, "File/Export map (PNG/SVG/JPEG)…"))
    answers["save"] = str(scratch / "backup.sqlite")
    m.measure("File/Back up project", trigger(w, "File/Back up project…"))
    retrain = "Run/Retrain automatically every 20 new labels"
    m.measure("Run/Retrain automatically toggle on", trigger(w, retrain))
    m.measure("Run/Retrain automatically toggle off", trigger(w, retrain))
    m.measure("Run/Cancel (nothing running)", key(w, K_.Key_Escape))
    m.measure("Run/Load features (loaded: disabled)", trigger(w, "Run/Load features"))

    def reproject(method: str):
        def go() -> None:
            box = w.run_settings.projection
            box.setCurrentIndex(box.findData(method))
            box.activated.emit(box.currentIndex())
        return go

    m.measure("Run panel: Map projection LDA (job + on_result)", reproject("lda"), until=idle)
    m.measure("Run panel: Map projection PCA (job + on_result)", reproject("pca"), until=idle)
    m.measure("Run panel: Suggest k (job)", w.run_settings.suggest_k_button.click, until=idle, timeout_s=600)
    m.measure("Run/Compute morphology parameters (no files)", trigger(w, "Run/Compute morphology parameters"),
              until=idle, timeout_s=900)
    m.measure("Run/Cluster (folder has no image files)", trigger(w, "Run/Cluster"), until=idle, timeout_s=600)
    m.measure("Help/Keyboard and privacy", trigger(w, "Help/Keyboard and privacy"))
    answers["dir"] = str(work)
    if len(p()) == n:  # still the synthetic run (Cluster found no images): reopen it
        # The project is read off the GUI thread: this one stays until the new one is read.  Watched by a weak
        # reference: the window lets it go by reference counting, and one held here would be thawed and collected.
        shown = weakref.ref(p())
        m.measure("File/Open recent (reopen same folder)", trigger(w, f"File/Open recent/{work}"),
                  until=lambda: w.project is not shown() and w.project.features is not None)
    m.measure("File/Quit (close)", trigger(w, "File/Quit"))


def print_table(m: Stalls, n: int, seconds: float) -> None:
    """The table of every action measured, its messages, and the summary line."""
    over = [r for r in m.rows if r["cpu_ms"] > BUDGET_MS]
    print(f"\n{n:,} galaxies, {K} clusters; longest GUI-thread gap (5 ms heartbeat) per action, "
          f"in the GUI thread's CPU ms and in wall ms; budget {BUDGET_MS:.0f} ms CPU\n")
    print("| action | CPU ms | wall ms | verdict |\n|---|---:|---:|---|")
    for r in m.rows:
        verdict = "over" if r["cpu_ms"] > BUDGET_MS else "ok"
        print(f"| {r['action']} | {r['cpu_ms']:.0f} | {r['wall_ms']:.0f} | {verdict} |")
    said = [(r["action"], note) for r in m.rows for note in r["notes"]]
    if said:
        print("\nwhat the window said (error and warning boxes, failed jobs, timeouts):")
        for action, note in said:
            print(f"  {action}: {note}")
    worst = max(m.rows, key=lambda r: r["cpu_ms"], default=None)
    wall = max(m.rows, key=lambda r: r["wall_ms"], default=None)
    print(f"\n{len(over)} of {len(m.rows)} actions over {BUDGET_MS:.0f} ms CPU"
          + (f"; the longest: {worst['action']}, {worst['cpu_ms']:.0f} ms" if worst else "")
          + (f"; the longest wall gap: {wall['action']}, {wall['wall_ms']:.0f} ms ({wall['wall_gap_cpu_ms']:.0f} ms the "
             f"GUI thread's CPU, {wall['wall_gap_others_cpu_ms']:.0f} ms other threads')" if wall else "")
          + f"; run {seconds / 60:.1f} min, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="galaxies of the synthetic project")
    parser.add_argument("--only", default="", help="comma-separated substrings: measure only the actions named so")
    parser.add_argument("--profile", default="", help="comma-separated substrings: cProfile these actions into --out")
    parser.add_argument("--watch", action="store_true",
                        help="a watchdog thread keeps the other threads' stacks in each action's longest wall gap "
                             "(benchmarks/_gil_watch.py; into results.json and the progress lines)")
    parser.add_argument("--out", type=Path, help="working copy, tables, results.json (default .cache/benchmarks/gui_stalls_<n>)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = args.out or ROOT / ".cache" / "benchmarks" / f"gui_stalls_{args.n}"
    built = ROOT / ".cache" / "benchmarks" / f"reopen_{args.n}"
    build(built, args.n, K)
    shutil.rmtree(out, ignore_errors=True)
    work, scratch = out / "project" / built.name, out / "scratch"
    shutil.copytree(built, work)
    scratch.mkdir()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"# commit {commit.strip() or '?'}; {args.n:,} galaxies copied to {work}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)

    from app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings=QSettings(str(out / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1366, 768)
    window.show()
    window.activateWindow()
    m = Stalls(window, out, [s for s in args.only.split(",") if s], [s for s in args.profile.split(",") if s], args.watch)
    answers = {"dir": str(work), "file": "", "save": "", "item": None, "text": "", "button": "Link"}
    answer_dialogs(answers, m.note)
    synthetic_features()
    show_error = window.show_error

    def error_box(message: str, hint: str = "", details: str = "") -> None:
        m.note(f"error box: {message}")
        show_error(message, hint, details)

    window.show_error = error_box
    window.jobs.failed.connect(lambda name, msg, *_: m.note(f"job {name} failed: {msg}"))
    p = lambda: window.project  # noqa: E731 - the project changes on a reopen
    m.beat.start()
    if m.watchdog is not None:
        m.watchdog.start()
    m.measure("File/Open folder (reopen) + feature load job", trigger(window, "File/Open folder…"),
              until=lambda: window.project is not None and window.project.features is not None, always=True)
    window.activateWindow()
    spin(100)
    labelling(m, window, p)
    views(m, window, p)
    selections(m, window, p)
    panels(m, window, p, answers)
    catalogue(m, window, p, answers, scratch)
    files_and_run(m, window, p, answers, scratch, work, args.n)
    m.beat.stop()
    if m.watchdog is not None:
        m.watchdog.stop()
    app.processEvents()
    print_table(m, args.n, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
