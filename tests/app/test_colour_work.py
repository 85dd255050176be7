"""Colour by label works out every galaxy's colour key in numpy, not in a Python loop a galaxy.

The counts are of lines of Python run in core/colouring.py (each pass of a loop counts again), not time:
at 200,000 galaxies the loops took 0.05 s of the GUI thread a click.
"""

from __future__ import annotations

import numpy as np

from core.vocabulary import LabelClass
from tests.helpers import fake_run, python_lines

N = 600


def test_colour_by_label_runs_no_python_line_a_galaxy(qtbot, window, tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    assert window.open_folder(tmp_path / "images")
    p = window.project
    fake_run(p, N)
    p.name_cluster(0, p.classes[0].name)
    p.set_labels(np.flatnonzero(p.clusters == 1)[:5], p.classes[1].name)
    p.classes.append(LabelClass("cluster 1", "#123456"))  # a store of before such names were refused (859cdfe)
    p.set_labels(np.flatnonzero(p.clusters == 2)[:1], "cluster 1")  # reads like unnamed cluster 1's name: coloured
    box = window.color_combo
    finals: list[int] = []
    real = type(p).final_labels
    monkeypatch.setattr(type(p), "final_labels", lambda self: finals.append(len(self)) or real(self))
    lines = python_lines(lambda: box.setCurrentIndex(box.findData("label")), "core/colouring.py")
    assert lines < 100, lines  # was 1,220: two a galaxy
    assert finals == []  # every galaxy's label as an object, then as text: the colouring works by codes
    groups = window.map._groups
    assert {str(g) for g in groups[p.clusters == 0]} == {p.classes[0].name}
    assert set(groups[p.clusters == 1].tolist()) == {p.classes[1].name, "cluster 1"}
    assert set(groups[p.clusters == 2].tolist()) == {"(no label)", "cluster 1"}


def test_a_whole_cluster_labelled_under_colour_by_label_regroups_no_point(qtbot, window, tmp_path, monkeypatch):
    """Key 2 on a whole cluster, the map coloured by label: its label is new to the map and the cluster's own group
    empties.  The map regrouped every point's key for that (``np.unique`` of 200,000 texts, 45 ms of the key); now
    only the cluster's points are restyled, the other groups renumbered, and the legend follows in its own repaint."""
    from PySide6.QtCore import Qt

    from app.widgets.qt_map import QtClusterMap

    (tmp_path / "images").mkdir()
    assert window.open_folder(tmp_path / "images")
    p = window.project
    fake_run(p, N)
    p.name_cluster(0, p.classes[0].name)  # cluster 0's galaxies show its class, which nobody else has
    box = window.color_combo
    box.setCurrentIndex(box.findData("label"))
    grouped: list[int] = []
    real = QtClusterMap._group
    monkeypatch.setattr(QtClusterMap, "_group", staticmethod(lambda groups: grouped.append(len(groups)) or real(groups)))
    rows = np.flatnonzero(p.clusters == 0)
    window.map.selection_requested.emit(rows, False)  # a lasso around the whole cluster
    cleared: list[int] = []
    legend_clear = window.map.legend.clear
    monkeypatch.setattr(window.map.legend, "clear", lambda: cleared.append(1) or legend_clear())
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert set(p.user_labels[rows].tolist()) == {p.classes[1].name}
    assert grouped == []  # no point's key regrouped
    drawn = window.map._style.copy()
    window.map_view.render()  # the map drawn afresh from the project: the same styles
    np.testing.assert_array_equal(window.map._style, drawn)
    qtbot.waitUntil(lambda: any(t.startswith(p.classes[1].name) for t in window.map.legend.texts), timeout=2_000)
    assert not any(t.startswith(p.classes[0].name) for t in window.map.legend.texts)
    assert cleared == []  # one entry came as another went: the entries restyled in place, none made anew


def test_enter_on_a_whole_cluster_named_as_no_class_yet_recolours_the_map_once_its_labels_are_written(
        qtbot, window, tmp_path, monkeypatch):
    """Enter on a whole cluster whose name is no class yet (a store whose clusters were named without classes): the
    class was added and saved first, the map recoloured whole for it before the labels were written, and the labels
    updated it again (153 ms of the key at 200,000 galaxies, coloured by label).  Now the map recolours once, after
    the labels, in an event of its own; and the named clusters are told apart in numpy, not a loop a galaxy."""
    from PySide6.QtCore import Qt

    (tmp_path / "images").mkdir()
    assert window.open_folder(tmp_path / "images")
    p = window.project
    fake_run(p, N)
    p.store.name_cluster(p.run_id, 1, "barred")
    p.cluster_names[1] = "barred"  # named, and no class of that name
    box = window.color_combo
    box.setCurrentIndex(box.findData("label"))
    rows = np.flatnonzero(p.clusters == 1)
    recolours: list[bool] = []
    recolor = window.map_view.recolor
    monkeypatch.setattr(window.map_view, "recolor", lambda *a: recolours.append(
        all(u == "barred" for u in p.user_labels[rows])) or recolor(*a))
    window.map.selection_requested.emit(rows, False)  # a lasso around the whole cluster
    lines = python_lines(lambda: qtbot.keyClick(window, Qt.Key.Key_Return), "app/labelling.py")
    assert "barred" in p.class_names() and set(p.user_labels[rows].tolist()) == {"barred"}
    assert recolours == []  # not during the key: in an event of its own
    qtbot.waitUntil(lambda: recolours != [], timeout=2_000)
    qtbot.wait(50)
    assert recolours == [True]  # once, with the labels written
    assert lines < 100, lines  # was 2 a galaxy of the cluster
    drawn = window.map._style.copy()
    window.map_view.render()
    np.testing.assert_array_equal(window.map._style, drawn)
