"""Catalogues and exports from the app: join by id (colours the map, exported beside the labels),
RA/Dec of FITS images with a WCS, the cluster x label (and x truth) table, montages, cluster folders."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.helpers import copy_and_wait, join_and_wait, open_and_cluster, truth_and_wait, write_wcs_galaxies
from tests.helpers import export_catalogue as _export


@pytest.mark.slow
def test_join_by_id_colours_the_map_and_is_exported(qtbot, window, folder, tmp_path):
    p = open_and_cluster(qtbot, window, folder)
    names = p.names
    cat = tmp_path / "cat.csv"
    # every image but the first two, a numeric column and a text one
    cat.write_text("id,mass,kind\n" + "".join(f"{n},{i * 0.5},x\n" for i, n in enumerate(names) if i >= 2))
    matched = join_and_wait(qtbot, window, str(cat), "id")
    assert matched == len(p) - 2
    assert window.color_combo.findText("colour by cat_mass") >= 0
    window.set_color_mode("cat_mass")
    legend = [item[1].text for item in window.map.legend.items]
    assert any("no match (2)" in t for t in legend)  # unmatched are grey, not the lowest colour
    out = _export(qtbot, window, str(tmp_path / "catalogue.csv"))
    rows = list(csv.DictReader(open(out)))
    assert rows[0]["cat_mass"] == "" and float(rows[5]["cat_mass"]) == 2.5 and rows[5]["id"] == names[5]
    # a text column is exported as text (and counts in the cluster table) but is no colour scale
    assert rows[0]["cat_kind"] == "" and rows[5]["cat_kind"] == "x"
    assert window.color_combo.findText("colour by cat_kind") < 0


def test_a_join_lasts_reopens_and_counts_in_the_cluster_x_truth_table(qtbot, window, folder, tmp_path):
    """A joined class column is what the clusters are scored against; reopening the folder keeps the join."""
    p = open_and_cluster(qtbot, window, folder)
    from core.catalog.truth import load_truth

    truth = load_truth(folder / "labels.csv")
    cat = tmp_path / "cat.csv"
    cat.write_text("objid,morph,t_type\n" + "".join(f"{n},{truth[n]},{i % 3}\n" for i, n in enumerate(p.names)))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p)
    first = list(csv.DictReader(open(_export(qtbot, window, str(tmp_path / "first.csv")))))
    window.open_folder(folder)  # reopen: the join comes back from the project store
    p = window.project
    assert p.join is not None and p.join.catalogue == str(cat.resolve())
    assert window.color_combo.findText("colour by cat_t_type") >= 0
    table = window.catalogue.table
    qtbot.waitUntil(lambda: not table.counting, timeout=10_000)  # the class-like columns found off the GUI thread
    i = table.against.findText("joined: cat_morph")
    assert i >= 0
    table.against.setCurrentIndex(i)  # what the user picks in the dock's combo box
    qtbot.waitUntil(lambda: not table.counting, timeout=10_000)  # counted off the GUI thread
    assert sorted(table.col_values) == sorted(set(truth.values()))
    assert int(table.counts.sum()) == len(p) and "cat_morph" in table.scores.text()
    assert "accuracy (optimal matching)" in table.scores.text()
    second = list(csv.DictReader(open(_export(qtbot, window, str(tmp_path / "second.csv")))))
    assert [k for k in first[0] if k.startswith("cat_")] == [k for k in second[0] if k.startswith("cat_")]
    assert [r["cat_objid"] for r in first] == [r["cat_objid"] for r in second] == [r["id"] for r in first]


@pytest.mark.slow
def test_cluster_table_montages_and_cluster_folder(qtbot, window, folder, tmp_path):
    import cv2

    p = open_and_cluster(qtbot, window, folder)
    table = window.catalogue.table
    window.docks["Cluster x label"].raise_()  # the table counts while it is shown (issue 18: not on every key)
    rows0 = np.flatnonzero(p.clusters == 0)
    p.set_labels(rows0[:3], "spiral")
    p.set_labels(np.flatnonzero(p.clusters == 1)[:2], "elliptical")
    qtbot.waitUntil(lambda: not table.stale, timeout=5_000)
    cols = table.col_values
    assert cols == ["elliptical", "spiral"]
    assert table.counts[table.row_values.index(0), cols.index("spiral")] == 3
    assert table.table.item(table.row_values.index(0), 2).text() == f"3 of {len(rows0)}"
    assert "accuracy (optimal matching)" in table.scores.text() and "flatter" in table.scores.text()
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    assert sorted(table.col_values) == ["edge_on", "elliptical", "spiral"]
    assert int(table.counts.sum()) == len(p) and "truth (labels.csv)" in table.scores.text()

    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        window.catalogue.export_montages(str(tmp_path / "montages"), per_cluster=4)
    files = blocker.args[1]
    assert len(files) == len(p.cluster_ids())
    assert all(cv2.imread(str(f)) is not None for f in files)

    made = copy_and_wait(qtbot, window, 0, str(tmp_path / "c0"), link=True)
    assert sorted(m.name for m in made) == sorted(p.paths[i].split("/")[-1] for i in rows0)
    assert all(m.is_symlink() for m in made)


@pytest.mark.slow
def test_fits_with_wcs_get_ra_dec_in_preview_and_catalogue(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 8)
    p = open_and_cluster(qtbot, window, folder, k=2)
    import threading

    from core.catalog import sky

    readers = []
    real = sky.wcs_centre
    monkeypatch.setattr(sky, "wcs_centre", lambda path: readers.append(threading.current_thread()) or real(path))
    window.show_cluster(int(p.clusters[3]))
    row = window.grid.current_row()
    # the header is read off the GUI thread: there the first read imported astropy.wcs and froze the window 1.1 s
    qtbot.waitUntil(lambda: f"RA {150.0 + int(p.names[row][1:]):.5f}, Dec -2.00000" in window.preview.meta.text())
    assert readers and threading.main_thread() not in readers
    rows = list(csv.DictReader(open(_export(qtbot, window, str(tmp_path / "cat.csv")))))
    for r in rows:
        assert abs(float(r["ra"]) - (150.0 + int(r["id"][1:]))) < 1e-6 and abs(float(r["dec"]) + 2.0) < 1e-6
    # a catalogue of positions 0.5 arcsec off joins by sky position
    cat = tmp_path / "sky.csv"
    cat.write_text("ra,dec,z\n" + "".join(f"{150.0 + i + 0.5 / 3600 / np.cos(np.radians(2))},-2.0,{i / 10}\n"
                                          for i in range(0, 8, 2)))
    assert join_and_wait(qtbot, window, str(cat), "sky", radius=1.0) == 4
    z = window.project.catalog_columns["cat_z"]
    np.testing.assert_allclose([z[p.names.index(f"g{i}")] for i in range(8)],
                               [0.0, np.nan, 0.2, np.nan, 0.4, np.nan, 0.6, np.nan])


def test_unreadable_or_cancelled_csv_from_the_catalogue_menu_says_why_and_changes_nothing(qtbot, window, folder,
                                                                                          tmp_path, monkeypatch):
    """Join a catalogue and Load a truth file, clicked in the menu: a cancelled dialog does nothing, a file
    that is no CSV gives the error box with what is needed, and neither touches the project."""
    from PySide6.QtWidgets import QFileDialog

    from app import dialogs

    p = open_and_cluster(qtbot, window, folder)
    menu = {a.text().replace("&", ""): a for a in window.menuBar().actions()}["Catalogue"].menu()
    actions = {a.text().replace("&", ""): a for a in menu.actions()}
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(dialogs, "error", lambda _w, message, hint="", details="": errors.append((message, hint)))
    answer = {"file": ""}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answer["file"], "")))
    bad = tmp_path / "not-a-table.csv"
    bad.write_bytes(b"\x00\x01\x02\xff" * 64)
    columns_before = dict(p.catalog_columns)
    for name, hint in (("Join a catalogue (CSV)…", "header row"), ("Load a truth file (CSV)…", "id and class")):
        answer["file"] = ""  # the user cancels the file dialog
        actions[name].trigger()
        assert errors == [], name
        answer["file"] = str(bad)
        actions[name].trigger()
        qtbot.waitUntil(lambda: not window.jobs.busy and not window.catalogue.table.reading, timeout=10_000)
        assert len(errors) == 1 and errors[0][0].startswith(f"Cannot read {bad}") and hint in errors[0][1], name
        errors.clear()
    assert dict(p.catalog_columns) == columns_before
    assert p.view_setting("truth_file") is None


def test_a_fits_export_of_a_non_ascii_folder_and_label_reads_back_the_same(qtbot, window, sample_folder, tmp_path):
    """The app's FITS export of ``/.../José/Müller`` with a class ``Spirale à barre`` (it used to fail: ASCII only)."""
    import shutil

    from astropy.table import Table

    folder = shutil.copytree(sample_folder, tmp_path / "José" / "Müller")
    p = open_and_cluster(qtbot, window, folder)
    p.set_labels([0], "Spirale à barre")
    out = _export(qtbot, window, tmp_path / "catalogue.fits", "fits", timeout=30_000)
    table = Table.read(out)
    assert sorted(table["path"]) == sorted(str(f) for f in folder.glob("*.png"))
    assert list(table["label"]).count("Spirale à barre") == 1


