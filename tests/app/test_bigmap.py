"""Issue 22: the map at 300,000 points draws a density image, and hover, lasso and a label still work.

Driven through the real main window: the mouse on the map's viewport, the mode
keys L and P; the answers are checked against a brute-force scan of every point.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.widgets.qt_bigmap import BIG_POINTS, points_in_polygon

COLORS = {0: "#ff0000", 1: "#00ff00", 2: "#0000ff", 3: "#ffff00"}
N = 300_000


@pytest.fixture
def big(window, qtbot):
    """The window's map showing N synthetic points in 4 clusters, plus one lone point (the last)."""
    rng = np.random.default_rng(0)
    centres = np.array([[-10.0, -10.0], [10.0, -10.0], [-10.0, 10.0], [10.0, 10.0]])
    groups = rng.integers(0, 4, N)
    coords = (centres[groups] + rng.normal(size=(N, 2))).astype(np.float32)
    coords[-1], groups[-1] = (0.0, 0.0), 0  # alone in the middle of the map
    window.resize(1200, 900)
    window.central.leave_start_screen()
    window.map.legend.hide()  # the legend's text box sits over the top-left cluster's middle pixel
    window.map.set_points(coords, groups, COLORS)
    qtbot.waitUntil(lambda: window.map.big.density_shown)
    QApplication.processEvents()
    return window, coords, groups, centres


def _pixel(w, x: float, y: float) -> QPoint:
    """Viewport pixel of the data point (x, y)."""
    return w.map.plot.mapFromScene(w.map.view.mapViewToScene(QPointF(x, y)))


def _data(w, pixel: QPoint) -> np.ndarray:
    p = w.map.view.mapSceneToView(w.map.plot.mapToScene(pixel))
    return np.array([p.x(), p.y()])


def _colour_at(w, pixel: QPoint) -> QColor:
    return w.map.plot.viewport().grab().toImage().pixelColor(pixel)


def _near_somewhere(w, pixel: QPoint, hex_colour: str, reach: int = 2) -> bool:
    """Whether a pixel within ``reach`` of ``pixel`` shows ``hex_colour``: a lone point's 2x2 bin can sit
    a pixel off the point's own position, depending on where the window's layout puts the plot."""
    image = w.map.plot.viewport().grab().toImage()
    return any(_near(image.pixelColor(pixel + QPoint(dx, dy)), hex_colour)
               for dx in range(-reach, reach + 1) for dy in range(-reach, reach + 1))


def _near(c: QColor, hex_colour: str) -> bool:
    """Whether ``c`` is ``hex_colour`` blended over the map's background (the density image's opacity)."""
    bg = np.array(QColor("#1e1e1e").getRgb()[:3], float)
    got, want = np.array(c.getRgb()[:3], float) - bg, np.array(QColor(hex_colour).getRgb()[:3], float) - bg
    alpha = got @ want / (want @ want)
    return 0.2 < alpha <= 1.05 and np.abs(got - alpha * want).max() < 25


def test_density_image_when_zoomed_out_points_when_zoomed_in(big, qtbot):
    w, coords, groups, centres = big
    assert len(coords) > BIG_POINTS
    assert len(w.map.scatter.data) == 0  # not one point handed to the scatter item
    for k, (x, y) in enumerate(centres):  # each cluster's middle is drawn in its colour, the right way up
        assert _near(_colour_at(w, _pixel(w, x, y)), COLORS[k]), (k, _colour_at(w, _pixel(w, x, y)).name())
    w.map.view.setRange(xRange=(9.5, 10.5), yRange=(9.5, 10.5), padding=0)  # zoom onto cluster 3's middle
    qtbot.waitUntil(lambda: not w.map.big.density_shown)
    inside = (coords[:, 0] >= 9.5) & (coords[:, 0] <= 10.5) & (coords[:, 1] >= 9.5) & (coords[:, 1] <= 10.5)
    (x0, x1), (y0, y1) = w.map.view.viewRange()
    in_view = (coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1)
    assert inside.sum() <= len(w.map.scatter.data) == in_view.sum() < 0.2 * N
    np.testing.assert_array_equal(w.map.big.shown, np.flatnonzero(in_view))
    assert {b.color().name() for b in w.map.scatter.data["brush"]} == {COLORS[3]}


def test_hover_finds_the_nearest_point(big, qtbot):
    w, coords, _, _ = big
    for target in (N - 1, 12345):  # the lone point, and one inside a cluster
        pixel = _pixel(w, *coords[target]) + QPoint(1, 0)
        # pyqtgraph's scene drops a move within 10 ms of the last one it took (mouseRateLimit, 100/s); the
        # brute-force scan below can take less than that, and a cursor's events come a screen refresh apart.
        QTest.qWait(20)
        with qtbot.waitSignal(w.map.hovered, timeout=2000) as blocker:
            QTest.mouseMove(w.map.plot.viewport(), pixel)
        cursor = _data(w, pixel)
        nearest = int(np.argmin(((coords - cursor) ** 2).sum(1)))  # brute force over every point
        assert blocker.args == [nearest]


