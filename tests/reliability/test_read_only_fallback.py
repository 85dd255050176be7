"""Issue 19, item 5: a read-only folder's store is found from another mount point and not hidden once writable."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from relhelp import copy_project

from core.cli import main
from core.project import Project
from core.store import layout

_REAL_MKSTEMP = tempfile.mkstemp


@pytest.fixture
def read_only(monkeypatch, tmp_path):
    """The image folders cannot be written: the store's write probe fails as on a read-only mount.

    (The tests may run as root, whom permissions do not stop, so the probe itself is made to fail.)
    """
    import errno

    real = _REAL_MKSTEMP

    def mkstemp(*args, **kwargs):
        if str(kwargs.get("prefix", "")).startswith(".write-test"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # this test's own fallback stores
    return monkeypatch


def _label(folder: Path, labels: dict[int, str]) -> dict[str, str]:
    p = Project.open(folder)
    try:
        assert not p.store.read_only and p.store.folder.name != ".galaxy-sorter"  # the fallback store
        for row, label in labels.items():
            p.set_labels([row], label)
        return {Path(x).name: u for x, u in zip(p.paths, p.user_labels) if u is not None}
    finally:
        p.close()


def _labels(folder: Path) -> dict[str, str]:
    p = Project.open(folder)
    try:
        return {Path(x).name: u for x, u in zip(p.paths, p.user_labels) if u is not None}
    finally:
        p.close()


def _cluster(folder: Path, tmp_path: Path) -> None:
    assert main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(tmp_path / "out.csv")]) == 0


def test_the_same_folder_mounted_elsewhere_finds_its_labels(template, tmp_path, read_only):
    folder = copy_project(template[0], tmp_path / "mnt-a" / "survey", with_store=False)
    _cluster(folder, tmp_path)
    made = _label(folder, {0: "spiral", 3: "merger"})
    assert made
    # The same disk, mounted at another path.
    elsewhere = tmp_path / "media" / "usb" / "survey"
    elsewhere.parent.mkdir(parents=True)
    shutil.move(folder, elsewhere)
    assert _labels(elsewhere) == made


def test_labels_made_read_only_are_kept_when_the_folder_becomes_writable(template, tmp_path, read_only):
    folder = copy_project(template[0], tmp_path / "survey", with_store=False)
    _cluster(folder, tmp_path)
    made = _label(folder, {1: "lens", 2: "spiral"})
    read_only.setattr(tempfile, "mkstemp", _REAL_MKSTEMP)  # the folder can be written now
    assert _labels(folder) == made
    assert (folder / ".galaxy-sorter" / "project.sqlite").is_file()  # the store moved into the folder
    _cluster(folder, tmp_path)  # and it works there
    assert _labels(folder) == made
    assert list(layout.fallback_base().glob("survey-*.adopted-*")), "the old store is kept, renamed"


def test_labels_made_read_only_are_merged_into_a_store_already_in_the_folder(template, tmp_path, read_only):
    folder = copy_project(template[0], tmp_path / "survey", with_store=False)
    _cluster(folder, tmp_path)
    made = _label(folder, {4: "irregular"})
    # Meanwhile a store appeared in the folder (copied in with the images), with a label of its own.
    read_only.setattr(tempfile, "mkstemp", _REAL_MKSTEMP)
    shutil.copytree(template[0] / ".galaxy-sorter", folder / ".galaxy-sorter", dirs_exist_ok=True)
    from core.store import fallback

    read_only.setattr(fallback, "_move_in", lambda *a: pytest.fail("must merge, not replace"))
    theirs = Project.open(folder, store_dir=folder / ".galaxy-sorter")
    theirs.set_labels([7], "edge-on")
    mine_then = {Path(theirs.paths[7]).name: "edge-on"}
    theirs.close()
    assert _labels(folder) == {**mine_then, **made}
