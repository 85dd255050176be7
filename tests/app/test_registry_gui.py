"""The GUI lists what the core registries hold; jobs carry their own result handlers."""

from __future__ import annotations

import time

import numpy as np

from core.clustering.methods import CLUSTER_METHODS
from core.colouring import COLOURINGS
from tests.helpers import halves as _halves


def test_a_toy_method_added_to_the_registry_alone_shows_in_the_cli_and_the_window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow
    from core.cli import _parser
    from core.features.extract import FEATURE_MODELS, FeatureModel

    CLUSTER_METHODS.add("halves", _halves)  # no display name, no options: must not crash anything
    CLUSTER_METHODS.add("halves-named", _halves, "Halves (toy)", "split on the first feature", uses_k=False)
    FEATURE_MODELS.add("toy_net", FeatureModel, "Toy net", file="galaxy_cnn.onnx")  # a model is one entry too
    try:
        window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        combo = window.run_settings.method
        items = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
        assert items["halves"] == "halves" and items["halves-named"] == "Halves (toy)"
        assert combo.currentData() == "dec"  # the registry's default is still preselected
        combo.setCurrentIndex(combo.findData("halves-named"))
        assert not window.run_settings.n_clusters.isEnabled()  # uses_k=False, read from the entry
        assert window.run_settings.config().method == "halves-named"
        models = window.run_settings.model
        assert models.itemText(models.findData("toy_net")) == "Toy net"
        models.setCurrentIndex(models.findData("toy_net"))
        assert window.run_settings.config().model == "toy_net"
        parser = _parser()
        assert parser.parse_args(["cluster", "x", "--method", "halves"]).method == "halves"
        assert parser.parse_args(["cluster", "x", "--method", "halves-named"]).method == "halves-named"
    finally:
        CLUSTER_METHODS.remove("halves")
        CLUSTER_METHODS.remove("halves-named")
        FEATURE_MODELS.remove("toy_net")


def test_the_colour_box_lists_the_colourings(window):
    box = window.color_combo
    assert [box.itemData(i) for i in range(box.count())] == list(COLOURINGS.names())
    window.set_color_mode("confidence")
    assert window.color_mode == "confidence" and box.currentData() == "confidence"


def test_each_job_calls_its_own_handler_and_a_superseded_one_never(qtbot):
    from app.workers import JobRunner

    runner = JobRunner()
    seen = []
    runner.finished.connect(lambda name, result: seen.append(("signal", name, result)))

    def slow(progress, should_stop):  # on the pool thread: sleeps until the second start replaces it
        while not should_stop():
            time.sleep(0.005)
        return "old"

    runner.start("first", slow, on_result=lambda r: seen.append(("first handler", r)),
                 on_cancelled=lambda: seen.append(("first cancelled",)))
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        # replace=True: a start the user asked to replace the running job with (another folder
        # opened); without it the second start is refused (tests/app/test_job_guard.py)
        runner.start("second", lambda progress, should_stop: np.int64(2),
                     on_result=lambda r: seen.append(("second handler", int(r))), replace=True)
    runner.wait(10_000)
    qtbot.wait(50)
    assert ("second handler", 2) in seen
    assert seen.index(("second handler", 2)) < seen.index(("signal", "second", 2))  # state first, then the signal
    assert not [s for s in seen if s[0].startswith("first")]


def test_the_file_menu_offers_every_export_format(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow
    from core.catalog.export import EXPORT_FORMATS, write_csv

    EXPORT_FORMATS.add("csv-copy", write_csv, "Catalogue copy (CSV)", suffix=".csv")
    try:
        window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        texts = [a.text() for a in window.export_actions]
        assert texts[0] == "&Export Catalogue (CSV)…" and texts[-1] == "&Export Catalogue copy (CSV)…"
        assert len(texts) == len(EXPORT_FORMATS)
        assert not any(a.isEnabled() for a in window.export_actions)  # nothing clustered yet
    finally:
        EXPORT_FORMATS.remove("csv-copy")