@pytest.mark.slow
def test_copying_a_cluster_of_band_file_galaxies_copies_every_band(qtbot, window, tmp_path):
    """Exploratory QA: a galaxy stored as ngc0_g/_r/_i.fits was copied as ngc0_i.fits alone, a one-band galaxy in the
    new folder, while the status said the cluster's files were copied."""
    from astropy.io import fits

    from tests.helpers import blob

    folder = tmp_path / "bands"
    folder.mkdir()
    for i in range(6):
        for k, band in enumerate("gri"):
            fits.PrimaryHDU(blob(3 + 2 * (i % 2) + k, size=48, seed=10 * i + k, colour=False).astype(np.float32)
                            ).writeto(folder / f"ngc{i}_{band}.fits")
    p = open_and_cluster(qtbot, window, folder, k=2)
    assert len(p) == 6  # one galaxy a band set
    rows = np.flatnonzero(p.clusters == 0)
    made = copy_and_wait(qtbot, window, 0, str(tmp_path / "c0"), link=False)
    bases = sorted(p.paths[i].split("/")[-1].rsplit("_", 1)[0] for i in rows)
    assert sorted(m.name for m in made) == sorted(f"{b}_{band}.fits" for b in bases for band in "gri")
    assert all((tmp_path / "c0" / m.name).read_bytes() == (folder / m.name).read_bytes() for m in made)


