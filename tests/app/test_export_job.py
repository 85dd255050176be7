"""File > Export runs as a job: through Ctrl+E and the menu, with its status, errors, cancel, and a live window."""

from __future__ import annotations

import csv
import threading
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app import dialogs
from core.catalog import export as core_export
from tests.helpers import open_and_cluster

ROWS = 150_000  # survey scale: seconds of writing even on a quiet machine


def _said(window) -> str:
    return window.statusBar().currentMessage() or window.stage_label.text()


def _many_rows(monkeypatch, copies: int, pause: float = 0.0) -> None:
    """The catalogue's 30 rows repeated ``copies`` times (what a survey folder's store would give), read in ``pause`` s."""
    real = core_export.catalogue_rows

    def rows(*args, **kwargs):
        time.sleep(pause)
        return real(*args, **kwargs) * copies

    monkeypatch.setattr(core_export, "catalogue_rows", rows)


def test_ctrl_e_exports_as_a_job_and_says_where(qtbot, window, folder, tmp_path, monkeypatch):
    p = open_and_cluster(qtbot, window, folder)
    target = tmp_path / "out" / "catalogue.csv"
    target.parent.mkdir()
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "save_path", lambda _w, title, *a, **k: asked.append(title) or str(target))
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        assert window.jobs.current_name == "export"  # started, not yet finished: the GUI thread did not write it
        assert window.stage_label.text() == f"Exporting {len(p)} rows to {target}…"
        assert window.progress.maximum() == 0 and window.progress.isVisible()  # a busy indicator
    assert asked == ["Export catalogue"] and blocker.args[0] == "export"
    assert _said(window) == f"Exported {len(p)} rows to {target}"
    assert window.progress.maximum() == 1000  # the bar is a bar again for the next job
    with open(target, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(p)
    assert target.with_name(target.name + ".json").is_file()
    # the menu entry of another format does the same
    menu_target = tmp_path / "out" / "catalogue.vot"
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(menu_target))
    action = next(a for a in window.export_actions if "VOTable" in a.text())
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        action.trigger()
    assert menu_target.stat().st_size > 0 and _said(window) == f"Exported {len(p)} rows to {menu_target}"


def test_an_unwritable_folder_gives_an_error_with_a_hint(qtbot, window, folder, tmp_path, monkeypatch):
    open_and_cluster(qtbot, window, folder)
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("a file where the folder should be")  # unwritable whoever runs the test (root too)
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(blocker_file / "catalogue.csv"))
    with qtbot.waitSignal(window.jobs.failed, timeout=60_000) as failed:
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert failed.args[0] == "export"
    assert window.last_error.startswith(f"Cannot write {blocker_file / 'catalogue.csv'}: ")
    box = window.findChildren(QMessageBox, "error_box")[-1]
    assert box.isVisible() and box.informativeText().startswith("Choose a folder you can write to")
    assert "FITS" not in box.informativeText()
    assert not window.jobs.busy and window.export_actions[0].isEnabled()  # nothing left half-started


