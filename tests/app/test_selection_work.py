"""Edit > Select all on a survey: the shared selection made distinct and sorted by a sort, not numpy's hashing unique.

numpy 2's ``np.unique`` hashes, and at 200,000 distinct indices its table outgrows the cache: 50 ms of the
GUI thread for Select all, which needs only a sort (1.5 ms).  The count below is of calls, not time.
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
