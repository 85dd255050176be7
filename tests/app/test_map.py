"""The cluster map styles points with numpy: right colours, only changed points touched, no per-point work."""

from __future__ import annotations

import numpy as np
import pytest
from pyqtgraph.graphicsItems.ScatterPlotItem import SymbolAtlas
from PySide6.QtCore import Qt

COLORS = {0: "#ff0000", 1: "#00ff00", 2: "#0000ff"}


@pytest.fixture
def cmap(qtbot):
    from app.widgets.qt_map import QtClusterMap

    w = QtClusterMap()
    qtbot.addWidget(w)
    w.resize(530, 300)  # the view about 400 x 270, the legend in its own column right of it
    w.show()
    return w


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3000, 2)).astype(np.float32), rng.integers(0, 3, 3000)


def _fill(w) -> list[str]:
    return [b.color().name() for b in w.scatter.data["brush"]]


@pytest.fixture
def styles_looked_up(monkeypatch):
    """How many (symbol, size, pen, brush) styles the symbol atlas was asked about."""
    seen: list[int] = []
    original = SymbolAtlas._keys

    def counting(self, styles):
        styles = list(styles)
        seen.append(len(styles))
        return original(self, styles)

    monkeypatch.setattr(SymbolAtlas, "_keys", counting)
    return seen


def test_points_get_their_group_colour(cmap, points, qtbot):
    coords, groups = points
    cmap.set_points(coords, groups, COLORS)
    assert _fill(cmap) == [COLORS[g] for g in groups]
    np.testing.assert_array_equal(cmap.scatter.data["x"], coords[:, 0])
    np.testing.assert_array_equal(cmap.scatter.data["data"], np.arange(len(coords)))
    assert (cmap.scatter.data["sourceRect"]["w"] > 0).all()  # every point has its symbol
    # one brush object per colour, shared by all its points (pyqtgraph caches by identity)
    assert len({id(b) for b in cmap.scatter.data["brush"]}) == 3
    cmap.grab()  # paints without error


def test_setting_points_looks_up_one_symbol_per_colour_not_per_point(cmap, points, styles_looked_up):
    coords, groups = points
    cmap.set_points(coords, groups, COLORS)
    cmap.set_colors((groups + 1) % 3, COLORS)
    assert sum(styles_looked_up) <= 2 * 3, styles_looked_up  # was one per point (3,000 here, 60,000 in use)


def test_labelling_one_point_touches_only_that_point(cmap, points, qtbot):
    coords, groups = points
    cmap.set_points(coords, groups, COLORS)
    before_rects = cmap.scatter.data["sourceRect"].copy()
    before_brushes = list(cmap.scatter.data["brush"])
    legend_samples = [sample for sample, _ in cmap.legend.items]
    new = groups.copy()
    new[7] = (groups[7] + 1) % 3
    cmap.set_colors(new, COLORS)
    assert _fill(cmap) == [COLORS[g] for g in new]
    others = np.arange(len(groups)) != 7
    np.testing.assert_array_equal(cmap.scatter.data["sourceRect"][others], before_rects[others])
    assert all(a is b for a, b, keep in zip(cmap.scatter.data["brush"], before_brushes, others) if keep)
    # the legend keeps its entries and only its counts change
    assert [sample for sample, _ in cmap.legend.items] == legend_samples
    counts = np.bincount(new, minlength=3)
    # the counts follow a moment later, in a repaint of their own
    qtbot.waitUntil(lambda: [label.text for _, label in cmap.legend.items] == [f"{k} ({counts[k]})" for k in range(3)],
                    timeout=2000)


def test_new_groups_and_strings_rebuild_the_legend(cmap, points):
    coords, groups = points
    cmap.set_points(coords, groups, COLORS)
    names = np.array(["spiral", "elliptical"])[groups % 2]
    cmap.set_colors(names, {"spiral": "#123456", "elliptical": "#654321"}, {"spiral": "Spiral"})
    assert _fill(cmap) == ["#123456" if n == "spiral" else "#654321" for n in names]
    assert [label.text for _, label in cmap.legend.items] == [
        f"elliptical ({(names == 'elliptical').sum()})", f"Spiral ({(names == 'spiral').sum()})"]
    cmap.set_points(np.zeros((0, 2)), np.zeros(0), {})
    assert len(cmap.scatter.data) == 0 and not cmap.legend.items


