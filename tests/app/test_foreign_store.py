"""A folder that arrives with someone else's ``.galaxy-sorter/`` (exploratory QA, theme 1): its labels come back.

Stores written before schema 3 keyed each image by its absolute path.  One written on
Windows holds ``D:\\survey\\galaxies\\spiral_000.png``, one on macOS names in Unicode's
decomposed form (NFD, ``e`` + a combining accent) where Linux has them composed: opened
here, every image and label of such a store was left under a path no file has.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import numpy as np


def _older_store(folder: Path, stored: dict[str, str], labels: dict[str, str]) -> None:
    """A schema-2 store of ``folder`` as another machine wrote it: ``stored`` maps each file to the path it recorded."""
    from core.store.schema import migrate

    db = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
    db.isolation_level = None  # migrate's own BEGIN and COMMIT
    migrate(db, upto=2)  # the tables of schema 2, as that release made them
    db.isolation_level = ""
    db.execute("INSERT INTO runs VALUES (1, 1.0, 'kmeans', 'efficientnet_lite0', 3, '{}', '[]')")
    for i, (name, path) in enumerate(sorted(stored.items()), start=1):
        db.execute("INSERT INTO images (id, path, name) VALUES (?, ?, ?)", (i, path, Path(name).stem))
        db.execute("INSERT INTO assignments VALUES (1, ?, ?, 0.9, ?, ?)", (i, i % 3, float(i), float(i % 5)))
        if name in labels:
            db.execute("INSERT INTO labels VALUES (?, ?, 'user', 1.0)", (i, labels[name]))
    for position, name in enumerate(sorted(set(labels.values()))):
        db.execute("INSERT INTO classes VALUES (?, '#ff0000', ?)", (name, position))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.commit()
    db.close()


def _shown(window) -> dict[str, str | None]:
    """What the window shows: each galaxy's file (relative to the folder) and its label."""
    p = window.project
    return {Path(path).relative_to(p.folder).as_posix(): label for path, label in zip(p.paths, p.user_labels)}


def test_a_store_written_on_windows_by_an_older_version_shows_its_images_and_labels(window, folder):
    """File > Open on a folder whose schema-2 store was written on Windows (drive letter, backslashes, a subfolder):
    every image of its run is shown from its file here and its labels are on them (the old code: none found)."""
    (folder / ".galaxy-sorter").mkdir()
    (folder / "sub").mkdir()
    names = sorted(p.name for p in folder.glob("*.png"))[:6]
    (folder / names[5]).rename(folder / "sub" / names[5])
    files = [*names[:5], f"sub/{names[5]}"]
    stored = {f: "D:\\survey\\galaxies\\" + f.replace("/", "\\") for f in files}
    _older_store(folder, stored, {files[1]: "spiral", files[5]: "merger"})

    assert window.open_folder(folder)
    shown = _shown(window)
    assert sorted(shown) == sorted(files), "the run's images were left under the Windows paths"
    assert all((folder / f).is_file() for f in shown)
    assert {f: lab for f, lab in shown.items() if lab is not None} == {files[1]: "spiral", files[5]: "merger"}
    keys = [k for (k,) in window.project.store.db.execute("SELECT path FROM images")]
    assert not [k for k in keys if "\\" in k], keys


def test_a_store_written_on_macos_by_an_older_version_finds_its_decomposed_names(window, folder):
    """The same for a macOS store: absolute paths in NFD, the files here named in NFC."""
    (folder / ".galaxy-sorter").mkdir()
    files = []
    for i, src in enumerate(sorted(folder.glob("*.png"))[:4]):
        name = unicodedata.normalize("NFC", f"galaxié_{i}.png")
        src.rename(folder / name)
        files.append(name)
    stored = {f: "/Users/ann/Galaxies/" + unicodedata.normalize("NFD", f) for f in files}
    assert all(s != "/Users/ann/Galaxies/" + f for f, s in stored.items())
    _older_store(folder, stored, {files[0]: "elliptical", files[3]: "édge-on"})

    assert window.open_folder(folder)
    shown = _shown(window)
    assert sorted(shown) == sorted(files)
    assert {f: lab for f, lab in shown.items() if lab is not None} == {files[0]: "elliptical", files[3]: "édge-on"}
    assert np.isfinite(window.project.coords).all()


