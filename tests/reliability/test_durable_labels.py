"""Issue 19, item 6: ``project.sqlite`` alone holds every acknowledged label; File > Back up project…"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from relhelp import copy_project


def _labels_in(db_file: Path) -> dict[int, str]:
    db = sqlite3.connect(db_file)
    try:
        return dict(db.execute("SELECT image_id, label FROM labels"))
    finally:
        db.close()


def _label_all_by_keys(qtbot, window) -> int:
    """Label every galaxy with the keyboard, as a user does: pick it, press 1."""
    p = window.project
    for row in range(len(p)):
        p.selection.set([row], window.grid)
        qtbot.keyClick(window, Qt.Key.Key_1)
    return sum(u is not None for u in p.user_labels)


def test_a_copy_of_project_sqlite_taken_while_open_holds_every_label(qtbot, window, template, tmp_path):
    folder = copy_project(template[0], tmp_path / "imgs")
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.open_folder(folder)
    labelled = _label_all_by_keys(qtbot, window)
    assert labelled == len(window.project) == 18
    # The app is still open: copy the database file alone (no -wal), as a backup tool or a user would.
    shutil.copyfile(folder / ".galaxy-sorter" / "project.sqlite", tmp_path / "copy.sqlite")
    assert len(_labels_in(tmp_path / "copy.sqlite")) == labelled


def test_file_back_up_project_writes_one_file_with_every_label(qtbot, window, template, tmp_path, monkeypatch):
    from app import dialogs

    folder = copy_project(template[0], tmp_path / "imgs")
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.open_folder(folder)
    labelled = _label_all_by_keys(qtbot, window)
    dest = tmp_path / "backups" / "mine.sqlite"
    dest.parent.mkdir()
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(dest))
    action = window.backup_action
    assert action.isEnabled() and "Back up project" in action.text()
    assert action in window.menuBar().actions()[0].menu().actions()  # it is in the File menu
    action.trigger()  # written off the GUI thread: the status bar says when
    qtbot.waitUntil(lambda: "Backed up" in window.stage_label.text(), timeout=30_000)
    assert dest.is_file() and not Path(str(dest) + "-wal").exists()
    assert len(_labels_in(dest)) == labelled
    assert "Backed up" in window.stage_label.text()
    # The backup is a project: restored into a fresh copy of the folder, the labels come back.
    restored = copy_project(template[0], tmp_path / "restored", with_store=False)
    (restored / ".galaxy-sorter").mkdir()
    shutil.copyfile(dest, restored / ".galaxy-sorter" / "project.sqlite")
    from core.project import Project

    again = Project.open(restored)
    try:
        assert sum(u is not None for u in again.user_labels) == labelled
    finally:
        again.close()
