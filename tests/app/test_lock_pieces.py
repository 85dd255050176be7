"""A job's long C calls are cut into pieces, so the window gets the interpreter lock between them.

The window's wall clock froze while an export, a reopen or a map projection ran on a thread of its own: one C
call there (astropy's copy of a catalogue into a fresh array, one ``dict(zip())`` of a joined column, one
``json.loads`` of a join's record, scipy's SVD) kept the lock for 0.2-1.9 s at 200,000 galaxies.  These tests
count the rows each such call is given (:data:`core.pieces.PIECE_ROWS` made small), through the menu entries
the user chooses; never a time.
"""

from __future__ import annotations

import pytest

from tests.helpers import export_from_menu, join_and_wait, open_and_cluster, while_shown

PIECE = 7  # rows a piece here: the sample folder's images make several pieces


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of :data:`PIECE` rows, counted from zero."""
    from core import pieces

    monkeypatch.setattr(pieces, "PIECE_ROWS", PIECE)
    monkeypatch.setattr(pieces, "stats", {"largest": 0, "pieces": 0})
    return pieces


def _join(qtbot, window, p, tmp_path) -> None:
    """A catalogue of every image but the first: a number and a text column (two dicts by path in an export)."""
    cat = tmp_path / "cat.csv"
    cat.write_text("id,mass,kind\n" + "".join(f"{n},{i * 0.5},k{i % 3}\n" for i, n in enumerate(p.names) if i))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p) - 1


def test_a_votable_export_from_the_menu_copies_its_rows_in_pieces(qtbot, window, folder, tmp_path, monkeypatch,
                                                                    small_pieces):
    """File > Export Catalogue (VOTable): astropy's ``as_array`` copied the whole catalogue in one call per column
    (170 ms of lock at 200,000 galaxies, the first touch of 60 MB); now no call of it is given a row, the rows are
    copied PIECE at a time, and the joined columns' dicts by path are made PIECE pairs at a time."""
    from astropy.table import Table

    p = open_and_cluster(qtbot, window, folder)
    _join(qtbot, window, p, tmp_path)
    copied: list[int] = []
    real = Table.as_array
    monkeypatch.setattr(Table, "as_array", lambda self, *a, **k: copied.append(len(self)) or real(self, *a, **k))
    target = tmp_path / "catalogue.vot"
    export_from_menu(qtbot, window, monkeypatch, target, "VOTable")
    assert target.stat().st_size > 0
    assert max(copied, default=0) == 0  # the old code: as_array of every row (len(p)) in one call a column
    assert small_pieces.stats["largest"] == PIECE
    # the catalogue's rows in pieces, and each of the two joined columns' dicts
    assert small_pieces.stats["pieces"] >= 3 * (-(-len(p) // PIECE))
    back = Table.read(target)
    want = {n: i * 0.5 for i, n in enumerate(p.names) if i}
    assert len(back) == len(p)
    assert {str(r["id"]): float(r["cat_mass"]) for r in back if str(r["id"]) in want} == want


def test_an_exports_rows_are_let_go_in_pieces(qtbot, window, folder, tmp_path, monkeypatch, small_pieces):
    """File > Export Catalogue (VOTable): the catalogue's rows (a dataclass, its dict and a dozen values each) were
    freed by one list.clear() when written, 2.6 million objects at 200,000 galaxies, 110-190 ms with the lock held;
    they go PIECE at a time now."""
    import core.catalog.export as export

    freed: list[int] = []  # the rows each call let go

    class Rows(list):
        def clear(self):
            freed.append(len(self))
            super().clear()

        def __delitem__(self, index):
            freed.append(len(self[index]) if isinstance(index, slice) else 1)
            super().__delitem__(index)

    real = export.catalogue_rows
    monkeypatch.setattr(export, "catalogue_rows", lambda *a, **k: Rows(real(*a, **k)))
    p = open_and_cluster(qtbot, window, folder)
    target = tmp_path / "catalogue.vot"
    export_from_menu(qtbot, window, monkeypatch, target, "VOTable")
    assert target.stat().st_size > 0
    assert sum(freed) == len(p) and max(freed) == PIECE  # the old code: one clear() of every row


def test_a_csv_export_from_the_menu_writes_its_lines_in_pieces(qtbot, window, folder, tmp_path, monkeypatch,
                                                               small_pieces):
    """File > Export Catalogue (CSV): the catalogue was one string (30 MB at 200,000 galaxies), joined, checked and
    encoded in three calls of tens of ms each with the lock held; its lines are written PIECE at a time now, the
    same bytes (the CSV of the rows written in one piece)."""
    import core.catalog.export as export

    p = open_and_cluster(qtbot, window, folder)
    _join(qtbot, window, p, tmp_path)
    written: list[int] = []
    real_open = open

    class Counted:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)

        def write(self, text):
            written.append(text.count("\n"))  # the lines one write encodes
            return self.fh.write(text)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(export, "open", lambda *a, **k: Counted(real_open(*a, **k)), raising=False)
    target = tmp_path / "catalogue.csv"
    export_from_menu(qtbot, window, monkeypatch, target, "(CSV)")
    assert max(written) == PIECE and sum(written) == len(p) + 1  # the old code: one write of every line
    rows = export.catalogue_rows(p.store, p.run_id, {name: dict(zip(p.paths, values))
                                                     for name, values in p.catalog_columns.items()})
    monkeypatch.setattr(small_pieces, "PIECE_ROWS", 10_000)
    export.write_csv(rows, tmp_path / "whole.csv")
    assert target.read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_an_lda_map_from_the_map_box_fits_without_scipys_svd(qtbot, window, folder, monkeypatch):
    """Run panel > Map: LDA.  scikit-learn's LDA called scipy.linalg.svd on every labelled row (200,000 x 50 in a
    survey), one call that kept the lock 0.35-0.9 s; the map's job now fits scikit-learn's eigen solver
    (two 50 x 50 scatter matrices, Ledoit-Wolf shrinkage): no SVD in scikit-learn's LDA."""
    import sys

    import numpy as np
    import scipy.linalg

    from tests.helpers import pick

    p = open_and_cluster(qtbot, window, folder)
    half = len(p) // 2
    p.set_labels(range(half), "Spiral")
    p.set_labels(range(half, len(p)), "Elliptical")
    calls: list[tuple[str, tuple]] = []
    real = scipy.linalg.svd

    def svd(a, *args, **kwargs):
        calls.append((sys._getframe(1).f_globals.get("__name__", ""), np.shape(a)))
        return real(a, *args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "svd", svd)
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        pick(qtbot, window.run_settings.projection, "lda")
    assert done.args[0] == "project"
    qtbot.waitUntil(lambda: p.projection() == "lda", timeout=10_000)
    assert [c for c in calls if "discriminant" in c[0]] == []  # the old code: 2 SVDs, one of every labelled row
    assert np.isfinite(p.coords).all() and np.ptp(p.coords[:, 0]) > 0


def test_open_recent_decodes_a_joins_record_in_pieces(qtbot, window, folder, tmp_path, monkeypatch):
    """File > Open recent of a folder with a joined catalogue: the store's record of the join (every matched value by
    image key, 29 MB at 200,000 galaxies) was one json.loads, 0.4 s with the lock held on the opening's thread; it is
    decoded in runs of about JSON_PIECE_CHARS characters now, to the same columns."""
    import json

    import numpy as np

    from core import project_join

    p = open_and_cluster(qtbot, window, folder)
    _join(qtbot, window, p, tmp_path)
    joined = {name: list(values) for name, values in p.catalog_columns.items()}
    monkeypatch.setattr(project_join, "JSON_PIECE_CHARS", 100)
    decoded: list[int] = []
    real = json.JSONDecoder.raw_decode

    def raw_decode(self, s, idx=0):
        value, end = real(self, s, idx)
        decoded.append(end - idx)  # the characters one call of the C decoder went through
        return value, end

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", raw_decode)
    entry = next(a for a in window.recent.menu.actions() if a.text() == str(folder))
    entry.trigger()  # File > Open recent > the folder shown: read again off the GUI thread
    qtbot.waitUntil(lambda: window.project is not p and bool(window.project.catalog_columns), timeout=60_000)
    setting = window.project.store.db.execute("SELECT value FROM settings WHERE key = 'catalog/join'").fetchone()[0]
    assert len(setting) > 2_000 and max(decoded) < 1_000  # the old code: one call of the whole record
    again = window.project.catalog_columns
    assert list(again) == list(joined)
    for name, values in joined.items():
        if name == "cat_mass":
            np.testing.assert_array_equal(np.asarray(again[name], float), np.asarray(values, float))
        else:
            assert list(again[name]) == values


def test_open_recent_starts_its_work_on_other_threads_once_the_project_is_shown(qtbot, window, folder, tmp_path,
                                                                                monkeypatch):
    """File > Open recent: showing the project read (every view taking it, the map drawn) started the Cluster x label
    count, the look for FITS images and the feature load as it went, and shared the interpreter lock with them for
    the rest of its own work (110-220 ms of the GUI thread's CPU took 300-860 ms of wall at 200,000 galaxies).  No
    pool is asked to start anything while the project is shown now; all of it starts right after."""
    from PySide6.QtCore import QThreadPool

    p = open_and_cluster(qtbot, window, folder)
    _join(qtbot, window, p, tmp_path)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    showing = while_shown(monkeypatch, window)
    started: list[bool] = []  # for each pool start asked: whether the project was being shown then
    real_start = QThreadPool.start
    monkeypatch.setattr(QThreadPool, "start", lambda self, *args: started.append(bool(showing)) or real_start(self, *args))
    entry = next(a for a in window.recent.menu.actions() if a.text() == str(folder))
    entry.trigger()  # File > Open recent > the folder shown
    qtbot.waitUntil(lambda: window.project is not p and window.project.features is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    assert started.count(False) >= 2  # the read, then the count, the feature load...: all started
    assert started.count(True) == 0  # the old code: each started while the project was being shown


def test_the_window_waits_at_most_the_short_switch_interval_for_the_lock(window):
    """A window sets the interpreter's switch interval to app.workers.SWITCH_S (0.2 ms): the GUI thread takes the
    lock back after every Qt or numpy call that let it go, and waited up to the whole interval (1 ms) each time a
    job's Python thread ran beside it (a 30 ms repaint took 220-280 ms of wall during Load a truth file at 200,000
    rows).  A setting, not a count: what it bounds is the scheduler's (gui_stalls measured it)."""
    import sys

    from app.workers import SWITCH_S

    assert SWITCH_S <= 0.0002 and sys.getswitchinterval() <= SWITCH_S  # the old code: 0.001
