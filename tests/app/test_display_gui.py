"""Issue 18 part B through what the user touches: the map export, the stale views, the polish,
the state kept per project (the window size and the GUI stalls: test_fit_and_stall.py)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog


def _save_as(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def test_export_map_as_svg_through_the_menu(qtbot, clustered, tmp_path, monkeypatch):
    w = clustered
    _save_as(monkeypatch, tmp_path / "map.png")
    w.export_map_action.trigger()
    assert (tmp_path / "map.png").stat().st_size > 1000
    assert str(tmp_path / "map.png") in w.stage_label.text()

    _save_as(monkeypatch, tmp_path / "map.svg")
    w.export_map_action.trigger()
    text = (tmp_path / "map.svg").read_text()
    assert "<svg" in text and "</svg>" in text
    assert text.count("<path") >= len(w.project)  # every galaxy a vector symbol, not one bitmap
    status = w.stage_label.text()
    assert str(tmp_path / "map.svg") in status and "map.png" not in status


def test_export_map_to_a_folder_that_cannot_be_written_says_so(qtbot, clustered, tmp_path, monkeypatch):
    w = clustered
    errors = []
    monkeypatch.setattr(w, "show_error", lambda message, *a: errors.append(message))
    _save_as(monkeypatch, tmp_path / "missing" / "map.svg")
    w.export_map_action.trigger()
    assert errors and "map.svg" in errors[0]
    assert w.stage_label.text().startswith("Map not saved")


def test_export_map_names_the_file_and_format_it_wrote_and_a_failure_keeps_the_old_file(
        qtbot, clustered, tmp_path, monkeypatch):
    """Exploratory QA: a JPEG was reported "as PNG", a name without an extension as a file never written, and
    the file already there was deleted before the export was tried, so a failed export lost it."""
    from pyqtgraph.exporters import ImageExporter

    w = clustered
    errors = []
    monkeypatch.setattr(w, "show_error", lambda message, *a: errors.append(message))
    _save_as(monkeypatch, tmp_path / "map.jpg")
    w.export_map_action.trigger()
    assert (tmp_path / "map.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert w.stage_label.text() == f"Map saved to {tmp_path / 'map.jpg'} as JPEG"
    _save_as(monkeypatch, tmp_path / "map")
    w.export_map_action.trigger()
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "map").exists()
    assert w.stage_label.text() == f"Map saved to {tmp_path / 'map.png'} as PNG"
    _save_as(monkeypatch, tmp_path / "map.pdf")
    w.export_map_action.trigger()
    assert errors.pop().endswith(".pdf is not a format the map is saved in (BMP, JPEG, PNG, SVG, TIFF)")
    assert not (tmp_path / "map.pdf").exists()
    # the export fails (a full disk: nothing written): the map saved before is still there, whole
    before = (tmp_path / "map.png").read_bytes()
    monkeypatch.setattr(ImageExporter, "export", lambda self, *a, **k: None)
    _save_as(monkeypatch, tmp_path / "map.png")
    w.export_map_action.trigger()
    assert errors and "nothing was written" in errors[-1] and w.stage_label.text().startswith("Map not saved")
    assert (tmp_path / "map.png").read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("map") or f.name.startswith(".map")) == [
        "map.jpg", "map.png"]  # no partial file left


def _point_on_screen(w, row: int):
    """Viewport position of galaxy ``row`` on the map."""
    scene = w.map.view.mapViewToScene(QPointF(*map(float, w.project.coords[row])))
    return w.map.plot.mapFromScene(scene)


def test_hover_shows_the_crop_with_its_id_and_goes_away_off_the_plot(qtbot, clustered):
    import cv2

    from core.images.display import render
    from core.images.io import image_id
    from tests.helpers import pixmap_array as _array

    w = clustered
    p = w.project
    row = 7
    qtbot.mouseMove(w.map.plot.viewport(), _point_on_screen(w, row))
    qtbot.waitUntil(lambda: w.map_view.hover_label.isVisible())
    assert w.map_view.hover_row == row
    assert w.map_view.hover_caption.text() == image_id(p.paths[row])  # at once; the image is drawn off the GUI thread
    qtbot.waitUntil(lambda: not w.map_view.hover_image.pixmap().isNull())
    tile = _array(w.map_view.hover_image.pixmap()).astype(int)
    crop = cv2.resize(render(p.paths[row], None, p.preprocessing()), tile.shape[1::-1]).astype(int)
    whole = cv2.resize(render(p.paths[row]), tile.shape[1::-1], interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(tile - crop).mean() < 3 < np.abs(tile - whole).mean()  # the model's crop, as in the strip
    assert w.map_view.hover_cache.prep == p.preprocessing()
    # over the Pan / Rect / Lasso buttons the hover thumbnail goes away
    button = w.map.mode_group.button(1)
    qtbot.mouseMove(button, button.rect().center())
    qtbot.waitUntil(lambda: not w.map_view.hover_label.isVisible())
    assert len(w.map.hover_item.data) == 0  # and the yellow hover ring with it


def test_preview_empties_when_the_selection_does(qtbot, clustered):
    w = clustered
    w.show_cluster(0)
    qtbot.waitUntil(lambda: w.preview.drawn is not None)
    assert w.preview.path is not None
    qtbot.keyClick(w, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(w.project.selection.indices) == 0
    assert w.preview.path is None and w.preview.view.item.pixmap().isNull()
    assert w.preview.meta.text() == ""
    qtbot.wait(200)  # a draw still on its way must not bring the last galaxy back
    assert w.preview.view.item.pixmap().isNull()


def test_stretch_size_and_truth_file_come_back_with_the_project(qtbot, clustered, folder, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow
    from core.images.display import Stretch

    w = clustered
    p = w.project
    truth = tmp_path / "truth.csv"
    truth.write_text("id,class\n" + "".join(f"{n},{n.split('_')[0]}\n" for n in p.names))
    control = w.preview.stretch_control
    control.kind.setCurrentText("asinh")
    control.lower.setValue(1.0)
    control.upper.setValue(99.8)
    control.per_band.setChecked(True)
    w.grid.size_slider.setValue(160)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(truth), ""))
    w.catalogue.truth_action.trigger()
    qtbot.waitUntil(lambda: w.catalogue.table.truth_name == "truth.csv")  # read off the GUI thread
    kept = Stretch("asinh", 1.0, 99.8, per_band=True)
    qtbot.waitUntil(lambda: w.grid.cache.stretch == kept)
    w.close()

    again = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.jobs.finished, timeout=60_000):
        again.recent.menu.actions()[0].trigger()  # File > Open recent > the folder
    assert again.preview.stretch == kept
    qtbot.waitUntil(lambda: again.grid.cache.stretch == kept and again.classify.stretch == kept)
    assert again.grid.size_slider.value() == 160 and again.grid.thumb == 160
    table = again.catalogue.table
    qtbot.waitUntil(lambda: not table.reading)  # read again off the GUI thread
    assert table.truth_name == "truth.csv" and table.against.currentData() == "truth"
    assert table.truth[p.names[0]] == p.names[0].split("_")[0]

    # another folder, never set up: the defaults, and no truth from the last one
    other = tmp_path / "other"
    other.mkdir()
    for f in list(folder.glob("*.png"))[:6]:
        (other / f.name).write_bytes(f.read_bytes())
    assert again.open_folder(other)
    assert again.preview.stretch == Stretch() and again.grid.thumb == 96
    assert table.truth is None and table.against.findData("truth") < 0


def _click_cluster(qtbot, w, cluster: int) -> None:
    tree = w.clusters.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == cluster)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())


def test_polish_the_words_the_user_reads(qtbot, clustered):
    """'Cluster 0: cluster 0', 'Map: pca', 'Neighbours you labelled: cluster 1 1', a Size slider without its value."""
    w = clustered
    p = w.project
    _click_cluster(qtbot, w, 0)
    assert w.grid.title.text() == f"Cluster 0: {int((p.clusters == 0).sum())} image(s)"
    p.name_cluster(1, "spiral")
    _click_cluster(qtbot, w, 1)
    assert w.grid.title.text().startswith("Cluster 1: spiral: ")

    s = w.run_settings
    i = s.projection.findData("pca")
    s.projection.setCurrentIndex(i)
    with qtbot.waitSignal(w.jobs.finished, timeout=60_000):
        s.projection.activated.emit(i)  # the user picks "PCA" in the Map box
    assert w.stage_label.text() == "Map: PCA"

    w.grid.size_slider.setValue(160)
    assert w.grid.size_value.text() == "160 px"

    row = int(w.grid.rows()[0])
    w.classify_action.trigger()
    neighbours = w.classify.neighbours[:3]
    p.set_labels(neighbours[:2], p.classes[0].name)
    p.set_labels(neighbours[2:3], p.classes[1].name)
    w.classify.show_row(row)
    text = w.classify.guess.text()
    assert f"Neighbours you labelled: {p.classes[0].name}: 2, {p.classes[1].name}: 1" in text


def test_no_stray_auto_range_button_on_the_map(qtbot, clustered):
    w = clustered
    plot = w.map.plot.plotItem
    qtbot.mouseMove(w.map.plot.viewport(), w.map.plot.viewport().rect().center())
    qtbot.wait(50)
    assert plot.buttonsHidden and not plot.autoBtn.isVisible()


def test_an_excluded_galaxy_keeps_a_visible_frame_on_the_dark_strip(qtbot, clustered):
    from tests.helpers import pixmap_array as _array

    w = clustered
    w.show_cluster(0)
    row = int(w.grid.rows()[0])
    qtbot.keyClick(w, Qt.Key.Key_X)  # exclude
    assert w.project.user_labels[row] == "exclude"
    tile = _array(w.grid.decorated(row)).astype(int)
    background = np.array([0x16, 0x16, 0x16])
    edge = tile[0, 8:-8]  # the outermost line of the frame
    assert (np.abs(edge - background).sum(1) > 150).mean() > 0.9  # light against the strip, all along


def test_a_reopened_project_shows_its_first_cluster(qtbot, clustered, tmp_path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = clustered
    first = np.flatnonzero(w.project.clusters == w.project.cluster_ids()[0])
    w.close()
    again = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.jobs.finished, timeout=60_000):
        again.recent.menu.actions()[0].trigger()
    assert sorted(again.grid.rows().tolist()) == sorted(first.tolist())
    assert again.grid.title.text().startswith("Cluster 0")
    assert again.preview.path == again.project.paths[int(again.grid.rows()[0])]
    assert len(again.project.selection.indices) == 1  # the keys act on it at once


def test_a_stretch_change_then_closing_at_once_is_no_error(qtbot, clustered):
    """The stretch is kept 120 ms after the last change: closing the window before then loses nothing else."""
    w = clustered
    w.preview.stretch_control.kind.setCurrentText("asinh")
    w.close()  # the project's store closes before the stretch is sent on
    qtbot.wait(300)  # pytest-qt fails the test on any exception raised in the event loop meanwhile
    assert w.project.closed
