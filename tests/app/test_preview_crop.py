"""The preview outlines the crop the model was given, the automatic crop too.

With the run's crop "fitted to the central object", the preview outlined the fallback fraction (0.5) whatever each
galaxy's own crop was: the box said the model saw more than twice the side it saw for a compact galaxy.
"""

from __future__ import annotations

from tests.helpers import cluster, fast, framed_folder, pick


def test_the_preview_outlines_each_galaxys_own_automatic_crop(qtbot, window, tmp_path):
    from core.images.io import read_image
    from core.images.preprocess import central_object_fraction

    folder = framed_folder(tmp_path, sigma=4.0)  # compact galaxies, a sixth or so of their 96 px frames
    window.open_folder(folder)
    fast(window, k=2)
    pick(qtbot, window.run_settings.crop, "auto")  # Crop: fitted to the central object, as the user picks it
    cluster(qtbot, window)
    assert window.project.preprocessing().crop == "auto"
    view = window.preview.view
    checked = 0
    for row in (0, len(window.project) - 1):  # two galaxies of other sizes and shapes
        path = window.project.paths[row]
        window.map.selection_requested.emit([row], False)  # a click on its point
        qtbot.waitUntil(lambda p=path: window.preview.drawn is not None and window.preview.drawn[0] == p, timeout=10_000)
        fraction = central_object_fraction(read_image(path))
        assert fraction is not None and abs(fraction - 0.5) > 0.1, fraction  # a crop unlike the fallback's
        shown = view.item.pixmap()
        side = round(min(shown.width(), shown.height()) * fraction)
        rect = view.crop_item.rect()
        assert view.crop_item.isVisible()
        assert abs(rect.width() - side) <= 1 and abs(rect.height() - side) <= 1, (rect, side, fraction)
        assert abs(rect.center().x() - shown.width() / 2) <= 1 and abs(rect.center().y() - shown.height() / 2) <= 1
        checked += 1
    assert checked == 2