def test_labels_of_a_macos_store_follow_their_names_composed_here_when_no_content_was_recorded(qtbot, window, folder):
    """A schema-4 store labelled on macOS (names in NFD), closed before the labels' content was recorded, its feature
    cache not this installation's: copied here with the names composed (NFC), a run from the app puts each label back
    on its file (the old code: the labels stayed on the vanished NFD keys, no galaxy labelled)."""
    from core.store.database import ProjectStore
    from tests.helpers import cluster, fast

    files = []
    for i, src in enumerate(sorted(folder.glob("*.png"))[:3]):
        files.append(unicodedata.normalize("NFD", f"galaxié_{i}.png"))
        src.rename(folder / files[-1])
    store = ProjectStore(folder / ".galaxy-sorter", root=folder)  # the session on the Mac
    ids = store.add_images(sorted(folder.glob("*.png")))
    store.set_labels([ids[str(folder / files[0])]], "spiral")
    store.set_labels([ids[str(folder / files[2])]], "édge-on")
    store.close()
    db = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
    with db:  # what a close before the content recorder reached the labels leaves
        db.execute("UPDATE images SET content=NULL")
    db.close()
    for name in files:  # the copy to Linux composed the names
        (folder / name).rename(folder / unicodedata.normalize("NFC", name))

    window.open_folder(folder)
    fast(window)
    cluster(qtbot, window)
    shown = _shown(window)
    nfc = [unicodedata.normalize("NFC", name) for name in files]
    assert {f: lab for f, lab in shown.items() if lab is not None} == {nfc[0]: "spiral", nfc[2]: "édge-on"}
    # said as what it is: the same name, not the same content (the old words, "same content", named two look-alikes)
    assert "2 label(s) followed their image to the same name written in another Unicode form" in window.last_notice
    assert "same content" not in window.last_notice


