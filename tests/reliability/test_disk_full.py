"""A full disk (``OSError(ENOSPC)`` injected at write time) leaves store, cache and catalogue consistent.

Faults: a feature-row write torn half-way, a failing fsync, SQLite's own
"database or disk is full" (a real one, through ``max_page_count``), and a
catalogue export; then the whole CLI with a full disk during extraction,
which must end in one line and rc 2, and run cleanly once space is back.
"""

from __future__ import annotations

import builtins
import errno
import sqlite3

import numpy as np
import pytest

import core.catalog.export
import core.store.cache
from core.catalog.export import atomic_write_text
from core.cli import main
from core.store.cache import FeatureCache


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class _TornFile:
    """A file object whose next write stores half its bytes, then fails as a full disk does."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        _enospc()

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def _files(tmp_path, n):
    out = []
    for i in range(n):
        p = tmp_path / f"f{i}.png"
        p.write_bytes(bytes([i]) * (100 + i))
        out.append(p)
    return out


@pytest.mark.parametrize("fault", ["torn write", "fsync"])
def test_cache_write_on_a_full_disk_leaves_no_partial_row(tmp_path, monkeypatch, fault):
    paths = _files(tmp_path, 4)
    cache = FeatureCache(tmp_path / "cache")
    rows = np.arange(4 * 8, dtype=np.float32).reshape(4, 8)
    cache.store("m", paths[:2], rows[:2])
    size = (tmp_path / "cache" / "m.f32").stat().st_size
    if fault == "fsync":
        monkeypatch.setattr(core.store.cache.os, "fsync", _enospc)
    else:
        monkeypatch.setattr(core.store.cache, "open", lambda *a, **k: _TornFile(builtins.open(*a, **k)), raising=False)
    with pytest.raises(OSError) as info:
        cache.store("m", paths[2:], rows[2:])
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert (tmp_path / "cache" / "m.f32").stat().st_size == size
    assert cache.count("m") == 2
    cache.store("m", paths[2:], rows[2:])  # space is back
    got = FeatureCache(tmp_path / "cache").lookup("m", paths)
    for p, r in zip(paths, rows):
        np.testing.assert_array_equal(got[p], r)


def test_sqlite_full_keeps_every_earlier_label(tmp_path):
    from core.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = _files(folder, 6)
    project = Project.open(folder)
    ids = project.store.add_images(paths)
    project.store.set_labels([ids[str(paths[0])]], "spiral")
    db = project.store.db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")  # the database file may not grow: SQLite's own disk-full
    with pytest.raises(sqlite3.OperationalError, match="full"):
        project.store.set_labels([ids[str(p)] for p in paths[1:]], "elliptical" * 5000)
    db.execute("PRAGMA max_page_count=1073741823")
    assert project.store.labels() == {ids[str(paths[0])]: ("spiral", "user")}
    project.close()
    check = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_export_on_a_full_disk_keeps_the_previous_catalogue(tmp_path, monkeypatch):
    out = tmp_path / "c.csv"
    atomic_write_text(out, "old,complete\n")
    monkeypatch.setattr(core.catalog.export.os, "fsync", _enospc)
    with pytest.raises(OSError):
        atomic_write_text(out, "new\n" * 1000)
    assert out.read_text() == "old,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]  # no temp file left behind


def test_cli_with_a_full_disk_says_so_in_one_line_and_recovers(tmp_path, monkeypatch, capsys):
    from core.images.sample import make_sample

    folder = make_sample(tmp_path / "imgs", per_class=3, size=64, seed=5)
    out = tmp_path / "c.csv"
    args = ["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
            "--out", str(out), "--quiet", "--cpu", "--batch-size", "4"]
    calls = {"n": 0}
    real_fsync = core.store.cache.os.fsync

    def fsync_then_full(fd):  # the first batch is stored, then the disk fills up
        calls["n"] += 1
        if calls["n"] > 1:
            _enospc()
        real_fsync(fd)

    monkeypatch.setattr(core.store.cache.os, "fsync", fsync_then_full)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    monkeypatch.undo()
    assert main(args) == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert "9 images clustered" in text and "damaged" not in text
