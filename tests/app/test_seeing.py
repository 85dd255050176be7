"""Seeing the galaxy: cropped thumbnails with a size slider, frames that tell user from model labels,
a display stretch that changes the view and never the features, a preview that zooms and pans,
and colours that never mistake a cluster for a class."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from tests.helpers import cluster as _cluster
from tests.helpers import export_catalogue as _export
from tests.helpers import fast as _fast
from tests.helpers import pixmap_array as _array


@pytest.mark.slow
def test_thumbnails_show_the_models_crop_at_the_slider_size(qtbot, window, folder):
    import cv2

    from core.images.display import render
    from core.images.preprocess import Preprocessing

    window.open_folder(folder)
    _fast(window)
    window.run_settings.crop.setCurrentIndex(window.run_settings.crop.findData("fixed"))
    _cluster(qtbot, window)
    p = window.project
    assert window.grid.cache.prep == Preprocessing(**p.run.params["prep"])
    window.show_cluster(0)
    row = int(window.grid.rows()[0])
    for size in (64, 200):
        window.grid.size_slider.setValue(size)
        assert window.grid.view.iconSize().width() == size
        qtbot.waitUntil(lambda size=size: window.grid.cache.size == size)  # redrawn once the slider rests
        pix = window.grid.decorated(row)
        assert pix.width() == size
        got = _array(window.grid.cache.get(p.paths[row])).astype(int)
        crop = render(p.paths[row], None, window.grid.cache.prep)
        want = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR).astype(int)
        whole = cv2.resize(render(p.paths[row]), (size, size), interpolation=cv2.INTER_AREA).astype(int)
        # the tile is the crop (up to resampling), not the whole 128 px frame
        assert np.abs(got - want).mean() < 3

        def corr(a, b):
            return float(np.corrcoef(a.mean(2).ravel(), b.mean(2).ravel())[0, 1])

        def bright(a):  # share of the tile the galaxy covers
            g = a.mean(2)
            return float((g > g.min() + 0.5 * (g.max() - g.min())).mean())

        assert corr(got, want) > 0.95
        assert bright(got) > 2.5 * bright(whole)  # a crop of half the side: the galaxy covers ~4x the tile
    window.grid.size_slider.setValue(300)
    assert window.grid.thumb == 256


@pytest.mark.slow
def test_user_labels_have_a_solid_frame_and_model_labels_a_dashed_one(qtbot, window, folder):
    from core.colouring import row_color

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    window.show_cluster(0)
    mine, model = int(window.grid.rows()[0]), int(window.grid.rows()[1])
    p.set_labels([mine], p.classes[1].name)
    window.grid.size_slider.setValue(96)

    def edge_hits(row: int) -> float:
        top = _array(window.grid.decorated(row))[1, 8:-8].astype(int)
        color = np.array([int(row_color(p, row)[i : i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(top - color).sum(1) < 30).mean())

    assert edge_hits(mine) == 1.0  # solid: the whole edge in the label's colour
    assert 0.3 < edge_hits(model) < 0.8  # dashed: gaps
    np.testing.assert_array_equal(window.map.user_labelled, [mine])  # a ring on the map


def test_cluster_colours_never_near_a_class_colour():
    from app.widgets.qt_labels import CLUSTER_COLORS, delta_e
    from core.vocabulary import PALETTE, SPECIAL

    classes = list(PALETTE[:7]) + list(SPECIAL.values())  # Okabe-Ito and the unsure/exclude greys
    assert min(delta_e(c, k) for c in CLUSTER_COLORS for k in classes) >= 20
    assert min(delta_e(a, b) for i, a in enumerate(CLUSTER_COLORS) for b in CLUSTER_COLORS[i + 1 :]) >= 25
    # the old tab10 cluster colours fail the same check (cluster 0 #1f77b4 is within 3 of blue #0072B2)
    old = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
    assert min(delta_e(c, k) for c in old for k in classes) < 5


@pytest.mark.slow
def test_stretch_changes_the_view_never_the_features(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    features = p.features.copy()
    window.show_cluster(0)
    row = int(window.grid.rows()[0])
    qtbot.waitUntil(lambda: window.preview.drawn is not None and window.preview.drawn[0] == p.paths[row])
    before_thumb = _array(window.grid.cache.get(p.paths[row])).copy()
    before_big = _array(window.preview.view.item.pixmap()).copy()
    control = window.preview.stretch_control
    control.kind.setCurrentText("log")
    control.upper.setValue(100.0)
    # drawn off the GUI thread once the control rests: the strip, classify mode and the preview follow
    qtbot.waitUntil(lambda: window.preview.drawn == (p.paths[row], control.stretch()), timeout=10_000)
    assert window.grid.cache.stretch.kind == "log" and window.classify.stretch.kind == "log"
    assert window.grid.cache.stretch.upper == 100.0
    assert np.abs(_array(window.grid.cache.get(p.paths[row])).astype(int) - before_thumb).mean() > 3
    assert np.abs(_array(window.preview.view.item.pixmap()).astype(int) - before_big).mean() > 3
    np.testing.assert_array_equal(p.features, features)
    # reclustering with the stretch on gives the same features: the stretch is a view setting
    _cluster(qtbot, window)
    np.testing.assert_allclose(window.project.features, features, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_preview_zooms_pans_and_fits(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    window.show_cluster(0)
    view = window.preview.view
    qtbot.waitUntil(lambda: window.preview.drawn is not None)  # drawn on the render pool
    fitted = view.zoom_level()
    assert view.crop_item.isVisible()  # the model's crop is outlined
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton)
    for _ in range(3):
        view.zoom(1.25)
    assert abs(view.zoom_level() / fitted - 1.25**3) < 1e-6
    centre = view.mapToScene(view.viewport().rect().center())
    view.centerOn(QPointF(centre.x() + 10, centre.y()))
    assert view.mapToScene(view.viewport().rect().center()).x() > centre.x()  # panned
    window.preview.stretch_control.kind.setCurrentText("sqrt")  # a new stretch keeps the zoom
    qtbot.waitUntil(lambda: window.preview.drawn is not None and window.preview.drawn[1].kind == "sqrt")
    assert abs(view.zoom_level() / fitted - 1.25**3) < 1e-6
    view.fit()
    assert abs(view.zoom_level() - fitted) < 1e-6


@pytest.mark.slow
def test_start_screen_buttons_and_reopen_say_what_they_should(qtbot, window, folder, tmp_path):
    """Smaller things of issue 9: a hint on the empty start screen, panel buttons enabled exactly
    when their menu items are, the sidecar names the map's projection, reopen says what was restored."""
    import json

    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    assert window.central.currentWidget() is window.welcome and "Open a folder" in window.welcome.text()
    s = window.run_settings
    assert not s.suggest_button.isEnabled() and not s.retrain_button.isEnabled() and not s.cluster_button.isEnabled()
    window.open_folder(folder)
    assert window.central.currentWidget() is window.map
    assert s.cluster_button.isEnabled() and not s.suggest_button.isEnabled()  # no run yet: as the menu says
    assert len(window.grid.rows()) == 30 and "not clustered yet" in window.grid.title.text()  # the images, at once
    window.grid.view.selectAll()
    qtbot.keyClick(window.grid.view, Qt.Key.Key_1)  # nothing to label yet: no error, no label
    assert len(window.project.selection.indices) == 0
    _fast(window)
    _cluster(qtbot, window)
    assert s.suggest_button.isEnabled() == window.suggest_action.isEnabled() is True
    assert s.retrain_button.isEnabled() == window.retrain_action.isEnabled() is False  # k-means has no encoder
    window.project.set_labels([0, 1], "spiral")
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000):
        window.reproject("tsne")
    out = _export(qtbot, window, str(tmp_path / "c.csv"))
    assert json.loads(out.with_name(out.name + ".json").read_text())["projection"] == "tsne"
    window.close()
    again = MainWindow(settings=QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.jobs.finished, timeout=60_000):
        again.open_folder(folder)
    text = again.stage_label.text()
    assert "2 labels by you" in text and "3 clusters" in text and "t-SNE map" in text  # as the Map box names it


