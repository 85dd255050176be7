"""The strip's highlight and frames stay with the thumbnails on screen, however many galaxies are listed.

A GUI-thread audit at 200,000 and 1,000,000 galaxies: a lasso after a whole
cluster held the window 11.5 s (the old selection was marked again in the new
list, tens of thousands of ranges that Qt compared with the new one), Edit >
Select all made 1.2 million Python ``rowCount`` calls, and labelling a cluster
sent one repaint signal per galaxy.  The counts below are of work, not time.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers import fake_run, python_calls

N = 3000  # every third galaxy is in cluster 0: scattered through the whole list


@pytest.fixture
def strip(qtbot, tmp_path):
    """The strip, the preview and the labelling keys on a project of :data:`N` galaxies, as the window wires them."""
    from app.labelling import Labelling
    from app.widgets.qt_preview import QtPreview
    from app.widgets.qt_thumbnails import QtThumbnailGrid
    from core.project import Project

    (tmp_path / "images").mkdir()
    project = Project.open(tmp_path / "images", store_dir=tmp_path / "store")
    fake_run(project, N)
    grid, preview = QtThumbnailGrid(), QtPreview()
    for widget in (grid, preview):
        qtbot.addWidget(widget)
    labelling = Labelling(grid, preview, lambda _text: None)
    grid.resize(900, 260)
    grid.show()
    qtbot.waitExposed(grid)
    labelling.set_project(project)
    yield project, grid, labelling
    project.close()


def _ranges_selected(grid) -> list[int]:
    """How many ranges Qt's selection model says were selected, per change (the ranges it kept and compared)."""
    said: list[int] = []
    grid.view.selectionModel().selectionChanged.connect(lambda selected, _deselected: len(selected) and said.append(
        len(selected)))
    return said


def _on_screen(grid) -> np.ndarray:
    """Display positions whose thumbnail shows in the strip's viewport, by asking about every one."""
    area = grid.view.viewport().rect()
    return np.array([i for i in range(len(grid.rows())) if grid.view.visualRect(grid.model.index(i)).intersects(area)])


def _changes(grid) -> list[tuple[int, int]]:
    said: list[tuple[int, int]] = []
    grid.model.dataChanged.connect(lambda first, last, *_: said.append((first.row(), last.row())))
    return said


def _highlighted(grid) -> np.ndarray:
    return np.sort(grid.rows()[[i.row() for i in grid.view.selectionModel().selectedIndexes()]])


def test_a_new_selection_is_marked_once_and_never_the_old_one_again(qtbot, strip):
    """Select all after a whole cluster: the cluster, scattered through the new list, is not marked first."""
    p, grid, _ = strip
    grid.sort.setCurrentText("distance to cluster centre")
    cluster = np.flatnonzero(p.clusters == 0)
    p.selection.set(cluster, None)  # the map selects a whole cluster
    np.testing.assert_array_equal(_highlighted(grid), cluster)
    previewed = grid.current_row()
    selected = _ranges_selected(grid)
    p.selection.set(np.arange(N), None)  # Edit > Select all
    assert selected == [1], selected  # one run, the new list; the cluster was marked first, 1,000 ranges
    np.testing.assert_array_equal(_highlighted(grid), np.arange(N))
    assert grid.current_row() == previewed != int(grid.rows()[0])  # the galaxy in the preview stays there
    p.selection.set(cluster[::2], grid)  # a selection made in the strip keeps its list
    np.testing.assert_array_equal(_highlighted(grid), cluster[::2])
    shown = grid.rows()
    assert grid.current_row() == int(shown[np.isin(shown, cluster[::2])][0])  # the first of them in the strip


def test_select_all_does_python_work_for_the_thumbnails_on_screen_not_for_every_galaxy(qtbot, strip):
    p, grid, _ = strip
    p.selection.set(np.flatnonzero(p.clusters == 1), None)
    qtbot.wait(10)
    calls = python_calls(lambda: (p.selection.set(np.arange(N), None), qtbot.wait(10)))
    assert calls < 2000, calls  # Qt called the model's rowCount 6 to 8 times a galaxy: 23,000 calls
    calls = python_calls(lambda: (p.selection.set(np.array([5]), grid), qtbot.wait(10)))  # a click in the strip
    assert calls < 2000, calls  # Qt measured every deselected thumbnail: 3 rowCount calls each
    assert not grid.model.flags(grid.model.index(0)) & Qt.ItemFlag.ItemIsEditable  # a double click edits nothing


def test_labelling_a_whole_cluster_repaints_the_thumbnails_on_screen_once(qtbot, strip):
    p, grid, labelling = strip
    cluster = np.flatnonzero(p.clusters == 2)
    p.selection.set(cluster, None)
    qtbot.wait(10)
    off_screen = int(grid.rows()[-1])
    before = grid.decorated(off_screen).cacheKey()  # framed once, as if it had been scrolled past
    said = _changes(grid)
    labelling.label_selection(p.classes[0].name)
    assert len(said) == 1, len(said)  # was one signal per galaxy
    shown = _on_screen(grid)
    assert said[0] == (shown[0], shown[-1])  # every thumbnail on screen changed: all of them, nothing else
    assert grid.decorated(off_screen).cacheKey() != before  # framed anew when it comes into view
    said.clear()
    p.set_labels(cluster[-1:], None)  # a galaxy off screen: nothing to repaint now
    assert said == []


def test_a_colour_change_names_the_thumbnails_on_screen_only(qtbot, strip):
    p, grid, labelling = strip
    p.selection.set(np.arange(N), None)
    grid.view.scrollTo(grid.model.index(N // 2))
    qtbot.wait(10)
    said = _changes(grid)
    labelling.refresh()  # Colour by: ..., a class colour or a cluster name changed
    shown = _on_screen(grid)
    assert said == [(shown[0], shown[-1])] and 0 < len(shown) < N / 10


def test_sorting_a_cluster_by_name_works_out_the_ids_of_its_galaxies_only(qtbot, strip, monkeypatch):
    """The strip's sort by name worked out every galaxy's id first (200,000 at once: 0.3 s of the GUI thread)."""
    import core.project
    from core.images.io import image_id

    p, grid, labelling = strip
    asked: list[int] = []
    real = core.project.image_ids
    monkeypatch.setattr(core.project, "image_ids", lambda paths: asked.append(len(paths)) or real(paths))
    # Every id worked out off the GUI thread once the sort is chosen is the other way (test_selection_work.py):
    # this is the strip's own, while those are not ready yet.
    monkeypatch.setattr(labelling, "prepare_names", lambda: None, raising=False)
    labelling.show_cluster(0)
    grid.sort.setCurrentText("name")
    cluster = np.flatnonzero(p.clusters == 0)
    assert asked == [len(cluster)], asked  # its N / 3 galaxies, not the N of the project
    assert [image_id(p.paths[r]) for r in grid.rows()] == sorted(image_id(p.paths[r]) for r in cluster)
    asked.clear()
    p.selection.set(np.arange(N), None)  # Edit > Select all: most of the project asked, so every id, and kept
    labelling.show_cluster(1)
    assert asked == [N], asked
    assert [p.names[r] for r in grid.rows()] == sorted(p.names[r] for r in np.flatnonzero(p.clusters == 1))
    assert asked == [N], asked