def test_a_key_on_a_read_only_share_says_why_nothing_was_labelled(qtbot, window, folder, tmp_path, monkeypatch):
    """A labelled folder on a read-only share (its store cannot be written): key 1, Backspace and a cluster named in the
    Clusters dock say why nothing was saved, and the labels stay as they were (the old code: a traceback on stderr for
    the key, nothing on screen, the same for the name)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    import app.widgets.qt_labels as qt_labels
    from core.store import database
    from tests.helpers import cluster, fast

    window.open_folder(folder)
    fast(window)
    cluster(qtbot, window)
    window.project.set_labels([0], "spiral")
    before = list(window.project.user_labels)
    window.open_folder(tmp_path)  # let the folder go, then find it on a read-only share
    real = database._writable
    monkeypatch.setattr(database, "_writable", lambda where: False if folder in where.parents else real(where))
    assert window.open_folder(folder) and window.project.store.read_only
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    p = window.project

    said: list[str] = []
    p.selection.set([0, 1])
    for key in (Qt.Key.Key_1, Qt.Key.Key_Backspace):
        window.status.stage_label.clear()
        qtbot.keyClick(window, key)
        said.append(window.status.stage_label.text())
    assert all(m.startswith("Not labelled:") and "read-only" in m for m in said), said
    assert list(p.user_labels) == before

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: warned.append(text))
    monkeypatch.setattr(qt_labels, "ask_item", lambda *_a, **_k: ("spiral", True))
    window.clusters.tree.setCurrentItem(window.clusters.tree.topLevelItem(0))
    window.clusters._on_name()
    assert warned and "read-only" in warned[0]



def test_an_older_stores_path_that_climbs_out_of_the_folder_never_becomes_an_image_key(window, folder):
    """The migration to relative keys takes the longest tail of a stored path that names a file under the folder;
    a tail such as ``../secret.png`` (from ``D:\\survey\\..\\secret.png`` read by Windows' rules) named the file
    above the folder, and became the key of an image of the run, read from outside the folder.  File > Open now keys
    no tail that climbs; the stored path is left as it was, naming no file."""
    secret = folder.parent / "secret.png"
    secret.write_bytes((folder / sorted(p.name for p in folder.glob("*.png"))[0]).read_bytes())
    (folder / ".galaxy-sorter").mkdir()
    name = sorted(p.name for p in folder.glob("*.png"))[1]
    _older_store(folder, {name: f"D:\\survey\\{name}", "secret.png": "D:\\survey\\..\\secret.png"},
                 {"secret.png": "spiral"})
    assert window.open_folder(folder)
    keys = [k for (k,) in window.project.store.db.execute("SELECT path FROM images")]
    assert not [k for k in keys if ".." in Path(k).parts], keys
    assert not [p for p in window.project.paths if Path(p).resolve() == secret.resolve()]


def test_a_planted_stores_keys_outside_the_folder_are_never_read(qtbot, window, folder, tmp_path, monkeypatch):
    """A folder that arrives with someone else's store whose run lists ``../secret.png`` and an absolute path outside
    the folder, labelled and with no content recorded.  File > Open shows neither as a galaxy (its features, thumbnail
    and export would read a file outside the folder), lists both under Skipped files with why, never fingerprints
    them, and keeps their labels in the store (the old code: both shown, read and fingerprinted)."""
    import csv

    from tests.helpers import export_from_menu, open_and_cluster

    open_and_cluster(qtbot, window, folder)
    source = sorted(folder.glob("*.png"))[0].read_bytes()
    (tmp_path / "secret.png").write_bytes(source)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "private.png").write_bytes(source)
    planted = ["../secret.png", str(tmp_path / "elsewhere" / "private.png")]
    run = window.project.run_id
    window.open_folder(tmp_path / "elsewhere")  # let the folder go, as a copy from another machine would arrive
    db = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
    with db:
        for i, key in enumerate(planted):
            image = db.execute("INSERT INTO images (path, name) VALUES (?, ?)", (key, f"planted{i}")).lastrowid
            db.execute("INSERT INTO assignments VALUES (?, ?, 0, 0.9, 0.0, 0.0)", (run, image))
            db.execute("INSERT INTO labels VALUES (?, 'spiral', 'user', 1.0)", (image,))
    db.close()

    assert window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.jobs.busy and window.project.features is not None, timeout=60_000)
    p = window.project
    assert len(p) == 30, "the planted keys became galaxies of the run"
    assert "2 stored image(s) outside the folder not read, see 'Skipped files'" in window.stage_label.text()
    assert all(folder.resolve() in Path(path).resolve().parents for path in p.paths)
    window.skipped.refresh()
    items = [window.skipped.topLevelItem(i) for i in range(window.skipped.topLevelItemCount())]
    listed = {item.text(0): item.text(1) for item in items}
    assert sorted(listed) == sorted(planted), listed
    assert all("outside the folder" in why for why in listed.values()), listed
    assert p.store.contents.wait(30)
    rows = p.store.db.execute("SELECT i.path, i.content, l.label FROM images i JOIN labels l ON l.image_id = i.id "
                              "WHERE i.path IN (?, ?)", planted).fetchall()
    assert sorted(k for k, _, _ in rows) == sorted(planted), "their labels were lost"
    assert all(content is None for _, content, _ in rows), "a file outside the folder was read to fingerprint it"
    export_from_menu(qtbot, window, monkeypatch, tmp_path / "out.csv", "CSV")
    with open(tmp_path / "out.csv", newline="") as f:
        exported = [row["path"] for row in csv.DictReader(line for line in f if not line.startswith("#"))]
    assert len(exported) == 30 and not [path for path in exported if "secret" in path or "private" in path]


def test_a_truth_file_a_store_from_elsewhere_names_is_not_read(qtbot, window, folder, tmp_path, monkeypatch):
    """A store that arrived with the folder names a truth file outside it (as a plain path, as a version before the
    signature kept it, or signed by another installation): File > Open reads neither, says why, and the Cluster x label
    table has no truth; one loaded here from the menu comes back (the old code: the named file was read at the open)."""
    import json
    import shutil

    from core.catalog import truth as truth_module
    from tests.helpers import open_and_cluster, truth_and_wait

    open_and_cluster(qtbot, window, folder)
    elsewhere = tmp_path / "elsewhere.csv"
    shutil.copyfile(folder / "labels.csv", elsewhere)
    read: list[str] = []
    real = truth_module.load_truth
    monkeypatch.setattr(truth_module, "load_truth", lambda path: read.append(str(path)) or real(path))
    table = window.catalogue.table
    for planted in (str(elsewhere), {"path": str(elsewhere), "mac": "0" * 64}):
        window.open_folder(tmp_path)  # let the folder go, then find its store changed
        db = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
        with db:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('view/truth_file', ?)", (json.dumps(planted),))
        db.close()
        window.last_notice = ""
        assert window.open_folder(folder)
        qtbot.waitUntil(lambda: not table.reading and not window.jobs.busy, timeout=60_000)
        assert read == [] and table.truth is None
        assert window.last_notice.startswith("The truth file was not read again") and "elsewhere.csv" in window.last_notice
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == 30
    window.open_folder(folder)
    qtbot.waitUntil(lambda: table.truth_name == "labels.csv" and not table.reading, timeout=60_000)
    assert len(read) == 2  # loaded from the menu, and read again at the reopen
