"""Every menu action and every shortcut, triggered the way the user triggers it (issue 18, goal).

On a clustered project, each QAction of the menu bar is fired through its shortcut
when it has one (else ``trigger()``, a menu click), and each QShortcut through its
key.  Each must do its job or say why not: no exception, no silent nothing.  The
file and message dialogs are answered as a user would answer them.  A new action or
shortcut without an entry here fails the coverage check at the end.
"""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtGui import QAction, QShortcut
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from app import dialogs
from app.widgets import qt_tables
from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast


def _press(qtbot, window, action: QAction) -> None:
    """The action's first shortcut pressed on the window, or a menu click when it has none."""
    if action.shortcut().isEmpty():
        action.trigger()
        return
    combo = action.shortcut()[0]
    qtbot.keyClick(window, combo.key(), combo.keyboardModifiers())


def _said(window) -> str:
    return window.statusBar().currentMessage() or window.stage_label.text()


def _menu_actions(window) -> list[tuple[str, QAction]]:
    found = []

    def walk(menu, path):
        for a in menu.actions():
            if a.isSeparator():
                continue
            if a.menu() is not None:
                walk(a.menu(), f"{path}/{a.text()}")
            else:
                text = re.sub(r"^(&Undo|&Redo) .*", r"\1", a.text())  # "Undo label 3 image(s)": the same action
                found.append((f"{path}/{text}".replace("&", ""), a))

    for top in window.menuBar().actions():
        walk(top.menu(), top.text())
    return found


