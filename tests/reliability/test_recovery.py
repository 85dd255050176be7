"""Issue 19, item 13: a damaged cache is rebuilt; a damaged project database is recovered with every readable label."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from relhelp import copy_project

from core.cli import main
from core.project import Project

N_EXTRA = 3000  # images registered besides the 18 galaxies, so the tables span many pages


def _cluster(folder: Path, tmp_path: Path) -> tuple[int, str]:
    code = main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(tmp_path / "out.csv")])
    return code, ""


def _labelled_project(template, tmp_path) -> tuple[Path, dict[str, str]]:
    """A copy of the template with every galaxy labelled, and many more labelled entries (for many pages)."""
    folder = copy_project(template[0], tmp_path / "imgs")
    p = Project.open(folder)
    for row in range(len(p)):
        p.set_labels([row], ["spiral", "elliptical", "merger"][row % 3])
    with p.store.db:
        p.store.db.executemany("INSERT INTO images (path, name) VALUES (?, ?)",
                               [(f"old/x{i:05d}.png", f"x{i:05d}") for i in range(N_EXTRA)])
        p.store.db.executemany("INSERT INTO labels SELECT id, 'spiral', 'user', 1.0 FROM images WHERE path=?",
                               [(f"old/x{i:05d}.png",) for i in range(N_EXTRA)])
    p.store.checkpoint()
    labels = {Path(path).name: u for path, u in zip(p.paths, p.user_labels)}
    p.close()
    return folder, labels


def _corrupt_a_page_of(db_file: Path, table: str) -> int:
    """Overwrite one leaf page of ``table`` with garbage; return the number of pages of that table."""
    db = sqlite3.connect(db_file)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf' ORDER BY pageno",
                                      (table,))]
    db.close()
    assert len(pages) > 4, pages
    with open(db_file, "r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(np.random.default_rng(0).bytes(page_size))
    return len(pages)


def test_a_random_bytes_feature_index_is_rebuilt(template, tmp_path, capsys):
    folder, labels = _labelled_project(template, tmp_path)
    index = folder / ".galaxy-sorter" / "features" / "features.sqlite"
    index.write_bytes(np.random.default_rng(1).bytes(64 * 1024))
    code = main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 0, err
    db = sqlite3.connect(index)
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    db.close()
    p = Project.open(folder)
    try:
        assert {Path(x).name: u for x, u in zip(p.paths, p.user_labels)} == labels
    finally:
        p.close()


def test_a_damaged_page_of_project_sqlite_is_recovered_by_the_cli(template, tmp_path, capsys):
    folder, labels = _labelled_project(template, tmp_path)
    db_file = folder / ".galaxy-sorter" / "project.sqlite"
    _corrupt_a_page_of(db_file, "sqlite_autoindex_images_1")  # an index page: no label on it
    code = main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "damaged" in err and "recover" in err and "aside" not in err, err
    code = main(["recover", str(folder)])
    out = capsys.readouterr().out
    assert code == 0 and f"recovered {len(labels) + N_EXTRA} label(s)" in out, out
    kept = [k for k in (folder / ".galaxy-sorter").glob("project.sqlite.damaged-*") if not k.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and kept[0].read_bytes()[:16] == b"SQLite format 3\x00"
    p = Project.open(folder)  # the run whose assignments were damaged may be gone; the labels are not
    try:
        assert {k: v[0] for k, v in _labels_by_key(p).items() if not k.startswith("old/")} == \
            {name: u for name, u in labels.items()}
    finally:
        p.close()
    code = main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(tmp_path / "out.csv")])
    assert code == 0, capsys.readouterr().err


def _labels_by_key(p: Project) -> dict[str, tuple[str, str]]:
    keys = {i: k for k, i in dict.items(p.store.image_ids())}
    return {keys[i]: v for i, v in p.store.labels().items() if i in keys}


def test_a_damaged_label_page_keeps_every_other_label(template, tmp_path, capsys):
    folder, labels = _labelled_project(template, tmp_path)
    db_file = folder / ".galaxy-sorter" / "project.sqlite"
    n_pages = _corrupt_a_page_of(db_file, "labels")
    assert main(["recover", str(folder)]) == 0
    p = Project.open(folder)
    try:
        got = len(p.store.labels())
    finally:
        p.close()
    total = len(labels) + N_EXTRA
    # One leaf page lost at most (and the rows the reader steps over beside it); every other label kept.
    assert total - 2 * (total // n_pages + 1) <= got < total, (got, total, n_pages)


def test_the_app_offers_recovery_and_reopens_with_the_labels(qtbot, template, tmp_path):
    from app.window import MainWindow

    folder, labels = _labelled_project(template, tmp_path)
    _corrupt_a_page_of(folder / ".galaxy-sorter" / "project.sqlite", "sqlite_autoindex_images_1")
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    seen: list[str] = []

    def click_recover() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, click_recover)
            return
        seen.append(box.text() + " " + box.informativeText())
        next(b for b in box.buttons() if b.text() == "Recover").click()

    QTimer.singleShot(50, click_recover)
    assert window.open_folder(folder)
    assert seen and "damaged" in seen[0] and "Nothing is deleted" in seen[0]
    p = window.project
    assert p is not None
    assert {k: v[0] for k, v in _labels_by_key(p).items() if not k.startswith("old/")} == labels
    assert len(p.store.labels()) == len(labels) + N_EXTRA


@pytest.mark.parametrize("table", ["labels"])
def test_recovery_never_deletes_the_damaged_file(template, tmp_path, table):
    folder, _ = _labelled_project(template, tmp_path)
    db_file = folder / ".galaxy-sorter" / "project.sqlite"
    _corrupt_a_page_of(db_file, table)
    before = db_file.read_bytes()
    assert main(["recover", str(folder)]) == 0
    kept = [k for k in (folder / ".galaxy-sorter").glob("project.sqlite.damaged-*") if not k.name.endswith(("-wal", "-shm"))]
    assert [k.read_bytes() == before for k in kept] == [True]
    assert os.path.getsize(db_file) > 0


def test_recover_on_a_sound_database_changes_nothing_and_says_so(template, tmp_path, capsys):
    """Exploratory QA: ``recover`` on a healthy project renamed its database ``damaged-<time>`` and said "the damaged
    database is kept as ..."."""
    folder, labels = _labelled_project(template, tmp_path)
    db_file = folder / ".galaxy-sorter" / "project.sqlite"
    before = db_file.read_bytes()
    assert main(["recover", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "the project database is intact (SQLite's integrity check found no fault): nothing was changed" in out
    assert "damaged" not in out and not list(db_file.parent.glob("project.sqlite.damaged-*"))
    assert db_file.read_bytes() == before
    p = Project.open(folder)
    assert {Path(path).name: u for path, u in zip(p.paths, p.user_labels)} == labels
    p.close()
