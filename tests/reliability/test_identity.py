"""Issue 19, items 4 and 7: the cache sees every edit, and a label follows its galaxy's content."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.cli import main  # imported before any capture: its progress bar keeps the stderr of import time
from core.store.cache import FeatureCache


def test_a_same_size_edit_in_the_middle_with_mtime_restored_is_seen(tmp_path):
    """Item 7: a 1 MiB file edited in its middle (same size, ``touch -r``) is not served its old row."""
    path = tmp_path / "big.fits"
    data = bytearray(np.random.default_rng(0).bytes(1024 * 1024))
    path.write_bytes(bytes(data))
    cache = FeatureCache(tmp_path / "cache")
    cache.store("k", [path], np.ones((1, 8), np.float32))
    assert len(cache.lookup("k", [path])) == 1
    st = os.stat(path)
    data[len(data) // 2] ^= 0xFF  # one byte in the middle, far from either end
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the modification time set back
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert cache.lookup("k", [path]) == {}, "the edited file was served its stale features"
    cache.close()


def _poison(cache_dir: Path, key: str) -> None:
    """What an attacker can do to a shipped cache: rewrite every row and its checksum to match."""
    import sqlite3
    import zlib

    db = sqlite3.connect(cache_dir / "features.sqlite")
    dim = db.execute("SELECT dim FROM dims WHERE key=?", (key,)).fetchone()[0]
    f32 = cache_dir / f"{key}.f32"
    rows = np.fromfile(f32, np.float32).reshape(-1, dim)
    evil = np.zeros_like(rows)
    evil[:, 0] = np.arange(len(rows)) % 2 * 100.0  # the attacker's rule
    evil.tofile(f32)
    with db:
        for i, r in enumerate(evil):
            db.execute("UPDATE rows SET crc=? WHERE key=? AND row=?", (zlib.crc32(r.tobytes()), key, i))
    db.close()


def _files(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    paths = [folder / f"g{i}.png" for i in range(n)]
    for p in paths:
        p.write_bytes(rng.bytes(3000))
    return paths


def test_a_poisoned_cache_with_matching_checksums_is_not_trusted(tmp_path):
    """Item 2: rows and checksums rewritten together are recomputed, not served."""
    paths = _files(tmp_path / "imgs")
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    cache.store("k", paths, np.random.default_rng(2).normal(size=(len(paths), 4)).astype(np.float32))
    assert len(cache.lookup("k", paths)) == len(paths)
    cache.close()
    _poison(tmp_path / "cache", "k")
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    assert cache.lookup("k", paths) == {}, "poisoned rows with recomputed checksums were trusted"
    assert any("not computed by this installation" in m for m in cache.take_problems())
    cache.close()


def test_a_cache_signed_by_another_installation_is_recomputed(tmp_path, monkeypatch):
    """Item 2: a folder arriving with a cache made elsewhere (valid everywhere but here) is recomputed."""
    from core.store.layout import installation_key_path

    paths = _files(tmp_path / "imgs")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "attacker-config"))
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    cache.store("k", paths, np.full((len(paths), 4), 7.0, np.float32))
    cache.close()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "victim-config"))
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    assert cache.lookup("k", paths) == {}
    assert cache.count("k") == 0, "the foreign rows stay in the index"
    cache.store("k", paths, np.ones((len(paths), 4), np.float32))
    assert len(cache.lookup("k", paths)) == len(paths), "rows this installation computed are reused"
    cache.close()
    key_file = installation_key_path()
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    assert tmp_path / "victim-config" in key_file.parents and tmp_path / "imgs" not in key_file.parents


def _cli_cluster(folder: Path, out: Path) -> list[dict[str, str]]:
    import csv

    code = main(["cluster", str(folder), "--clusters", "2", "--method", "kmeans", "--model", "galaxy_cnn",
                 "--out", str(out)])
    assert code == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))


def _two_labelled(template, tmp_path) -> tuple[Path, list[str]]:
    """A copy of the template project with its first two images (by name) labelled merger and lens; its PNG names."""
    from relhelp import copy_project

    from core.project import Project

    folder = copy_project(template[0], tmp_path / "imgs")
    names = sorted(p.name for p in folder.glob("*.png"))
    project = Project.open(folder)
    rows = {Path(p).name: i for i, p in enumerate(project.paths)}
    project.set_labels([rows[names[0]]], "merger")
    project.set_labels([rows[names[1]]], "lens")
    project.close()
    return folder, names


def test_a_renamed_or_moved_labelled_file_keeps_its_label(template, tmp_path, capsys):
    """Item 4: rename one labelled file, move another into a subfolder, recluster: both keep their labels."""
    folder, names = _two_labelled(template, tmp_path)
    (folder / names[0]).rename(folder / "renamed.png")
    (folder / "sub").mkdir()
    (folder / names[1]).rename(folder / "sub" / names[1])
    table = _cli_cluster(folder, tmp_path / "out.csv")
    by_name = {Path(r["path"]).as_posix().split("imgs/")[-1]: r for r in table}
    assert by_name["renamed.png"]["label"] == "merger" and by_name["renamed.png"]["label_source"] == "user"
    assert by_name[f"sub/{names[1]}"]["label"] == "lens" and by_name[f"sub/{names[1]}"]["label_source"] == "user"
    assert "2 label(s) followed their image" in capsys.readouterr().out
    # Reopened, the project shows them under the new names.
    from core.project import Project

    again = Project.open(folder)
    try:
        mine = {Path(p).name: u for p, u in zip(again.paths, again.user_labels) if u is not None}
        assert mine == {"renamed.png": "merger", names[1]: "lens"}
    finally:
        again.close()


def test_a_labelled_file_replaced_by_another_image_keeps_its_label_and_the_user_is_told_once(template, tmp_path, capsys):
    """Exploratory QA: a labelled file's content replaced under the same name kept its label without a word, although
    labels follow the galaxy's content.  The label stays (a re-rendered cutout of the same object is the usual
    reason) and the run says which files changed since they were labelled, once."""
    folder, names = _two_labelled(template, tmp_path)
    (folder / names[0]).write_bytes((folder / names[5]).read_bytes())  # another galaxy under the labelled name
    capsys.readouterr()
    table = _cli_cluster(folder, tmp_path / "out.csv")
    out = capsys.readouterr().out
    assert (f"1 labelled image(s) hold other content than when you labelled them (same name, the file replaced): "
            f"their labels are kept; check them: {names[0]}") in out
    by_name = {Path(r["path"]).name: r for r in table}
    assert by_name[names[0]]["label"] == "merger" and by_name[names[1]]["label"] == "lens"
    _cli_cluster(folder, tmp_path / "again.csv")
    assert "hold other content" not in capsys.readouterr().out  # told once


def test_a_store_written_before_schema_4_gets_content_for_its_labels(tmp_path):
    """Item 4's migration: a version-3 store's labelled images get their fingerprint, so a later rename is followed."""
    import sqlite3

    from core.images.io import file_fingerprint
    from core.store.database import ProjectStore
    from core.store.schema import SCHEMA_VERSION

    paths = _files(tmp_path / "imgs", 3)
    store_dir = tmp_path / "imgs" / ".galaxy-sorter"
    store_dir.mkdir()
    db = sqlite3.connect(store_dir / "project.sqlite")
    # The version-3 schema, as the previous release wrote it.
    db.executescript("""
        CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
                             status TEXT NOT NULL DEFAULT 'ok', error TEXT);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, created REAL NOT NULL, method TEXT NOT NULL, model TEXT NOT NULL,
                           n_clusters INTEGER NOT NULL, params TEXT NOT NULL, warnings TEXT NOT NULL);
        CREATE TABLE assignments (run_id INTEGER NOT NULL, image_id INTEGER NOT NULL, cluster INTEGER NOT NULL,
                                  confidence REAL NOT NULL, x REAL, y REAL, PRIMARY KEY (run_id, image_id));
        CREATE TABLE cluster_names (run_id INTEGER NOT NULL, cluster INTEGER NOT NULL, name TEXT NOT NULL,
                                    PRIMARY KEY (run_id, cluster));
        CREATE TABLE labels (image_id INTEGER PRIMARY KEY, label TEXT NOT NULL, source TEXT NOT NULL,
                             updated REAL NOT NULL);
        CREATE TABLE classes (name TEXT PRIMARY KEY, color TEXT NOT NULL, position INTEGER NOT NULL);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO images (id, path, name) VALUES (1, 'g0.png', 'g0'), (2, 'g1.png', 'g1'), (3, 'g2.png', 'g2');
        INSERT INTO labels VALUES (2, 'spiral', 'user', 1.0);
        PRAGMA user_version=3;
    """)
    db.close()
    store = ProjectStore(store_dir, root=tmp_path / "imgs")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.db.execute("SELECT content FROM images WHERE id=2").fetchone()[0] == file_fingerprint(paths[1])
    store.close()
    paths[1].rename(tmp_path / "imgs" / "moved.png")
    store = ProjectStore(store_dir, root=tmp_path / "imgs")
    ids = store.add_images([paths[0], paths[2], tmp_path / "imgs" / "moved.png"])
    assert store.labels() == {ids[tmp_path / "imgs" / "moved.png"]: ("spiral", "user")}
    store.close()


FIXTURE = Path(__file__).with_name("fixtures") / "store_v3"
#: SHA-256 of the nine images ``make_sample(per_class=3, size=64, seed=7)`` wrote when the fixture was made.
FIXTURE_IMAGES = "0c1d30e403a6694b9c2c3cda5ed9f1dbefac837588b9c9e22e175af8c735dcf0"


def test_a_store_written_by_the_previous_release_is_migrated_and_its_labels_follow(tmp_path):
    """The migration fixture: ``fixtures/store_v3`` is a real store written by the release before issue 19.

    (``galaxy-sorter-cli cluster`` with galaxy_cnn and k-means on the seed-7 sample, then two labels, on
    ``main`` at 8ebc0cc: schema 3, feature cache 2, a folder then at /tmp/fx/imgs.)
    """
    import hashlib
    import shutil

    from core.images.sample import make_sample
    from core.project import Project
    from core.store.schema import SCHEMA_VERSION

    folder = make_sample(tmp_path / "imgs", per_class=3, size=64, seed=7)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.glob("*.png")))).hexdigest()
    assert digest == FIXTURE_IMAGES, "make_sample no longer writes the images the fixture store was made on"
    shutil.copytree(FIXTURE, folder / ".galaxy-sorter")
    p = Project.open(folder)  # another path than the one it was written at: keys are relative
    try:
        assert p.store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        mine = {Path(x).name: u for x, u in zip(p.paths, p.user_labels) if u is not None}
        assert mine == {"spiral_000.png": "spiral", "elliptical_001.png": "elliptical"}
        assert p.store.db.execute("SELECT COUNT(*) FROM images WHERE content LIKE 'c2:%'").fetchone()[0] == 2
        # The old cache's rows (unsigned, head-and-tail fingerprints, PNGs read before the fixed model
        # stretch of linear data) are not served: dropped on open, and recomputed.
        from core.features.extract import FeatureModel
        from core.images.preprocess import Preprocessing

        key = FeatureModel("galaxy_cnn", use_gpu=False).cache_key(Preprocessing())
        assert p.store.features.lookup(key, sorted(folder.glob("*.png"))) == {}
        assert p.store.features.count(key) == 0
        assert any("9 row(s) of FITS, PNG or TIFF" in m for m in p.store.features.take_problems())
    finally:
        p.close()
    (folder / "moved").mkdir()
    (folder / "spiral_000.png").rename(folder / "moved" / "renamed.png")
    table = _cli_cluster(folder, tmp_path / "out.csv")
    labels = {Path(r["path"]).name: r["label"] for r in table if r["label_source"] == "user"}
    assert labels == {"renamed.png": "spiral", "elliptical_001.png": "elliptical"}


def test_a_stored_key_outside_the_root_is_told_from_names_that_only_look_like_it(tmp_path):
    """Keys a store may hold (core.store.identity.outside_root): what climbs or is anchored elsewhere is outside; a name
    with two dots, an absolute path under the root (an older store read-only) and a name with a backslash are not."""
    from core.store.identity import encode_key, outside_root

    root = tmp_path / "galaxies"
    outside = ["../secret.png", "sub/../../secret.png", "..", "/etc/passwd", str(tmp_path / "galaxies2" / "g.png"),
               encode_key("../caf\udce9.png")]
    inside = ["g.png", "galaxy..png", "..hidden/g.png", "sub/g..1.png", str(root / "sub" / "g.png"),
              "D:\\survey\\g.png", encode_key("caf\udce9.png")]
    assert [k for k in outside if not outside_root(k, root)] == []
    assert [k for k in inside if outside_root(k, root)] == []
    assert not outside_root("../secret.png", None), "a store with no root keys every image by its absolute path"
