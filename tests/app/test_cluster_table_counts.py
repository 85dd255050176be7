"""The Cluster x label table counts off the GUI thread (app/widgets/qt_cluster_table.py refresh), pressed and
picked as the user does; an answer to an older question is dropped."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from tests.helpers import join_and_wait, open_and_cluster, truth_and_wait


def _settle(qtbot, table) -> None:
    qtbot.waitUntil(lambda: not table.counting and not table.stale and not table._timer.isActive(), timeout=10_000)


def test_the_cluster_x_label_table_numbers_counts_and_scores_off_the_gui_thread(qtbot, window, folder, tmp_path,
                                                                               monkeypatch):
    """A GUI audit at 200,000 galaxies: the table counted on the GUI thread, 142 ms when switched to a truth
    file, 123-133 ms after a key or an undo with its dock shown, and growing with the survey.  Now the GUI
    thread copies the clusters (and your labels) and draws the table; the numbering of each image's class, the
    counts and the scores run on the table's counting thread."""
    import core.clustering.metrics as metrics
    from app.widgets import qt_cluster_table
    from core.catalog.truth import load_truth

    p = open_and_cluster(qtbot, window, folder)
    truth = load_truth(folder / "labels.csv")
    cat = tmp_path / "cat.csv"
    cat.write_text("id,morph\n" + "".join(f"{n},{truth[n]}\n" for n in p.names))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p)
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    table = window.catalogue.table
    window.docks["Cluster x label"].raise_()  # the user looks at it
    _settle(qtbot, table)
    threads: dict[str, list[threading.Thread]] = {}

    def watch(module, name: str) -> None:
        if not hasattr(module, name):
            return
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, **k: threads.setdefault(name, []).append(
            threading.current_thread()) or real(*a, **k))

    for name in ("class_codes", "column_codes", "crosstab_coded"):
        watch(qt_cluster_table, name)
    watch(metrics, "crosstab_scores")
    box = table.against
    for what in ("cat_morph", "labels", "truth"):  # what the user picks in the dock's box
        box.setCurrentIndex(box.findData(what))
        _settle(qtbot, table)
        assert int(table.counts.sum()) == (len(p) if what != "labels" else 0), what
    assert sorted(table.col_values) == sorted(set(truth.values())) and "truth (labels.csv)" in table.scores.text()
    box.setCurrentIndex(box.findData("labels"))
    _settle(qtbot, table)
    window.show_cluster(0)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2):
        qtbot.keyClick(window, key)
        qtbot.wait(table.DEBOUNCE_MS + 50)  # a pause in labelling: the shown table recounts
        _settle(qtbot, table)
    assert int(table.counts.sum()) == 2
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the last label
    qtbot.wait(table.DEBOUNCE_MS + 50)
    _settle(qtbot, table)
    assert int(table.counts.sum()) == 1 and "your labels" not in table.scores.text()
    ran = [t for found in threads.values() for t in found]
    assert ran and threading.main_thread() not in ran
    assert sorted(threads) == ["class_codes", "column_codes", "crosstab_coded", "crosstab_scores"], sorted(threads)
    assert len(threads["crosstab_coded"]) >= 6


def test_a_count_asked_again_before_its_answer_came_draws_only_the_last_asked(qtbot, window, folder, monkeypatch):
    """Each pick in the box (and each pause in labelling) asks for a count; an answer that comes after a newer
    question is not drawn (it would show the clusters against what the box no longer says), and a count whose
    question was replaced before it began is not made."""
    from app.widgets import qt_cluster_table

    p = open_and_cluster(qtbot, window, folder)
    assert truth_and_wait(qtbot, window, folder / "labels.csv") == len(p)
    table = window.catalogue.table
    window.docks["Cluster x label"].raise_()
    _settle(qtbot, table)
    gate, counted = threading.Event(), []
    real = qt_cluster_table.crosstab_coded

    def held(*args):
        counted.append(threading.current_thread())
        gate.wait(5)  # the first count is still being made while the user picks again
        return real(*args)

    monkeypatch.setattr(qt_cluster_table, "crosstab_coded", held)
    drawn = []  # what the box said each time the table was drawn
    draw = table.table.setColumnCount
    monkeypatch.setattr(table.table, "setColumnCount", lambda n: drawn.append(table.against.currentData()) or draw(n))
    box = table.against
    box.setCurrentIndex(box.findData("labels"))
    qtbot.waitUntil(lambda: len(counted) == 1, timeout=5_000)
    box.setCurrentIndex(box.findData("truth"))  # asked again before the first answer came
    box.setCurrentIndex(box.findData("labels"))  # and again
    assert table.counting and table.stale
    gate.set()
    _settle(qtbot, table)
    qtbot.wait(100)
    assert drawn == ["labels"] and len(counted) == 2  # the first answer dropped, the second question never counted
    assert table.col_values == [] and int(table.counts.sum()) == 0 and np.asarray(table.counts).shape[1] == 0


def test_which_joined_columns_are_classes_is_found_off_the_gui_thread(qtbot, window, folder, tmp_path, monkeypatch):
    """A GUI audit at a million galaxies: a join's result asked, on the GUI thread, whether each joined column sorts
    galaxies into classes, which looks at every cell of a text column (60 ms a column of a million).  It is asked on
    the table's counting thread; the box offers the class-like columns when the answer comes."""
    import core.catalog.classes as classes
    from app.widgets import qt_cluster_table

    p = open_and_cluster(qtbot, window, folder)
    looked = []
    real = classes.class_like
    watch = lambda values: looked.append(threading.current_thread()) or real(values)  # noqa: E731
    monkeypatch.setattr(classes, "class_like", watch)
    monkeypatch.setattr(qt_cluster_table, "class_like", watch, raising=False)  # where it was looked up before
    cat = tmp_path / "cat.csv"
    cat.write_text("id,kind,t_type,mass\n" + "".join(f"{n},{'ES'[i % 2]},{i % 3},{10 + i * 0.37}\n"
                                                    for i, n in enumerate(p.names)))
    assert join_and_wait(qtbot, window, str(cat), "id") == len(p)
    table = window.catalogue.table
    qtbot.waitUntil(lambda: not table.counting, timeout=10_000)
    offered = [table.against.itemData(i) for i in range(table.against.count())]
    assert sorted(offered) == ["cat_kind", "cat_t_type", "labels"]  # not the magnitude, not the id
    assert len(looked) == 4 and threading.main_thread() not in looked
