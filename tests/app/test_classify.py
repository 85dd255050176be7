"""Classify mode: one galaxy large, neighbours in feature space, keys answer and move on."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers import cluster as _cluster
from tests.helpers import expect_labels as _expect
from tests.helpers import fast as _fast
from tests.helpers import on_screen as _on_screen


def test_nearest_rows_are_the_nearest_in_order():
    from core.neighbours import nearest_rows

    space = np.array([[0.0], [5.0], [1.0], [-2.0], [10.0]])
    np.testing.assert_array_equal(nearest_rows(space, 0, 3), [2, 3, 1])
    assert len(nearest_rows(space[:1], 0)) == 0


@pytest.mark.slow
def test_classify_mode_keys_label_the_galaxy_shown_and_move_on(qtbot, window, folder):
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    window.show_cluster(1)
    strip = [int(r) for r in window.grid.rows()]
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    c = window.classify
    assert window.central.currentWidget() is c and window.classify_action.isChecked()
    assert c.row == strip[0] == _on_screen(window)  # strip highlight, preview, map and the big view agree
    assert image_id_in(c.title.text(), p, strip[0])
    assert f"Model's guess: <b>{p.cluster_name(1)}" in c.guess.text()
    # neighbours: the 8 nearest in feature space, nearest first
    d = np.linalg.norm(p.features - p.features[strip[0]], axis=1)
    d[strip[0]] = np.inf
    np.testing.assert_allclose(d[c.neighbours], np.sort(d)[:8])
    assert all(not lab.pixmap().isNull() for lab in c.neighbour_labels)

    expected: dict[int, str] = {}
    names = [k.name for k in p.classes]
    for k, (key, name) in enumerate(((Qt.Key.Key_2, names[1]), (Qt.Key.Key_1, names[0]))):
        assert c.row == strip[k]
        qtbot.keyClick(c, key)
        expected[strip[k]] = name
        _expect(p, expected)
    assert c.row == strip[2] == _on_screen(window)
    qtbot.keyClick(c, Qt.Key.Key_Right)  # skip without labelling
    assert c.row == strip[3] == _on_screen(window)
    qtbot.keyClick(c, Qt.Key.Key_Left)
    qtbot.keyClick(c, Qt.Key.Key_Left)
    assert c.row == strip[1]
    assert f"Your label: <b>{names[0]}</b>" in c.guess.text()
    assert "Neighbours you labelled" in c.guess.text() or not set(c.neighbours) & set(expected)
    qtbot.keyClick(c, Qt.Key.Key_3)  # relabel the galaxy shown, nothing else
    expected[strip[1]] = names[2]
    _expect(p, expected)
    # an answer button does what its key does
    buttons = [c.answers.itemAt(i).widget() for i in range(c.answers.count())]
    assert c.row == strip[2]
    next(b for b in buttons if b.text() == f"[1] {names[0]}").click()
    expected[strip[2]] = names[0]
    _expect(p, expected)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.central.currentWidget() is window.map


def image_id_in(text: str, project, row: int) -> bool:
    return project.names[row] in text


def _into_classify(qtbot, window, folder):
    """Open ``folder``, cluster it, show cluster 1 and press Ctrl+K: the classify widget, on its first galaxy."""
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    window.show_cluster(1)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.central.currentWidget() is window.classify
    return window.classify


@pytest.mark.slow
def test_the_prefetch_decodes_one_image_per_pass_of_the_event_loop(qtbot, window, folder, monkeypatch):
    """After a stretch change every image classify mode prefetches is a miss; the next galaxy and
    its 8 neighbours decoded in one pass held the GUI thread 50-60 ms (issue 21's eighth pass,
    ``docs/benchmarks.md``).  Now one image a pass, and all of them in the end."""
    import threading

    import app.widgets.qt_classify as classify_module
    import app.widgets.qt_thumbnails as thumbnails_module

    c = _into_classify(qtbot, window, folder)
    window.preview.stretch_control.kind.setCurrentText("asinh")  # the user's new stretch
    qtbot.waitUntil(lambda: c.stretch.kind == "asinh" and c.cache.stretch.kind == "asinh")
    gui = threading.get_ident()
    decoded: list[int] = []
    for module in (classify_module, thumbnails_module):
        def counting(*args, _real=module.render, **kwargs):
            if threading.get_ident() == gui:
                decoded.append(1)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "render", counting)
    c._renders.clear()  # nothing drawn under the new stretch yet, as right after the change
    c.cache._items.clear()
    following = window.grid.row_after(c.row)
    assert following >= 0 and len(c._nearest(following)) == 8
    c._prefetch()  # what showing a galaxy queues for the next pass
    assert len(decoded) <= 1, f"{len(decoded)} images decoded in one pass of the event loop"
    paths = window.project.paths
    qtbot.waitUntil(lambda: all(c.cache.peek(paths[int(n)]) is not None for n in c._nearest(following)),
                    timeout=20_000)  # its 8 neighbours drawn in the end, under the new stretch
    assert (paths[following], c.stretch, c.prep) in c._renders  # and the next galaxy


def test_a_window_closed_right_after_a_key_drops_its_queued_prefetch(qtbot, folder, tmp_path):
    """Showing a galaxy queues the next one's prefetch for the next pass of the event loop; a window
    deleted before that pass ran it on a deleted widget ("Internal C++ object (QtClassify) already
    deleted", seen once in the README's test command, in the test after a classify test)."""
    import shiboken6
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w.show()
    c = _into_classify(qtbot, w, folder)
    qtbot.wait(50)  # the first galaxy's prefetch has run
    first = c.row
    qtbot.keyClick(c, Qt.Key.Key_Right)  # the next galaxy: its prefetch is queued, not run
    assert c.row != first
    w.close()
    shiboken6.delete(w)  # gone before the next pass of the event loop (as a test's window at its end)
    assert not shiboken6.isValid(c)
    qtbot.wait(100)  # pytest-qt fails the test on any exception raised in the event loop meanwhile


@pytest.mark.slow
def test_classify_mode_with_ten_classes_fits_a_laptop_screen(qtbot, window, folder):
    """Ten classes (Hubble basic, then GALAXY CRUISE and Galaxy Zoo question 1 by Add preset) at 1366x768:
    the model's guess was drawn over the galaxy, the answers' text clipped to "I1I elliptical", and the
    tenth class had no button at all (exploratory QA)."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QPushButton

    window.resize(1366, 768)
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    add_preset = next(b for b in window.classes.findChildren(QPushButton) if b.text() == "Add preset")
    for preset in ("GALAXY CRUISE", "Galaxy Zoo question 1"):
        window.classes.preset.setCurrentText(preset)
        add_preset.click()
    names = [k.name for k in window.project.classes]
    assert len(names) == 10
    window.show_cluster(1)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    c = window.classify
    assert window.central.currentWidget() is c
    qtbot.wait(200)  # the layout settles
    assert c.view.height() >= 160 and not c.guess.geometry().intersects(c.view.geometry())
    assert c.guess.height() >= c.guess.heightForWidth(c.guess.width())  # all of its lines drawn
    buttons = {b.text(): b for b in c.findChildren(QPushButton) if b.isVisible()}
    for i, name in enumerate(names):
        text = f"[{i + 1}] {name}" if i < 9 else name  # keys 1-9; the tenth by its button only
        b = buttons[text]
        assert b.sizeHint().height() <= b.height() and b.sizeHint().width() <= b.width(), f"{text!r} clipped"
        at = QRect(b.mapTo(c, QPoint(0, 0)), b.size())  # in classify mode's own coordinates
        assert c.rect().contains(at) and not at.intersects(c.guess.geometry()) and not at.intersects(c.view.geometry())
    row, following = c.row, window.grid.row_after(c.row)
    qtbot.mouseClick(buttons[names[9]], Qt.MouseButton.LeftButton)
    _expect(window.project, {row: names[9]})
    assert c.row == following  # on to the next galaxy, as a key does


def _answer_dialog(qtbot, text: str) -> None:
    """Type ``text`` into the open input dialog and press OK."""
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog) and w.isVisible())
    dialog.findChild(QLineEdit).setText(text)
    dialog.accept()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["features or disk: edge-on with a bulge (GZ2 T09 a)", "x" * 300],
                         ids=["51 characters", "300 characters"])
def test_a_long_class_name_never_widens_the_window(qtbot, window, folder, name):
    """A 51-character class name (New... in the Classes dock) made classify mode 1,557 px wide at the least, a
    300-character one 3,354 px, and the Merge dialog 2,181 px: now the buttons and the dialog cut the name, whole
    in a tooltip."""
    from PySide6.QtCore import QPoint, QRect, QTimer
    from PySide6.QtWidgets import QApplication, QComboBox, QInputDialog, QPushButton

    window.resize(1366, 768)
    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    classes = window.classes
    QTimer.singleShot(0, lambda: _answer_dialog(qtbot, name))
    next(b for b in classes.findChildren(QPushButton) if b.text() == "New…").click()
    assert name in window.project.class_names()
    window.activateWindow()  # the dialog gone, the window has the keys again
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.show_cluster(1)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    c = window.classify
    assert window.central.currentWidget() is c
    qtbot.wait(200)  # the layout settles
    assert window.minimumSizeHint().width() <= 1366 and window.width() <= 1366
    long_one = next(b for b in c.findChildren(QPushButton) if b.isVisible() and name in b.toolTip())
    assert "…" in long_one.text()  # cut in the middle, the whole name in its tooltip
    for b in (b for b in c.findChildren(QPushButton) if b.isVisible()):
        assert b.sizeHint().width() <= b.width() and b.sizeHint().height() <= b.height(), f"{b.text()!r} clipped"
        at = QRect(b.mapTo(c, QPoint(0, 0)), b.size())
        assert c.rect().contains(at) and not at.intersects(c.guess.geometry()) and not at.intersects(c.view.geometry())
    assert not c.guess.geometry().intersects(c.view.geometry())
    assert c.guess.sizeHint().width() <= c.width() and c.guess.minimumSizeHint().width() <= c.width()
    row = c.row
    qtbot.mouseClick(long_one, Qt.MouseButton.LeftButton)
    _expect(window.project, {row: name})  # the button labels with the whole name
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # back to the map

    widths: list[int] = []

    def look_and_cancel() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog) and w.isVisible())
        combo = dialog.findChild(QComboBox)
        widths.extend([dialog.sizeHint().width(), dialog.width()])
        items = [combo.itemText(i) for i in range(combo.count())]
        assert name in items or name not in window.project.class_names()[:1]  # the whole name to pick
        dialog.reject()

    classes.list.setCurrentRow(0)  # merge the first class: the long one is among the targets
    QTimer.singleShot(200, look_and_cancel)
    next(b for b in classes.findChildren(QPushButton) if b.text() == "Merge into…").click()
    classes.list.setCurrentRow(window.project.class_names().index(name))  # and the long one itself
    QTimer.singleShot(200, look_and_cancel)
    next(b for b in classes.findChildren(QPushButton) if b.text() == "Merge into…").click()
    assert len(widths) == 4 and max(widths) <= 1366, widths


@pytest.mark.slow
def test_ctrl_z_in_classify_mode_shows_the_galaxy_whose_answer_it_took_back(qtbot, window, folder):
    """Exploratory QA: after a key answered galaxy A and moved to B, Ctrl+Z cleared A's label but left B shown,
    so the next key answered B; a labelling session expects A back.  Ctrl+Shift+Z answers A again and moves on."""
    c = _into_classify(qtbot, window, folder)
    p = window.project
    strip = [int(r) for r in window.grid.rows()]
    names = [k.name for k in p.classes]
    qtbot.keyClick(c, Qt.Key.Key_1)
    qtbot.keyClick(c, Qt.Key.Key_2)
    assert c.row == strip[2]
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.row == strip[1] == _on_screen(window) and p.user_labels[strip[1]] is None
    assert list(p.selection.indices) == [strip[1]] and [int(r) for r in window.grid.rows()] == strip  # the same strip
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.row == strip[0] and p.user_labels[strip[0]] is None
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert p.user_labels[strip[0]] == names[0] and c.row == strip[1]  # redone: on to the next, as the key did
    qtbot.keyClick(c, Qt.Key.Key_3)  # answers the galaxy shown
    _expect(p, {strip[0]: names[0], strip[1]: names[2]})
    assert c.row == strip[2]


def _nearest_by_features(project, row: int) -> np.ndarray:
    """The distances of every galaxy to ``row`` in feature space, ``row``'s own left out (inf)."""
    d = np.linalg.norm(project.features - project.features[row], axis=1)
    d[row] = np.inf
    return d


@pytest.mark.slow
def test_keys_in_map_mode_leave_classify_mode_idle_until_it_is_shown(qtbot, window, folder, monkeypatch):
    """GUI stall audit: classify mode looked up the neighbours (an n x 64 scan, 37 ms at 200,000 galaxies,
    up to 0.86 s at a million) and counted the strip row by row on every selection and label change, in
    map mode too, where none of it is on screen.  Hidden it only remembers the galaxy; Ctrl+K shows it."""
    from app.widgets.qt_classify import QtClassify

    window.open_folder(folder)
    _fast(window)
    _cluster(qtbot, window)
    p = window.project
    looked_up: list[int] = []
    real = QtClassify._nearest
    monkeypatch.setattr(QtClassify, "_nearest", lambda self, row: looked_up.append(row) or real(self, row))
    window.show_cluster(1)
    strip = [int(r) for r in window.grid.rows()]
    names = [k.name for k in p.classes]
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_1):
        qtbot.keyClick(window, key)
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Right)  # on without labelling
    qtbot.wait(50)  # a queued prefetch would run now
    _expect(p, {strip[0]: names[0], strip[1]: names[1], strip[2]: names[0]})
    assert window.central.currentWidget() is window.map
    assert looked_up == []  # no neighbours for a view that is not shown
    assert _on_screen(window) == strip[4]

    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    c = window.classify
    assert window.central.currentWidget() is c
    assert c.row == strip[4] and image_id_in(c.title.text(), p, strip[4])  # the galaxy selected in map mode
    assert f"5 of {len(strip)}" in c.title.text() and f"{len(strip) - 3} unlabelled" in c.title.text()
    assert "Your label: <i>none yet</i>" in c.guess.text()
    d = _nearest_by_features(p, strip[4])
    np.testing.assert_allclose(d[c.neighbours], np.sort(d)[:8])
    assert all(not lab.pixmap().isNull() for lab in c.neighbour_labels)
    qtbot.keyClick(c, Qt.Key.Key_3)  # and its keys answer the galaxy shown
    _expect(p, {strip[0]: names[0], strip[1]: names[1], strip[2]: names[0], strip[4]: names[2]})
    assert c.row == strip[5] == _on_screen(window)


