"""Labelling keys at the edges of a session (issue 18, items 7, 13 and 14), pressed as the user presses them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import cluster as _cluster
from tests.helpers import fast as _fast


def _clustered(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    return window.project


def test_enter_on_an_unnamed_cluster_makes_no_class(qtbot, window, folder):
    p = _clustered(qtbot, window, folder)
    assert 0 not in p.cluster_names
    classes_before = p.class_names()
    window.show_cluster(0)
    first = int(p.selection.indices[0])
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert p.user_labels[first] is None
    assert p.class_names() == classes_before and "cluster 0" not in p.class_names()
    assert "Enter did not label: cluster 0 has no name" in window.stage_label.text()
    np.testing.assert_array_equal(p.selection.indices, [first])  # still on it, to answer with a number key
    p.name_cluster(0, p.classes[0].name)  # named: Enter takes the name and moves on
    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert p.user_labels[first] == p.classes[0].name
    assert p.class_names() == classes_before


def test_the_end_of_the_list_stops_the_keys(qtbot, window, folder):
    p = _clustered(qtbot, window, folder)
    window.set_classify_mode(True)
    window.show_cluster(1)
    rows = [int(r) for r in window.grid.rows()]
    for _ in rows:
        qtbot.keyClick(window, Qt.Key.Key_1)
    first_class = p.classes[0].name
    assert [p.user_labels[r] for r in rows] == [first_class] * len(rows)
    assert "End of the list" in window.stage_label.text()
    assert len(p.selection.indices) == 0  # the marker left the last galaxy
    qtbot.keyClick(window, Qt.Key.Key_2)  # one key too many: nothing is overwritten, and it says why
    assert p.user_labels[rows[-1]] == first_class
    assert window.stage_label.text().startswith("Select images first")


def test_a_digit_typed_into_a_spin_box_says_it_did_not_label(qtbot, window, folder):
    p = _clustered(qtbot, window, folder)
    window.show_cluster(0)
    row = int(p.selection.indices[0])
    box = window.run_settings.n_clusters
    box.setFocus()
    box.selectAll()
    qtbot.keyClick(box, Qt.Key.Key_4)
    assert box.value() == 4  # the box took the key, as a number box should
    assert p.user_labels[row] is None
    message = window.statusBar().currentMessage()
    assert "The key 4 went to the 'Clusters' box" in message and "did not label" in message


def test_retrain_after_reprojecting_keeps_the_projection_it_draws(qtbot, window, folder, tmp_path):
    import json

    window.open_folder(folder)
    _fast(window, k=3, method="dec")
    _cluster(qtbot, window)
    p = window.project
    assert p.projection() == "pca"
    combo = window.run_settings.projection
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):  # the user picks t-SNE in the Map box
        combo.setCurrentIndex(combo.findData("tsne"))
        combo.activated.emit(combo.currentIndex())
    tsne = p.coords.copy()
    window.show_cluster(0)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_1, Qt.Key.Key_2):
        qtbot.keyClick(window, key)
    with qtbot.waitSignal(window.jobs.finished, timeout=180_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0] == "retrain" and p.run.is_round
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        window.open_folder(folder)  # reopen
    q = window.project
    np.testing.assert_allclose(q.coords, tsne)
    assert q.projection() == "tsne" and window.run_settings.projection.currentData() == "tsne"
    _, sidecar = q.export(tmp_path / "cat.csv")
    assert json.loads(sidecar.read_text())["projection"] == "tsne"


def test_the_hidden_cluster_table_does_not_recount_on_every_key(qtbot, window, folder, monkeypatch):
    import core.clustering.metrics as metrics

    p = _clustered(qtbot, window, folder)
    calls = []
    real = metrics.crosstab_scores  # what the table scores its counts with
    monkeypatch.setattr(metrics, "crosstab_scores", lambda *a, **k: calls.append(1) or real(*a, **k))
    table = window.catalogue.table
    window.show_cluster(0)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2) * 3:  # the table's dock is behind the Galaxies tab
        qtbot.keyClick(window, key)
    qtbot.wait(2 * table.DEBOUNCE_MS)
    assert calls == [] and table.stale
    window.docks["Cluster x label"].raise_()  # the user looks at it: it counts what was labelled
    qtbot.waitUntil(lambda: not table.stale, timeout=5_000)
    assert len(calls) == 1 and int(table.counts.sum()) == 6
    assert "accuracy (optimal matching)" in table.scores.text()
    for key in (Qt.Key.Key_1, Qt.Key.Key_2) * 3:  # shown: at most one recount per pause in labelling
        qtbot.keyClick(window, key)
    qtbot.waitUntil(lambda: not table.stale, timeout=5_000)
    labelled = sum(u is not None for u in p.user_labels)
    assert labelled > 6 and len(calls) <= 3 and int(table.counts.sum()) == labelled


def test_the_shown_cluster_table_against_a_truth_file_codes_the_truth_once_not_on_every_recount(qtbot, window, folder,
                                                                                               monkeypatch):
    """A GUI audit at 200,000 galaxies: with the Cluster x label dock shown against a truth file, each pause in
    labelling recounted it by looking up every galaxy's id in the truth again (about 130 ms of the GUI thread).
    The truth's classes are coded once for the images; a recount counts the codes."""
    from app.widgets import qt_cluster_table
    from tests.helpers import truth_and_wait

    p = _clustered(qtbot, window, folder)
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    table = window.catalogue.table
    window.docks["Cluster x label"].raise_()
    qtbot.waitUntil(lambda: not table.stale, timeout=5_000)
    coded = []
    real = qt_cluster_table.class_codes
    monkeypatch.setattr(qt_cluster_table, "class_codes", lambda cols: coded.append(len(cols)) or real(cols))
    counted = []
    real_count = qt_cluster_table.crosstab_coded
    monkeypatch.setattr(qt_cluster_table, "crosstab_coded", lambda *a: counted.append(1) or real_count(*a))
    before = table.counts.copy()
    window.show_cluster(0)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2) * 3:
        qtbot.keyClick(window, key)
        qtbot.wait(table.DEBOUNCE_MS + 50)  # a pause: the shown table recounts
    qtbot.waitUntil(lambda: not table.stale, timeout=5_000)
    assert counted and coded == [] and np.array_equal(table.counts, before)  # recounted, the truth not recoded
    table.against.setCurrentIndex(table.against.findData("labels"))  # your labels change with each key: coded anew
    qtbot.waitUntil(lambda: not table.counting, timeout=5_000)  # counted off the GUI thread
    assert coded == [len(p)] and int(table.counts.sum()) == 6
