"""The front door: the licence pyproject names is the LICENSE shipped, and CITATION.cff cites this version."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_license_file_is_the_licence_pyproject_names():
    project = _pyproject()
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]  # SPDX, setuptools >= 77
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_cff_cites_this_version_under_that_licence():
    yaml = pytest.importorskip("yaml", reason="PyYAML reads CITATION.cff")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == _pyproject()["version"] and cff["license"] == _pyproject()["license"]
    assert cff["title"] and cff["authors"] and cff["message"]