def test_labelling_one_point_repaints_only_its_pixels(cmap, points, qtbot):
    """Issue 13: one label at 60,000 points must fit a frame; the repaint draws the changed point's
    neighbourhood, not the cloud, and what it draws is the new style (a ring for a user's label)."""
    from PySide6.QtWidgets import QApplication

    coords, groups = points
    drawn: list[int] = []
    original = cmap.scatter._maskAt

    def counting(rect):
        mask = original(rect)
        drawn.append(int(mask.sum()))
        return mask

    cmap.scatter._maskAt = counting
    cmap.set_points(coords, groups, COLORS)
    qtbot.waitUntil(lambda: len(drawn) > 0)
    assert max(drawn) > 0.9 * len(coords)  # a new cloud is painted whole
    qtbot.waitUntil(lambda: not cmap._legend_timer.isActive())  # the legend's own repaint, which may relayout the plot
    QApplication.processEvents()
    for _ in range(20):  # and any repaint of the whole cloud still on its way (a relayout's): the map at rest
        drawn.clear()
        qtbot.wait(100)
        if not drawn:
            break
    row = int(np.argmin(np.abs(coords).sum(1)))  # a point in the middle of the cloud
    drawn.clear()
    cmap.set_user_labelled(np.array([row]))
    qtbot.waitUntil(lambda: len(drawn) > 0)
    assert max(drawn) < 0.05 * len(coords), drawn  # its neighbourhood only
    assert cmap.user_labelled.tolist() == [row]
    assert cmap.scatter.data["pen"][row] is not None and cmap.scatter.data["brush"][row].color().name() == "#1e1e1e"
    drawn.clear()
    new = groups.copy()
    new[row] = (new[row] + 1) % 3
    cmap.set_colors(new, COLORS)
    qtbot.waitUntil(lambda: len(drawn) > 0)
    assert max(drawn) < 0.05 * len(coords), drawn
    assert cmap.scatter.data["pen"][row].color().name() == COLORS[int(new[row])]  # still a ring, new colour
    drawn.clear()
    cmap.set_colors((groups + 1) % 3, COLORS)  # every point changes: one whole repaint
    qtbot.waitUntil(lambda: len(drawn) > 0)
    assert max(drawn) > 0.9 * len(coords)


def test_recolours_in_place_draw_what_a_fresh_map_draws(cmap, qtbot, points):
    """Labels changed in the caller's own array (as the window's colouring does), groups appearing, emptying
    and changing colour: each ``set_colors`` draws the styles and legend a map given the groups afresh draws."""
    from app.widgets.qt_map import QtClusterMap

    coords, groups = points
    fresh = QtClusterMap()
    qtbot.addWidget(fresh)
    rng = np.random.default_rng(3)
    groups = groups.astype(str)  # string keys, as "colour by label" gives them
    colors = {str(k): v for k, v in COLORS.items()}
    cmap.set_points(coords, groups, colors)
    regrouped: list[int] = []
    keep = cmap._keep_groups
    cmap._keep_groups = lambda *a: (regrouped.append(step), keep(*a))
    for step in range(12):
        if step == 5:
            groups[rng.choice(len(groups), 4, replace=False)] = "new"  # a group appears
            colors["new"] = "#ffffff"
        elif step == 8:
            groups[groups == "new"] = "0"  # it empties
        elif step == 10:
            colors = {**colors, "1": "#123456"}  # a group's colour changes
        else:
            rows = rng.choice(len(groups), int(rng.integers(1, 4)), replace=False)
            groups[rows] = rng.choice(["0", "1", "2"], len(rows))  # in place, like a label
        cmap.set_colors(groups, colors)
        fresh.set_points(coords, groups, colors)
        np.testing.assert_array_equal(cmap._style, fresh._style)
        assert _fill(cmap) == _fill(fresh)
        qtbot.waitUntil(lambda: [lab.text for _, lab in cmap.legend.items] == [lab.text for _, lab in fresh.legend.items])
    assert regrouped == []  # no step regrouped every point: a group appearing, emptying or changing colour neither


