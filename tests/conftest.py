"""Shared fixtures: the synthetic sample folder and the real Kaggle images when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The feature cache is signed with a per-installation key kept in the config folder (issue 19): the tests,
# and the worker processes they start, use a key of their own instead of the user's.
if "GALAXY_SORTER_TEST_CONFIG" not in os.environ:
    import tempfile

    os.environ["GALAXY_SORTER_TEST_CONFIG"] = os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="gs-config-")
    # Stores of read-only folders go under the data folder: the tests' own, never the user's.
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="gs-data-")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"


@pytest.fixture(scope="session")
def sample_folder(tmp_path_factory) -> Path:
    """A small synthetic labelled folder (10 per class), made once per session."""
    from core.images.sample import make_sample

    return make_sample(tmp_path_factory.mktemp("sample"), per_class=10, size=128, seed=1)


@pytest.fixture(scope="session")
def kaggle() -> Path:
    """The real Galaxy Zoo images in ../shared; tests using it skip when it is absent."""
    if not (SHARED / "images").is_dir() or not (SHARED / "labels.csv").is_file():
        pytest.skip(f"real galaxy images not found at {SHARED} (../shared/data beside the checkout)")
    return SHARED


@pytest.fixture
def window(qtbot, tmp_path):
    """The main window, shown, with settings of its own (never the user's)."""
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def hub(tmp_path):
    """A SAMP hub on the loopback interface only, its lockfile in the test's folder."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy 8 deprecates astropy.samp in favour of pyvo.samp (same code)
        from astropy.samp import SAMPHubServer
    server = SAMPHubServer(web_profile=False, addr="127.0.0.1", lockfile=str(tmp_path / "samp.lock"))
    server.start()
    yield server
    if server.is_running:
        server.stop()