@pytest.mark.slow
def test_k_larger_than_the_images_is_said_and_shown(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window, k=40)
    _cluster(qtbot, window)
    from core.pipeline import checked_n_clusters

    used, _ = checked_n_clusters("kmeans", 40, 30)  # main's rule (issue 14): at most one cluster fewer than images
    assert used == 29 and len(window.project.cluster_ids()) == used
    assert window.run_settings.n_clusters.value() == used
    assert f"40 clusters asked, {used} made (30 images)" in window.stage_label.text()


def test_the_selected_thumbnail_is_shown_in_its_own_colours_not_tinted(qtbot, window, folder):
    """The README's screenshots showed it: the galaxy the keys act on was drawn tinted with the selection's blue
    (the view's selected look of a bare pixmap), so the one galaxy being judged was the one shown in false colour."""
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    window.show_cluster(0)
    grid = window.grid
    row = int(grid.rows()[0])
    qtbot.waitUntil(lambda: grid.cache.peek(window.project.paths[row]) is not None)
    grid.refresh()
    index = grid.model.index(0)
    assert grid.view.selectionModel().isSelected(index)
    rect = grid.view.visualRect(index)
    qtbot.waitUntil(lambda: not grid.view.viewport().grab().isNull())
    shown = _array(grid.view.viewport().grab(rect)).astype(int)
    tile = _array(grid.decorated(row)).astype(int)
    side = tile.shape[0]
    dy, dx = (shown.shape[0] - side) // 2, (shown.shape[1] - side) // 2
    inner = slice(side // 4, 3 * side // 4)  # the galaxy, inside every frame and border
    on_screen = shown[dy:dy + side, dx:dx + side][inner, inner]
    assert np.abs(on_screen - tile[inner, inner]).mean() < 4, np.abs(on_screen - tile[inner, inner]).mean()