def _legend_over_or_cut(window) -> list[str]:
    """Legend entries cut off at the plot's edge or lying over the view where the points are drawn."""
    view = window.map.view.sceneBoundingRect()
    plot = window.map.plot.plotItem.sceneBoundingRect()
    return [label.text for sample, label in window.map.legend.items for item in (sample, label)
            if not plot.contains(item.sceneBoundingRect()) or item.sceneBoundingRect().intersects(view)]


@pytest.mark.slow
def test_twenty_clusters_have_twenty_colours_and_a_legend_beside_the_map(qtbot, window, folder):
    """k = 20 at 1366 x 768: eight colours cycled (clusters 0, 8 and 16 the same green) and the legend, over the
    points, was cut off after "cluster 16"; now twenty colours, every entry shown, none over the points."""
    from core.vocabulary import CLUSTER_COLORS
    from tests.helpers import fast

    window.resize(1366, 768)
    window.open_folder(folder)
    fast(window)
    spin = window.run_settings.n_clusters
    spin.selectAll()
    qtbot.keyClicks(spin, "20")  # the user types k in the Run panel and presses Cluster
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        qtbot.mouseClick(window.run_settings.cluster_button, Qt.MouseButton.LeftButton)
    assert len(window.project.cluster_ids()) == 20
    assert len({b.color().name() for b in window.map.scatter.data["brush"]}) == 20
    assert len(set(CLUSTER_COLORS[:8])) == 8 and CLUSTER_COLORS[0] == "#117733"  # the first eight as they were
    texts = [label.text for _, label in window.map.legend.items]
    assert texts == [f"cluster {c} ({n})" for c, n in enumerate(np.bincount(window.project.clusters))]
    assert len({sample.item.opts["brush"].color().name() for sample, _ in window.map.legend.items}) == 20
    qtbot.waitUntil(lambda: not _legend_over_or_cut(window))  # once the plot's layout has settled
    assert window.map.view.width() > window.map.plot.width() / 2  # the points keep half the map or more

    window.resize(1366, 560)  # a short window: what does not fit is counted in a last entry
    qtbot.waitUntil(lambda: window.map.legend.items[-1][1].text.startswith("+"))
    qtbot.waitUntil(lambda: not _legend_over_or_cut(window))
    more = window.map.legend.items[-1][1]
    hidden = int(more.text.split()[0][1:])
    assert len(window.map.legend.items) - 1 + hidden == 20 and more.toolTip().count("\n") == hidden - 1


def test_colour_by_label_from_the_box_sorts_no_galaxys_label(qtbot, window, folder, monkeypatch):
    """The Colour box set to label, on a clustered folder with a label and a named cluster: the map takes the
    colouring's own grouping, sorting none of the galaxies' label texts (np.unique of 200,000 of them: 30-40 ms of
    each draw), and draws the same styles as sorting them."""
    from app.widgets.qt_map import QtClusterMap
    from tests.helpers import open_and_cluster, pick

    p = open_and_cluster(qtbot, window, folder)
    p.set_labels([0, 1], "spiral")
    p.name_cluster(int(p.clusters[5]), "elliptical")
    sorted_texts: list[int] = []
    real = QtClusterMap._group
    monkeypatch.setattr(QtClusterMap, "_group", staticmethod(
        lambda groups: (sorted_texts.append(len(groups)) if np.asarray(groups).dtype.kind == "U" else None,
                        real(groups))[1]))
    pick(qtbot, window.color_combo, "label")
    qtbot.waitUntil(lambda: window.map_view.mode == "label")
    window.map_view.render()  # a draw anew, as a reopen or a new run makes it
    assert sorted_texts == []  # the old code: every draw sorted each galaxy's label text
    drawn = window.map._style.copy()
    c = window.map_view._shown[1]
    window.map.set_points(p.coords, c.groups, c.colors, c.names)  # the groups sorted, as before
    assert sorted_texts == [len(p)]
    np.testing.assert_array_equal(window.map._style, drawn)