def test_copy_a_clusters_files_from_the_menu_copies_off_the_gui_thread(qtbot, window, folder, tmp_path, monkeypatch):
    """Catalogue > Copy or link a cluster's files, answered Copy: the files were copied on the GUI thread (a survey's
    cluster of thousands of files froze the window until the last one); now a job copies them."""
    import shutil
    import threading

    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    p = open_and_cluster(qtbot, window, folder)
    copiers = []
    real = shutil.copy2
    monkeypatch.setattr(shutil, "copy2", lambda *a, **k: copiers.append(threading.current_thread()) or real(*a, **k))
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda _w, _t, _l, items, *a, **k: (items[0], True)))
    monkeypatch.setattr(QMessageBox, "exec", lambda box: next(b for b in box.buttons() if b.text() == "Copy").click())
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "c0")))
    menu = {a.text().replace("&", ""): a for a in window.menuBar().actions()}["Catalogue"].menu()
    action = next(a for a in menu.actions() if a.text().startswith("Copy or &link"))
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        action.trigger()
    first = p.cluster_ids()[0]
    members = int(np.sum(p.clusters == first))
    assert done.args[0] == "copy files" and len(done.args[1]) == members
    assert len(copiers) == members and threading.main_thread() not in copiers
    assert f"Copied {members} file(s) of {p.cluster_name(first)}" in window.stage_label.text()


def test_a_truth_file_recounts_the_cluster_table_once(qtbot, tmp_path):
    """Setting a truth recounts the table once: the switch of the "against" box recounted it, then set_truth
    recounted it again (each recount matches every image id: 1.3 s of the GUI thread at 200,000 galaxies)."""
    from app.widgets.qt_cluster_table import QtClusterTable
    from core.project import Project
    from tests.helpers import fake_run

    p = Project.open(tmp_path)
    fake_run(p)
    table = QtClusterTable()
    qtbot.addWidget(table)
    table.set_project(p)
    recounts = []
    recount = table.refresh
    table.refresh = lambda: (recounts.append(1), recount())
    truth = {n: "a" if i % 2 else "b" for i, n in enumerate(p.names)}
    table.set_truth(truth, "truth.csv")
    qtbot.waitUntil(lambda: not table.counting, timeout=5_000)  # counted off the GUI thread
    assert len(recounts) == 1 and table.against.currentData() == "truth" and int(table.counts.sum()) == len(p)
    table.set_truth({n: "a" for n in p.names}, "other.csv")  # already counted against the truth: recounted once more
    qtbot.waitUntil(lambda: not table.counting, timeout=5_000)
    assert len(recounts) == 2 and table.col_values == ["a"]
    p.close()


