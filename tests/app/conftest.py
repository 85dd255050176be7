"""GUI tests run offscreen (set in tests/conftest.py before Qt loads) with pytest-qt."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def folder(sample_folder, tmp_path):
    """A private copy of the synthetic sample (each test gets its own project store)."""
    return shutil.copytree(sample_folder, tmp_path / "galaxies")


@pytest.fixture
def clustered(qtbot, window, folder):
    """The window on the synthetic sample, clustered into 3 with k-means."""
    from tests.helpers import fast

    assert window.open_folder(folder)
    fast(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=120_000):
        window.cluster_action.trigger()
    return window