def test_the_window_stays_live_and_labels_while_a_large_export_runs(qtbot, window, folder, tmp_path, monkeypatch):
    p = open_and_cluster(qtbot, window, folder)
    _many_rows(monkeypatch, ROWS // len(p))
    target = tmp_path / "big.csv"
    ticks: list[float] = []
    timer = QTimer(window)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    p.selection.set(np.array([3]))
    labelled = False
    with qtbot.waitSignal(window.jobs.finished, timeout=300_000):
        start = time.perf_counter()
        window.export_catalogue(str(target))
        assert time.perf_counter() - start < 0.1  # starting it does not write it
        while window.jobs.busy:
            qtbot.wait(20)
            if not labelled:
                qtbot.keyClick(window, Qt.Key.Key_2)  # label during the export: no crash, no wait
                labelled = True
    timer.stop()
    during = [t for t in ticks if t >= start]
    gaps = np.diff(during)
    print(f"export of {ROWS} rows: {during[-1] - start:.2f} s, {len(during)} ticks, longest gap {gaps.max() * 1e3:.0f} ms")
    assert len(during) >= 20 and gaps.max() < 0.5  # the GUI thread kept running (a frozen one gives one gap)
    assert labelled and p.user_labels[3] == p.classes[1].name and p.store.labels()  # on disk during the export
    assert "label change(s) made while it was written may be missing" in _said(window)
    assert _said(window).startswith(f"Exported {len(p)} rows to {target}")
    with open(target, newline="") as fh:
        assert sum(1 for _ in fh) == ROWS // len(p) * len(p) + 1


def test_esc_cancels_an_export_before_it_writes(qtbot, window, folder, tmp_path, monkeypatch):
    open_and_cluster(qtbot, window, folder)
    _many_rows(monkeypatch, 1, pause=1.0)
    target = tmp_path / "cancelled.csv"
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(target))
    with qtbot.waitSignal(window.jobs.cancelled, timeout=60_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert blocker.args == ["export"]
    assert _said(window) == f"Export cancelled: {target} was not written" and not target.exists()


def test_export_cancels_no_running_job(qtbot, window, folder, tmp_path, monkeypatch):
    open_and_cluster(qtbot, window, folder)
    target = tmp_path / "never.csv"
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(target))
    release = threading.Event()
    window.jobs.start("suggest", lambda progress, should_stop: release.wait(30))  # a job that runs until released
    qtbot.waitUntil(lambda: not window.export_actions[0].isEnabled())
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # disabled while it runs: says why
    assert "Suggest is running: wait for it" in _said(window)
    assert window.export_catalogue(str(target)) is None  # a script's start is refused, and said
    assert "Exporting the catalogue not started: suggest is still running" in _said(window)
    assert window.jobs.current_name == "suggest" and not window.jobs.current._stop  # nothing cancelled
    with qtbot.waitSignal(window.jobs.finished, timeout=30_000) as blocker:
        release.set()
    assert blocker.args[0] == "suggest" and not target.exists()


def test_exports_to_the_proposed_names_in_two_formats_keep_one_sidecar_each(qtbot, window, folder, monkeypatch):
    """The save dialog proposes catalogue.csv, then catalogue.vot, in one folder: both wrote catalogue.json before."""
    import hashlib
    import json

    open_and_cluster(qtbot, window, folder)
    monkeypatch.setattr(dialogs, "save_path", lambda _w, _title, proposed, *a, **k: str(proposed))  # OK, as offered
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    action = next(a for a in window.export_actions if "VOTable" in a.text())
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        action.trigger()
    for name, fmt in (("catalogue.csv", "csv"), ("catalogue.vot", "votable")):
        side = json.loads((folder / f"{name}.json").read_text())
        assert side["catalogue"]["format"] == fmt
        assert side["catalogue"]["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert not (folder / "catalogue.json").exists()


def test_a_name_of_another_format_typed_into_an_export_dialog_is_refused_and_one_without_extension_gets_its_own(
        qtbot, window, folder, tmp_path, monkeypatch):
    """Exploratory QA: x.csv typed into the FITS export's dialog wrote a FITS table named x.csv."""
    from astropy.table import Table

    open_and_cluster(qtbot, window, folder)
    errors = []
    monkeypatch.setattr(window, "show_error", lambda message, *a: errors.append(message))
    fits_entry = next(a for a in window.export_actions if "FITS" in a.text())
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(tmp_path / "x.csv"))
    fits_entry.trigger()
    assert errors == ["Not exported: x.csv names a csv catalogue, not a fits one: name it x.fits"]
    assert not window.jobs.busy and not (tmp_path / "x.csv").exists()
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(tmp_path / "x"))
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        fits_entry.trigger()
    assert len(Table.read(tmp_path / "x.fits")) == len(window.project) and not (tmp_path / "x").exists()