@pytest.mark.slow
def test_classify_keys_find_the_next_galaxys_neighbours_off_the_gui_thread(qtbot, window, folder, monkeypatch):
    """GUI stall audit: the neighbours of the galaxy shown and of the next one (the prefetch) were found
    on the GUI thread by an n x 64 scan, ~150 ms a galaxy at a million.  Now the prefetch finds the next
    galaxy's on the render pool, so a key that moves on finds them known."""
    import threading

    import app.widgets.qt_classify as classify_module
    from app.workers import render_pool

    gui = threading.get_ident()
    searched: dict[str, list[int]] = {"gui": [], "pool": []}

    def counting(search):
        def counted(*args, **kwargs):
            row = args[1]  # (space, row, k) for the exact scan, (index, row, k) for the index
            searched["gui" if threading.get_ident() == gui else "pool"].append(int(row))
            return search(*args, **kwargs)
        return counted

    # Whichever search the widget makes: the exact scan, or the index (core.neighbours) where there is one.
    if hasattr(classify_module, "nearest_rows"):  # the old widget's own exact scan
        monkeypatch.setattr(classify_module, "nearest_rows", counting(classify_module.nearest_rows))
    index = getattr(classify_module, "NeighbourIndex", None)
    if index is not None:
        monkeypatch.setattr(index, "nearest", counting(index.nearest))
    c = _into_classify(qtbot, window, folder)
    p = window.project
    strip = [int(r) for r in window.grid.rows()]
    assert searched["gui"] == [strip[0]]  # the galaxy Ctrl+K showed: nothing was known of it
    for k in range(1, 5):
        # The user looks at this galaxy while the next one's neighbours are found and handed back.
        qtbot.waitUntil(lambda k=k: strip[k] in searched["gui"] + searched["pool"] and render_pool().pending() == 0)
        qtbot.keyClick(c, Qt.Key.Key_1)
        assert c.row == strip[k]
        d = _nearest_by_features(p, strip[k])
        np.testing.assert_allclose(d[c.neighbours], np.sort(d)[:8])
    assert searched["gui"] == [strip[0]]  # no galaxy walked to was searched on the GUI thread
    assert set(strip[1:5]) <= set(searched["pool"])