def test_reopening_a_project_with_a_join_and_a_truth_recounts_the_cluster_table_once_each(qtbot, window, folder,
                                                                                         tmp_path):
    """Open recent on a project with a join and a truth file recounted the Cluster x label table 7-9 times (each
    removal and addition in its "against" box recounted it): 9 s of the GUI thread at 200,000 galaxies, 38 s at a
    million.  And a magnitude or an id was offered as classes: one table column per galaxy, 31 s at 200,000."""
    from core.catalog.truth import load_truth

    p = open_and_cluster(qtbot, window, folder)
    truth = load_truth(folder / "labels.csv")
    cat = tmp_path / "cat.csv"
    cat.write_text("objid,morph,t_type,mass\n" + "".join(f"{n},{truth[n]},{i % 3},{10 + i * 0.37}\n"
                                                       for i, n in enumerate(p.names)))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p)
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    table = window.catalogue.table
    offered = [table.against.itemData(i) for i in range(table.against.count())]
    assert sorted(offered) == ["cat_morph", "cat_t_type", "labels", "truth"], offered  # not the magnitude, not the id
    recounts = []
    recount = table.refresh
    table.refresh = lambda: (recounts.append(table.against.currentData()), recount())
    window.open_folder(folder)  # File > Open recent: the same folder
    qtbot.waitUntil(lambda: not table.reading and table.truth_name == "labels.csv" and not table.counting,
                    timeout=60_000)
    assert table.against.currentData() == "truth" and int(table.counts.sum()) == len(p)
    assert recounts == ["labels", "truth"], recounts  # the project shown, then its truth read again


def test_copying_or_linking_a_cluster_with_a_file_gone_copies_the_others_and_names_it(qtbot, window, folder, tmp_path):
    """A GUI audit: one file of the cluster deleted since the clustering stopped the copy at it with "Cannot write
    into <the destination>", which blamed the wrong folder, and a link made a dangling link for it, said nothing."""
    import os
    from pathlib import Path

    p = open_and_cluster(qtbot, window, folder)
    first = p.cluster_ids()[0]
    rows = np.flatnonzero(p.clusters == first)
    lost = Path(p.paths[rows[0]])
    os.unlink(lost)
    for link, verb in ((False, "Copied"), (True, "Linked")):
        out = tmp_path / verb
        made = copy_and_wait(qtbot, window, first, str(out), link=link)
        assert len(made) == len(rows) - 1 and not (out / lost.name).exists() and not (out / lost.name).is_symlink()
        said = window.stage_label.text()
        assert f"{verb} {len(rows) - 1} file(s)" in said and f"1 file(s) are gone or cannot be read, e.g. {lost}" in said


def test_file_export_regions_draws_a_labelled_wcs_folder_for_ds9_in_its_class_colours(qtbot, window, tmp_path,
                                                                                       monkeypatch):
    """File > Export > Regions (ds9, Aladin): a galaxy labelled by key is drawn in its class's colour at its WCS
    centre; the rest in their cluster's colour; the file is read back by astropy's regions (DS9 parser)."""
    from PySide6.QtCore import Qt

    from app import dialogs

    regions = pytest.importorskip("regions", reason="the dev extra's regions package reads the file back")
    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 8)
    p = open_and_cluster(qtbot, window, folder, k=2)
    window.show_cluster(int(p.clusters[0]))
    first = int(window.grid.rows()[0])
    p.selection.set([first], window.grid)
    qtbot.keyClick(window, Qt.Key.Key_1)
    spiral = p.classes[0]
    assert p.user_labels[first] == spiral.name
    target = tmp_path / "out" / "galaxies.reg"
    target.parent.mkdir()
    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(target))
    action = next(a for a in window.export_actions if "Regions" in a.text())
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as blocker:
        action.trigger()
    said = window.statusBar().currentMessage() or window.stage_label.text()
    assert blocker.args[0] == "export" and said == f"Exported {len(p)} rows to {target}"
    found = list(regions.Regions.read(str(target), format="ds9"))
    assert len(found) == len(p)
    by_ra = {round(r.center.icrs.ra.deg - 150.0): r for r in found}  # galaxy i lies at RA 150 + i
    mine = by_ra[int(p.names[first][1:])]
    assert mine.meta["text"] == spiral.name and mine.visual["color"].lower() == spiral.color.lower()
    assert sum(r.meta["text"] == spiral.name for r in found) == 1
