"""Edit > Select all on a survey: the shared selection made distinct and sorted by a sort, not numpy's hashing unique.

numpy 2's ``np.unique`` hashes, and at 200,000 distinct indices its table outgrows the cache: 50 ms of the
GUI thread for Select all, which needs only a sort (1.5 ms).  With the strip sorted by name, Select all worked
out every galaxy's id and sorted them as text on the GUI thread (0.22 s at 200,000): they are worked out off it
once the sort is chosen.  The counts below are of calls, not time.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction

from tests.helpers import open_and_cluster


def test_select_all_never_asks_numpy_unique_about_every_galaxy(qtbot, window, folder, monkeypatch):
    p = open_and_cluster(qtbot, window, folder)
    sizes: list[int] = []
    real = np.unique
    monkeypatch.setattr(np, "unique", lambda values, *a, **k: sizes.append(np.size(values)) or real(values, *a, **k))
    select_all = next(a for a in window.findChildren(QAction) if a.text() == "Select &all")
    select_all.trigger()
    np.testing.assert_array_equal(p.selection.indices, np.arange(len(p)))
    assert len(p) not in sizes, sizes
    p.selection.set([5, 2, 2, 9, 5])  # the same answer as np.unique gave
    np.testing.assert_array_equal(p.selection.indices, [2, 5, 9])


def test_select_all_with_the_strip_sorted_by_name_works_out_no_id_on_the_gui_thread(qtbot, window, folder,
                                                                                      monkeypatch):
    import threading

    import core.project

    p = open_and_cluster(qtbot, window, folder)
    gui = threading.get_ident()
    asked: list[tuple[bool, int]] = []
    real = core.project.image_ids
    monkeypatch.setattr(core.project, "image_ids",
                        lambda paths: asked.append((threading.get_ident() == gui, len(paths))) or real(paths))
    window.grid.sort.setCurrentText("name")  # the strip's sort box: its list is sorted by its own ids at once
    qtbot.waitUntil(lambda: getattr(p, "names_ready", False), timeout=10_000)  # every id, off the GUI thread
    asked_before = list(asked)
    select_all = next(a for a in window.findChildren(QAction) if a.text() == "Select &all")
    select_all.trigger()
    assert (False, len(p)) in asked_before  # the naming thread worked them out
    assert (True, len(p)) not in asked and asked == asked_before  # Select all: none on the GUI thread
    names = real(p.paths)
    assert [names[r] for r in window.grid.rows()] == sorted(names)
