"""A label's content fingerprint is recorded after the label (core.store.content): the label still follows a rename.

The fingerprint is taken on the recorder's thread, so a file can be renamed, or the app closed, before it is;
each test holds the recorder back (its queue kept in a list) to make that moment certain.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import numpy as np
from relhelp import RUN, copy_project

from core.cli import main  # imported before any capture: its progress bar keeps the stderr of import time


def _held(project) -> list:
    """Keep what the project's recorder is given in a list, so nothing is recorded until it is handed over."""
    held: list = []
    project.store.contents._put = held.append
    return held


def _content(folder: Path, name: str) -> str | None:
    db = sqlite3.connect(folder / ".galaxy-sorter" / "project.sqlite")
    try:
        return db.execute("SELECT content FROM images WHERE path=?", (name,)).fetchone()[0]
    finally:
        db.close()


def _label_first(template, tmp_path, label: str = "merger"):
    """A copy of the template project, open, its first image (by name) labelled with the recorder held."""
    from core.project import Project

    folder = copy_project(template[0], tmp_path / "imgs")
    name = sorted(p.name for p in folder.glob("*.png"))[0]
    project = Project.open(folder)
    project.store.contents.wait(30)  # what the open found to record (nothing: the template has no label)
    held = _held(project)
    project.set_labels([[Path(p).name for p in project.paths].index(name)], label)
    assert held and _content(folder, name) is None
    return folder, name, project, held


def _cluster_labels(folder: Path, out: Path, capsys) -> tuple[dict[str, str], str]:
    """Cluster again with the CLI: the user labels of its table by file name, and what it printed."""
    capsys.readouterr()
    assert main(["cluster", str(folder), "--clusters", "3", *RUN, "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    return {Path(r["path"]).name: r["label"] for r in table if r["label_source"] == "user"}, capsys.readouterr().out


def test_a_file_renamed_before_its_content_is_recorded_gets_the_cached_content_and_keeps_its_label(template, tmp_path,
                                                                                                 capsys):
    from core.images.io import file_fingerprint

    folder, name, project, held = _label_first(template, tmp_path)
    os.rename(folder / name, folder / "renamed.png")
    recorder = project.store.contents
    del recorder._put  # handed over: the recorder runs now, with the file gone from its labelled name
    for item in held:
        recorder._put(item)
    assert recorder.wait(30)
    assert recorder.from_cache == 1 and recorder.hashed == 0
    assert _content(folder, name) == file_fingerprint(folder / "renamed.png")
    project.close()
    labels, out = _cluster_labels(folder, tmp_path / "out.csv", capsys)
    assert labels == {"renamed.png": "merger"} and "1 label(s) followed their image" in out


def test_content_not_recorded_before_closing_is_recorded_at_the_next_open(template, tmp_path, capsys):
    from core.images.io import file_fingerprint
    from core.project import Project

    folder, name, project, _ = _label_first(template, tmp_path)
    project.close()  # the app quit before the recorder ran
    assert _content(folder, name) is None
    again = Project.open(folder)
    assert again.store.contents.wait(30)
    assert again.store.contents.hashed + again.store.contents.from_cache == 1
    again.close()
    assert _content(folder, name) == file_fingerprint(folder / name)
    (folder / "sub").mkdir()
    os.rename(folder / name, folder / "sub" / name)
    labels, out = _cluster_labels(folder, tmp_path / "out.csv", capsys)
    assert labels == {name: "merger"} and "1 label(s) followed their image" in out


def test_closed_then_renamed_before_any_open_the_scan_takes_the_cached_content(template, tmp_path, capsys):
    folder, name, project, _ = _label_first(template, tmp_path)
    project.close()
    os.rename(folder / name, folder / "renamed.png")
    assert _content(folder, name) is None
    labels, out = _cluster_labels(folder, tmp_path / "out.csv", capsys)
    assert labels == {"renamed.png": "merger"} and "1 label(s) followed their image" in out


def test_a_clustering_records_the_content_a_closed_session_left_unrecorded(template, tmp_path, capsys):
    """The CLI opens no Project: its feature extraction's verified fingerprints are recorded for labelled files."""
    from core.images.io import file_fingerprint

    folder, name, project, _ = _label_first(template, tmp_path)
    project.close()
    _, out = _cluster_labels(folder, tmp_path / "out.csv", capsys)
    assert _content(folder, name) == file_fingerprint(folder / name)
    assert "hold other content" not in out  # recorded for the first time: nothing changed since the label


def test_the_cache_vouches_only_for_signed_fingerprints_of_files_unchanged_since(tmp_path):
    from core.images.io import file_fingerprint
    from core.store.cache import FeatureCache

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(4)
    paths = [folder / f"g{i}.png" for i in range(4)]
    for p in paths:
        p.write_bytes(rng.bytes(2000))
    cache = FeatureCache(tmp_path / "cache", root=folder)
    cache.store("k", paths, rng.normal(size=(4, 3)).astype(np.float32))
    keys = [p.name for p in paths]
    before = {p.name: file_fingerprint(p) for p in paths}
    assert cache.known_contents(keys, lambda k: str(folder / k)) == before
    paths[0].write_bytes(rng.bytes(2000))  # replaced: a new content, not the indexed one
    paths[1].unlink()  # gone: as last indexed
    with cache._db:  # an index rewritten to name another content for g2: its signature no longer matches
        cache._db.execute("UPDATE rows SET fingerprint=? WHERE path='g2.png'", (before["g3.png"],))
    assert cache.known_contents(keys, lambda k: str(folder / k)) == {"g1.png": before["g1.png"], "g3.png": before["g3.png"]}
    cache.close()
