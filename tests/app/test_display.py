"""Issue 18 part B through what the user touches: the map export, the stale views, the polish,
the state kept per project (the window-size and responsiveness checks live in test_fit_and_stall.py)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog


def _fast(window, k: int = 3) -> None:
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
    s.method.setCurrentIndex(s.method.findData("kmeans"))
    s.n_clusters.setValue(k)


@pytest.fixture
def clustered(qtbot, window, folder):
    """The window on the synthetic sample, clustered into 3 with k-means."""
    assert window.open_folder(folder)
    _fast(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.cluster_action.trigger()
    return window


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