def test_every_action_and_shortcut_does_its_job_or_says_why(qtbot, window, folder, tmp_path, monkeypatch):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    answers = {"dir": str(folder), "file": str(folder / "labels.csv"), "save": ""}
    helped: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: answers["dir"]))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answers["file"], "")))
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: answers["save"])
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda _parent, _title, text: helped.append(text)))
    monkeypatch.setattr(qt_tables._JoinDialog, "exec", lambda self: qt_tables.QDialog.DialogCode.Accepted)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda _w, _t, _l, items, *a, **k: (items[0], True)))
    monkeypatch.setattr(QMessageBox, "exec", lambda box: next(b for b in box.buttons() if b.text() == "Link").click())
    actions = dict(_menu_actions(window))
    done: set[str] = set()

    def act(name: str, job: str | None = None, timeout: int = 120_000) -> None:
        action = dict(_menu_actions(window))[name]  # the recent menu is rebuilt on each open
        done.add(name)
        if job is None:
            _press(qtbot, window, action)
            return
        with qtbot.waitSignal(window.jobs.finished, timeout=timeout) as blocker:
            _press(qtbot, window, action)
        assert blocker.args[0] == job, name

    # ---- File
    act("File/Open folder…", job="load-features")
    assert window.project.features is not None
    act("File/Open recent/" + str(folder), job="load-features")
    assert window.recent_folders() == [str(folder)] and window.project.features is not None
    p = window.project
    for name in [n for n in actions if n.startswith("File/Export ") and "map" not in n]:
        answers["save"] = str(tmp_path / f"cat_{len(done)}")
        if "HATS" in name or "Regions" in name:  # the sample's PNGs have no sky position: it says so, and why
            with qtbot.waitSignal(window.jobs.failed, timeout=60_000) as failed:
                act(name)
            assert failed.args[0] == "export" and "sky position" in window.last_error, name
            assert "celestial WCS" in failed.args[2] and "outside the image folder" not in failed.args[2], name
            for box in window.findChildren(QMessageBox, "error_box"):
                box.close()  # read: the window takes the keys again
            window.activateWindow()
            qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
            continue
        act(name, job="export")
        assert "Exported 30 rows" in _said(window), name
    answers["save"] = str(tmp_path / "map.png")
    act("File/Export map (PNG/SVG/JPEG)…")
    assert (tmp_path / "map.png").stat().st_size > 1000
    answers["save"] = str(tmp_path / "backup.sqlite")
    act("File/Back up project…")  # written off the GUI thread: the status bar says when
    qtbot.waitUntil(lambda: "Backed up the project" in _said(window), timeout=30_000)
    assert (tmp_path / "backup.sqlite").stat().st_size > 0
    # ---- Edit: select all, copy, select none, copy refused with a reason
    act("Edit/Select all")
    assert len(p.selection.indices) == len(p)
    act("File/Copy selected file paths")
    assert len(QApplication.clipboard().text().splitlines()) == len(p)
    act("Edit/Select none")
    assert len(p.selection.indices) == 0
    _press(qtbot, window, actions["File/Copy selected file paths"])
    assert "Select galaxies first" in _said(window)
    # ---- labelling keys (QShortcuts) and undo/redo
    window.show_cluster(0)
    first = int(p.selection.indices[0])
    classes = [c.name for c in p.classes]
    keys = {s.key().toString(): s for s in window.findChildren(QShortcut)}
    pressed: set[str] = set()

    def key(text: str) -> None:
        pressed.add(text)
        s = keys[text].key()[0]
        qtbot.keyClick(window if keys[text].parent() is window else keys[text].parent(), s.key(), s.keyboardModifiers())

    key("1")
    assert p.user_labels[first] == classes[0]
    act("Edit/Undo")
    assert p.user_labels[first] is None
    act("Edit/Redo")
    assert p.user_labels[first] == classes[0]
    for i in range(2, 10):
        row = int(p.selection.indices[0])
        key(str(i))
        if i <= len(classes):
            assert p.user_labels[row] == classes[i - 1]
        else:
            assert p.user_labels[row] is None and f"Key {i} labels nothing" in _said(window)
    row = int(p.selection.indices[0])
    key("U")
    assert p.user_labels[row] == "unsure"
    row = int(p.selection.indices[0])
    key("X")
    assert p.user_labels[row] == "exclude"
    for clear in ("Backspace", "Del"):
        p.selection.set([first])
        key(clear)
        assert p.user_labels[first] is None
    for enter in ("Return", "Enter"):
        p.selection.set([first])
        key(enter)  # cluster 0 has no name: says so; named, it labels
        assert p.user_labels[first] is None and "has no name" in _said(window)
    for letter, mode in (("L", "lasso"), ("R", "rect"), ("P", "pan")):
        key(letter)
        assert window.map.view.mode == mode
    # ---- View: classify mode with its arrows, the docks
    act("View/Classify mode (one galaxy large)")
    assert window.central.currentWidget() is window.classify
    window.show_cluster(1)
    start = int(p.selection.indices[0])
    key("Right")
    assert int(p.selection.indices[0]) == int(window.grid.row_after(start))
    key("Left")
    assert int(p.selection.indices[0]) == start
    act("View/Classify mode (one galaxy large)")
    assert window.central.currentWidget() is window.map
    for name in [n for n in actions if n.startswith("View/") and "Classify" not in n]:
        dock = next(d for d in window.docks.values() if d.toggleViewAction() is actions[name])
        before = dock.isVisible()
        act(name)
        assert dock.isVisible() is not before, name
        actions[name].trigger()
    # ---- Run
    act("Run/Cluster", job="cluster")
    p = window.project
    act("Run/Suggest galaxies to label", job="suggest")
    assert len(window.grid.rows()) == 10
    act("Run/Retrain from my labels")  # k-means keeps no encoder: refused, with the reason
    assert not actions["Run/Retrain from my labels"].isEnabled() and "needs a DEC run" in _said(window)
    act("Run/Retrain automatically every 20 new labels")
    assert window.auto_retrain_action.isChecked()
    actions["Run/Retrain automatically every 20 new labels"].trigger()
    act("Run/Compute morphology parameters", job="morphology")
    assert "Morphology parameters" in window.stage_label.text()
    act("Run/Load features")  # loaded already: greyed out, with its reason (test_feature_load.py: after Esc)
    assert not actions["Run/Load features"].isEnabled() and p.features is not None
    assert window.action_states.why[actions["Run/Load features"]] == "The features are loaded"
    act("Run/Cancel")
    assert "Nothing is running to cancel" in _said(window)
    with qtbot.waitSignal(window.jobs.cancelled, timeout=120_000):
        window.start_clustering()
        _press(qtbot, window, actions["Run/Cancel"])
    # ---- Catalogue
    import csv

    catalogue = tmp_path / "cat.csv"
    with open(catalogue, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "mass"])
        w.writerows([n, i] for i, n in enumerate(p.names))
    answers["file"] = str(catalogue)
    act("Catalogue/Join a catalogue (CSV)…", job="join")
    assert "cat_mass" in p.catalog_columns and "30 of 30 images matched" in window.stage_label.text()
    answers["file"] = str(folder / "labels.csv")
    act("Catalogue/Load a truth file (CSV)…")
    qtbot.waitUntil(lambda: "30 of 30 images have a class" in window.stage_label.text())  # read off the GUI thread
    answers["dir"] = str(tmp_path / "montages")
    act("Catalogue/Export montages per cluster (PNG)…", job="montages")
    assert len(list((tmp_path / "montages").glob("*.png"))) == len(p.cluster_ids())
    answers["dir"] = str(tmp_path / "linked")
    act("Catalogue/Copy or link a cluster's files into a folder…", job="copy files")
    assert np.sum(p.clusters == p.cluster_ids()[0]) == len(list((tmp_path / "linked").iterdir()))
    act("Catalogue/Send to TOPCAT/Aladin (SAMP)")  # sent to a running hub, or says why not (no hub here)
    qtbot.waitUntil(lambda: window.stage_label.text().startswith("SAMP: ")
                    and "sending" not in window.stage_label.text(), timeout=30_000)
    dock_toggle = next(n for n in actions if n.startswith("Catalogue/Cluster x label"))
    dock = window.docks["Cluster x label"]
    before = dock.isVisible()
    act(dock_toggle)
    assert dock.isVisible() is not before
    # ---- Help, then Quit
    act("Help/Keyboard and privacy")
    assert helped and "Labelling keys" in helped[0]
    act("File/Quit")
    assert not window.isVisible()
    # ---- every action and every shortcut was exercised
    assert set(actions) - done == set()
    assert set(keys) - pressed == set()