def _drag(viewport, pixels: list[QPoint]) -> None:
    """Press, move through ``pixels`` with the left button held, release (a user's lasso)."""
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[0])
    for p in pixels[1:]:
        QTest.qWait(20)  # pyqtgraph's scene drops mouse moves closer together than a screen refresh
        ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(p), QPointF(viewport.mapToGlobal(p)), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, ev)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[-1])


def test_lasso_selects_the_points_inside_and_a_label_recolours_one(big, qtbot, monkeypatch):
    w, coords, groups, centres = big
    from app.widgets.qt_bigmap import GridIndex

    polygons: list[np.ndarray] = []
    original = GridIndex.select_polygon

    def spying(self, polygon):
        polygons.append(np.asarray(polygon, np.float64))
        return original(self, polygon)

    monkeypatch.setattr(GridIndex, "select_polygon", spying)
    qtbot.keyClick(w, Qt.Key.Key_L)
    assert w.map.view.mode == "lasso"
    angles = np.linspace(0, 2 * np.pi, 40)
    centre = _pixel(w, *centres[1])
    radius = abs(_pixel(w, 14.0, -10.0).x() - centre.x())  # 4 units around cluster 1's centre
    lasso = [centre + QPoint(int(radius * np.cos(a)), int(radius * np.sin(a))) for a in angles]
    with qtbot.waitSignal(w.map.selection_requested, timeout=5000) as blocker:
        _drag(w.map.plot.viewport(), lasso)
    picked, additive = blocker.args
    assert not additive and len(polygons) == 1
    np.testing.assert_array_equal(picked, np.flatnonzero(points_in_polygon(coords, polygons[0])))  # brute force
    ones = np.flatnonzero(groups == 1)
    assert set(picked) <= set(ones) and len(picked) > 0.99 * len(ones)
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert w.map.view.mode == "pan"

    # one label: the lone point becomes class 2, its pixels turn blue (only its bin is recounted)
    lone = _pixel(w, 0.0, 0.0)
    assert _near_somewhere(w, lone, COLORS[0]) and not _near_somewhere(w, lone, COLORS[2])
    new = groups.copy()
    new[-1] = 2
    w.map.set_colors(new, COLORS)
    QApplication.processEvents()
    assert _near_somewhere(w, lone, COLORS[2]) and not _near_somewhere(w, lone, COLORS[0])
    assert w.map.big._counts.sum() == w.map.big._counts.sum(0).sum() and w.map.big._counts[:, 2].sum() == (
        new[w.map.big._bin >= 0] == 2).sum()


def test_grid_lasso_and_hover_match_the_scan_of_every_point():
    """The grid index takes whole cells without a test: the same points as testing each one, any polygon;
    and the same nearest point as a scan."""
    from app.widgets.qt_bigmap import GridIndex

    rng = np.random.default_rng(1)
    coords = rng.normal(size=(50_000, 2)).astype(np.float32)
    grid = GridIndex(coords)
    for _ in range(20):
        m = int(rng.integers(3, 60))
        centre, radius = rng.normal(size=2), rng.uniform(0.01, 4.0)
        angles = np.sort(rng.uniform(0, 2 * np.pi, m))
        polygon = centre + radius * rng.uniform(0.2, 1.0, (m, 1)) * np.column_stack([np.cos(angles), np.sin(angles)])
        if rng.random() < 0.3:
            polygon = rng.normal(scale=3, size=(m, 2))  # self-intersecting: even-odd rule
        np.testing.assert_array_equal(grid.select_polygon(polygon), np.flatnonzero(points_in_polygon(coords, polygon)))
    far = np.array([[50.0, 50.0], [51.0, 50.0], [51.0, 51.0]])  # outside the points' extent
    assert len(grid.select_polygon(far)) == 0
    # hover: the nearest point within the radius, as a scan of every point finds it, or -1
    for x, y, radius in np.column_stack([rng.normal(scale=2, size=(200, 2)), rng.uniform(0.001, 0.5, 200)]):
        d = ((coords.astype(np.float64) - (x, y)) ** 2).sum(1)
        want = int(np.argmin(d)) if d.min() <= radius**2 else -1
        assert grid.nearest(x, y, radius) == want


@pytest.fixture
def small_big(qtbot, window, folder, monkeypatch):
    """The window on the clustered synthetic sample, its map drawn as a density image (the thresholds lowered)."""
    import app.widgets.qt_bigmap as bigmap
    import app.widgets.qt_map as qt_map
    from tests.helpers import open_and_cluster

    monkeypatch.setattr(bigmap, "BIG_POINTS", 5)
    monkeypatch.setattr(qt_map, "BIG_POINTS", 5)
    monkeypatch.setattr(bigmap, "POINTS_IN_VIEW", 2)
    p = open_and_cluster(qtbot, window, folder)
    window.map.legend.hide()
    qtbot.waitUntil(lambda: window.map.big.density_shown)
    return window, p


def _drawn(w) -> tuple[np.ndarray, object]:
    """The density image's colour counts and the QImage the image item paints (a copy)."""
    big = w.map.big
    QApplication.processEvents()
    big.image.render() if big.image._renderRequired else None
    return big._counts.copy(), big.image.qimage.copy()


def test_one_label_key_repaints_only_its_bins_and_equals_a_recount(small_big, qtbot, monkeypatch):
    """Colour by label, a number key labels one galaxy: its bin's pixels change in place, exactly as a full
    recount of every point would draw them; neither the colouring is recomputed nor the image recounted or
    rendered again."""
    import app.map_view

    w, p = small_big
    w.color_combo.setCurrentIndex(w.color_combo.findData("label"))
    assert w.map_view.mode == "label"
    qtbot.waitUntil(lambda: w.map.big.density_shown)
    w.show_cluster(1)
    qtbot.keyClick(w, Qt.Key.Key_1)  # the class's first label: a new colour on the map, which recounts
    row = int(p.selection.indices[0])  # the key moved on to the next galaxy
    big = w.map.big
    before_counts, before_image = _drawn(w)
    recounts: list[int] = []
    original = app.map_view.colouring
    monkeypatch.setattr(app.map_view, "colouring", lambda *a: (recounts.append(-1), original(*a))[1])
    density = big._density
    big._density = lambda visible, *view: (recounts.append(len(visible)), density(visible, *view))
    qtbot.keyClick(w, Qt.Key.Key_1)
    assert p.user_labels[row] == p.classes[0].name
    after_counts, after_image = _drawn(w)
    assert recounts == [] and big._shares_pixels()  # painted in place: no recolouring, no recount, no new QImage
    assert not np.array_equal(before_counts, after_counts) and after_image != before_image
    big._density = density
    big.refresh(force=True)  # the full recount of every point, from the map's styles
    recount_counts, recount_image = _drawn(w)
    np.testing.assert_array_equal(after_counts, recount_counts)
    assert after_image == recount_image
    drawn = w.map._style.copy()
    w.map_view.render()  # the colouring recomputed whole, every point drawn anew: the same styles
    np.testing.assert_array_equal(w.map._style, drawn)


def test_a_label_under_cluster_colours_redraws_its_ring_only(small_big, qtbot, monkeypatch):
    """Colour by cluster, a label key changes the galaxy's ring alone: the colouring is not recomputed (a sort
    of every cluster number at 10^6 galaxies) and the map's styles equal a fresh drawing's."""
    import app.map_view

    w, p = small_big
    assert w.map_view.mode == "cluster"
    calls: list[str] = []
    original = app.map_view.colouring
    monkeypatch.setattr(app.map_view, "colouring", lambda project, name: (calls.append(name), original(project, name))[1])
    w.show_cluster(2)
    row = int(p.selection.indices[0])
    qtbot.keyClick(w, Qt.Key.Key_2)
    assert p.user_labels[row] == p.classes[1].name
    assert calls == [] and w.map._ringed[row] and w.map._style[row] % 2 == 1
    drawn = w.map._style.copy()
    w.map_view.render()  # every point anew
    np.testing.assert_array_equal(w.map._style, drawn)
    calls.clear()
    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: the label goes, so does its ring
    assert p.user_labels[row] is None and not w.map._ringed[row] and w.map._style[row] % 2 == 0 and calls == []


def test_a_whole_cluster_labelled_recounts_the_density_image_once_in_a_repaint_of_its_own(small_big, qtbot,
                                                                                          monkeypatch):
    """A key on a whole cluster restyles its points (their rings, a recolour after a new class): each restyle of
    more than PARTIAL_ROWS points recounted every point of the density image during the key.  Now the recounts of
    one action are one, in a repaint of its own, and draw what a recount of every point draws."""
    import app.widgets.qt_bigmap as bigmap

    w, p = small_big
    monkeypatch.setattr(bigmap, "PARTIAL_ROWS", 2)  # the sample's clusters count as big ones
    big = w.map.big
    recounts: list[int] = []
    density = big._density
    big._density = lambda visible, *view: (recounts.append(len(visible)), density(visible, *view))
    rows = np.flatnonzero(p.clusters == p.cluster_ids()[0])
    w.map.selection_requested.emit(rows, False)
    qtbot.keyClick(w, Qt.Key.Key_1)
    assert set(p.user_labels[rows].tolist()) == {p.classes[0].name}
    assert recounts == []  # not during the key
    qtbot.waitUntil(lambda: recounts != [], timeout=2_000)
    qtbot.wait(100)
    assert len(recounts) == 1
    after_counts, after_image = _drawn(w)
    big._density = density
    big.refresh(force=True)
    recount_counts, recount_image = _drawn(w)
    np.testing.assert_array_equal(after_counts, recount_counts)
    assert after_image == recount_image

