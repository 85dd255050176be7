"""Issue 14, nothing lost and nothing silently wrong: one regression test (or more) per defect.

Each test here failed on the code before the fix (checked with ``git stash``).
The model-free tests use tiny rendered galaxies; the CLI ones run the fast
EfficientNet-Lite0 with k-means on a handful of images.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.catalog.truth import load_truth
from core.cli import main
from core.images.io import ImageReadError, read_image, scan_images
from core.paths import model_file
from core.store.cache import FeatureCache
from core.store.database import ProjectStore
from core.store.layout import STORE_DIR, ProjectLocked, ReadOnlyStore, default_store_dir

ROOT = Path(__file__).resolve().parents[2]


def _galaxies(folder: Path, n: int, size: int = 64, seed: int = 0) -> list[Path]:
    from core.images.sample import CLASSES, render_galaxy

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = folder / f"g{i:02d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(render_galaxy(CLASSES[i % 3], size, rng), cv2.COLOR_RGB2BGR))
        out.append(p)
    return out


# 1. a torn or corrupted feature cache ------------------------------------------------------
def test_rows_appended_after_a_torn_tail_stay_aligned(tmp_path):
    paths = _galaxies(tmp_path / "imgs", 4)
    cache = FeatureCache(tmp_path / "cache", root=tmp_path / "imgs")
    rows = np.arange(16, dtype=np.float32).reshape(4, 4)
    cache.store("m", paths[:2], rows[:2])
    with open(tmp_path / "cache" / "m.f32", "ab") as fh:
        fh.write(b"\x01\x02\x03")  # a write cut short (a full disk, a crash)
    cache.store("m", paths[2:], rows[2:])
    got = cache.lookup("m", paths)
    assert sorted(got) == sorted(paths)
    for p, r in zip(paths, rows):
        np.testing.assert_array_equal(got[p], r)
    assert any("partial row" in m for m in cache.take_problems())


def test_flipped_bytes_and_non_finite_rows_are_recomputed_and_reported(tmp_path):
    paths = _galaxies(tmp_path / "imgs", 3)
    cache = FeatureCache(tmp_path / "cache")
    rows = np.ones((3, 4), np.float32)
    rows[2, 1] = np.nan
    cache.store("m", paths, rows)
    with open(tmp_path / "cache" / "m.f32", "r+b") as fh:
        fh.seek(4 * 4 + 2)  # inside row 1
        fh.write(b"\x7f")
    got = cache.lookup("m", paths)
    assert list(got) == [paths[0]]
    problems = cache.take_problems()
    assert len(problems) == 1 and "2 damaged row(s)" in problems[0]
    assert cache.count("m") == 1  # dropped from the index: recomputed next time


def test_cache_index_pointing_past_a_shortened_file_is_not_trusted(tmp_path):
    paths = _galaxies(tmp_path / "imgs", 2)
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", paths, np.eye(2, dtype=np.float32))
    os.truncate(tmp_path / "cache" / "m.f32", 8)
    assert list(cache.lookup("m", paths)) == [paths[0]]
    assert cache.take_problems()


# 2. identity: relative path + content fingerprint --------------------------------------------
def test_moved_folder_keeps_labels_and_cache(tmp_path):
    folder = tmp_path / "a"
    paths = _galaxies(folder, 3)
    store = ProjectStore(default_store_dir(folder), root=folder)
    ids = store.add_images(paths)
    store.set_labels([ids[str(paths[1])]], "spiral")
    store.features.store("m", paths, np.eye(3, dtype=np.float32))
    store.close()
    os.rename(folder, tmp_path / "b")
    moved = tmp_path / "b"
    store = ProjectStore(default_store_dir(moved), root=moved)
    new_paths = sorted(moved.glob("*.png"))
    ids = store.image_ids()
    assert store.labels() == {ids[str(new_paths[1])]: ("spiral", "user")}
    assert len(store.features.lookup("m", new_paths)) == 3
    store.close()


def test_relative_and_absolute_spellings_are_one_image(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    paths = _galaxies(folder, 2)
    monkeypatch.chdir(tmp_path)
    store = ProjectStore(default_store_dir("imgs"), root="imgs")
    a = store.add_images([Path("imgs") / p.name for p in paths])
    b = store.add_images(paths)
    assert a[str(paths[0])] == b["imgs/g00.png"] and len(store.image_ids()) == 2
    store.features.store("m", [Path("imgs/g00.png")], np.ones((1, 2), np.float32))
    assert list(store.features.lookup("m", [paths[0]])) == [paths[0]]
    store.close()


def test_same_size_same_mtime_replacement_is_recomputed(tmp_path):
    paths = _galaxies(tmp_path / "imgs", 1)
    cache = FeatureCache(tmp_path / "cache")
    cache.store("m", paths, np.ones((1, 4), np.float32))
    st = paths[0].stat()
    data = bytearray(paths[0].read_bytes())
    data[-20] ^= 0xFF  # same size, different content
    paths[0].write_bytes(bytes(data))
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r
    assert cache.lookup("m", paths) == {}


def test_older_store_with_two_spellings_is_migrated_and_merged(tmp_path):
    from core.store.schema import _SCHEMA_V1, _SCHEMA_V2

    folder = tmp_path / "imgs"
    paths = _galaxies(folder, 2)
    (folder / STORE_DIR).mkdir()
    db = sqlite3.connect(folder / STORE_DIR / "project.sqlite")
    db.executescript(_SCHEMA_V1 + _SCHEMA_V2)
    db.execute("INSERT INTO images (id, path, name) VALUES (1, ?, 'g00'), (2, 'imgs/g00.png', 'g00'), "
               "(3, '/elsewhere/old/imgs/g01.png', 'g01')", (str(paths[0]),))
    db.execute("INSERT INTO labels VALUES (1, 'spiral', 'user', 1.0), (2, 'elliptical', 'user', 2.0), "
               "(3, 'edge_on', 'user', 1.0)")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    store = ProjectStore(folder / STORE_DIR, root=folder)
    ids = store.image_ids()
    assert set(ids) == {"g00.png", "g01.png"}
    labels = store.labels()
    assert labels[ids[str(paths[0])]] == ("elliptical", "user")  # the newer of the two
    assert labels[ids[str(paths[1])]] == ("edge_on", "user")  # found again after the move
    store.close()


# 3 and 10. hostile names and folders ---------------------------------------------------------
def test_non_utf8_name_is_skipped_with_a_reason_and_the_run_goes_on(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _galaxies(folder, 4)
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    shutil.copyfile(folder / "g00.png", bad)
    out = tmp_path / "c.csv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--out", str(out),
                 "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "caf\\xe9.png: the file name is not valid UTF-8" in text
    assert len(out.read_text().splitlines()) == 5


def test_unreadable_subfolder_is_listed_as_skipped(tmp_path, monkeypatch):
    _galaxies(tmp_path / "sub", 1)
    _galaxies(tmp_path, 1)
    real_scandir = os.scandir

    def scandir(path="."):  # root ignores permissions, so the refusal is simulated
        if Path(os.fsdecode(path)).name == "sub":
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found, skipped = scan_images(tmp_path)
    assert [p.name for p in found] == ["g00.png"]
    assert len(skipped) == 1 and skipped[0].path.endswith("sub") and "cannot be read" in skipped[0].reason


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :40] = 255  # left half white
    ok, buf = cv2.imencode(".jpg", img)
    # An APP1 Exif segment with Orientation = 6 (rotate 90 degrees clockwise to display).
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x01\x00" + b"\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00" + b"\x00" * 4
    app1 = b"Exif\x00\x00" + tiff
    data = buf.tobytes()
    (tmp_path / "r.jpg").write_bytes(data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:])
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (80, 40, 3)  # upright as a viewer shows it
    assert out[5, 20].mean() > 200 and out[75, 20].mean() < 50


def test_all_zero_fits_is_flagged_not_clustered_as_black(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((32, 32), np.float32)).writeto(tmp_path / "z.fits")
    with pytest.raises(ImageReadError, match="same value"):
        read_image(tmp_path / "z.fits")


# 4 and 8. --out and every expected failure: one line, rc 2, nothing left behind --------------
@pytest.mark.parametrize("out, message", [("x.json", "would overwrite the catalogue"),
                                          ("adir", "is a folder"),
                                          ("missing/x.csv", "does not exist")])
def test_bad_out_is_refused_before_any_work(tmp_path, capsys, out, message):
    folder = tmp_path / "imgs"
    _galaxies(folder, 3)
    (tmp_path / "adir").mkdir()
    (tmp_path / "x.json").write_text("keep me")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["cluster", str(folder), "--out", str(tmp_path / out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no store, no temp file
    assert (tmp_path / "x.json").read_text() == "keep me"


def test_damaged_and_newer_stores_and_short_truth_rows_get_one_line(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _galaxies(folder, 3)
    (folder / STORE_DIR).mkdir()
    (folder / STORE_DIR / "project.sqlite").write_bytes(b"not a database at all" * 100)
    assert main(["cluster", str(folder), "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and len(err.strip().splitlines()) == 1
    shutil.rmtree(folder / STORE_DIR)
    ProjectStore(folder / STORE_DIR).close()
    db = sqlite3.connect(folder / STORE_DIR / "project.sqlite")
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    assert main(["cluster", str(folder), "--out", str(tmp_path / "c.csv")]) == 2
    assert "newer Galaxy Sorter" in capsys.readouterr().err
    truth = tmp_path / "solutions.csv"
    truth.write_text("GalaxyID,Class1.1,Class1.2,Class1.3\n1,0.1,0.8,0.1\n2,0.5\n")
    assert main(["cluster", str(folder), "--truth", str(truth), "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{truth}, line 3" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(sqlite3.DatabaseError):  # --debug: the traceback, for a bug report
        (folder / STORE_DIR / "project.sqlite").write_bytes(b"junk" * 100)
        main(["cluster", str(folder), "--out", str(tmp_path / "c.csv"), "--debug"])


def test_truth_file_with_an_unclosed_quote_names_the_line(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text('id,label\n1,spiral\n2,"elliptical\n3,spiral\n4,spiral\n')
    with pytest.raises(ValueError, match=r"line 3: a quote is not closed"):
        load_truth(p)


# 5. a folder that became read-only -------------------------------------------------------------
def test_read_only_folder_opens_its_store_read_only(tmp_path, monkeypatch):
    from core.project import Project
    from core.store import database as store_module

    folder = tmp_path / "imgs"
    paths = _galaxies(folder, 2)
    s = ProjectStore(default_store_dir(folder), root=folder)
    ids = s.add_images(paths)
    s.set_labels([ids[str(paths[0])]], "spiral")
    s.close()
    # root ignores file permissions, so the read-only folder is simulated where it is tested.
    monkeypatch.setattr(store_module, "_writable", lambda folder: False)
    monkeypatch.setattr(store_module.os, "access", lambda *a, **k: False)
    assert default_store_dir(folder) == folder.resolve() / STORE_DIR
    project = Project.open(folder)
    assert project.store.read_only
    assert list(project.store.labels().values()) == [("spiral", "user")]
    with pytest.raises(ReadOnlyStore, match="read-only"):
        project.store.set_labels([1], "x")
    project.close()


# 6. two processes on one project ---------------------------------------------------------------
def test_a_second_process_is_told_the_project_is_open(tmp_path):
    folder = tmp_path / "imgs"
    _galaxies(folder, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from core.store.database import ProjectStore
            s = ProjectStore({str(folder / STORE_DIR)!r}, root={str(folder)!r})
            print("open", flush=True)
            sys.stdin.readline()
            """)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ProjectLocked, match=f"pid {holder.pid}"):
            ProjectStore(folder / STORE_DIR, root=folder)
    finally:
        holder.stdin.close()
        holder.wait(30)
    ProjectStore(folder / STORE_DIR, root=folder).close()  # free again once the other has gone


# 7. a store that arrives with a shared folder ----------------------------------------------------
def test_planted_encoder_and_model_paths_are_refused(tmp_path):
    store = ProjectStore(tmp_path / "p")
    elsewhere = tmp_path / "evil.onnx"
    elsewhere.write_bytes(b"x")
    (store.folder / "models").mkdir()
    (store.folder / "models" / "link.onnx").symlink_to(elsewhere)
    (store.folder / "models" / "ok.onnx").write_bytes(b"x")
    for name in (str(elsewhere), "../evil.onnx", "link.onnx", None, 3):
        assert store.model_path(name) is None
    assert store.model_path("ok.onnx") == store.folder.resolve() / "models" / "ok.onnx"
    with pytest.raises(ValueError, match="not a model name"):
        model_file("../../tmp/evil")
    store.close()


def test_unverifiable_cache_rows_from_an_older_version_are_not_trusted(tmp_path):
    paths = _galaxies(tmp_path / "imgs", 2)
    folder = tmp_path / "cache"
    folder.mkdir()
    db = sqlite3.connect(folder / "features.sqlite")
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                     "INSERT INTO meta VALUES ('schema_version', '1');"
                     "CREATE TABLE rows (key TEXT, path TEXT, size INTEGER, mtime_ns INTEGER, row INTEGER,"
                     " PRIMARY KEY (key, path));"
                     "CREATE TABLE dims (key TEXT PRIMARY KEY, dim INTEGER);"
                     "INSERT INTO dims VALUES ('m', 2);")
    for i, p in enumerate(paths):
        st = p.stat()
        db.execute("INSERT INTO rows VALUES ('m', ?, ?, ?, ?)", (str(p), st.st_size, st.st_mtime_ns, i))
    db.commit()
    db.close()
    np.full((2, 2), 7, np.float32).tofile(folder / "m.f32")  # planted features
    cache = FeatureCache(folder)
    assert cache.lookup("m", paths) == {}
    assert any("cannot be verified" in m for m in cache.take_problems())


# 9. number of clusters ----------------------------------------------------------------------------
def test_clusters_zero_is_refused_up_front(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _galaxies(folder, 3)
    assert main(["cluster", str(folder), "--clusters", "0", "--out", str(tmp_path / "c.csv")]) == 2
    assert "--clusters must be at least 2" in capsys.readouterr().err
    assert not (folder / STORE_DIR).exists()


def test_k_above_the_images_is_cut_said_and_recorded(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _galaxies(folder, 3)
    out = tmp_path / "c.csv"
    assert main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "5",
                 "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "asked for 5 clusters but only 3 images could be read: clustered into 2" in text
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["n_clusters"] == 2 and side["n_clusters_requested"] == 5
    assert side["parameters"]["n_clusters"] == 2


def test_too_few_images_for_two_clusters_are_counted_in_words_before_any_work(tmp_path, capsys):
    """Exploratory QA: "1 image files cannot be split into 2 clusters"."""
    for n, words in ((1, "1 image file cannot"), (2, "2 image files cannot")):
        folder = tmp_path / f"imgs{n}"
        _galaxies(folder, n)
        assert main(["cluster", str(folder), "--clusters", "2", "--out", str(tmp_path / "c.csv")]) == 2
        assert f"{words} be split into 2 clusters; add images" in capsys.readouterr().err
        assert not (folder / STORE_DIR).exists()


# 10. paths in files meant to be shared ---------------------------------------------------------------
def test_relative_paths_for_shared_catalogues(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _galaxies(folder, 2)
    _galaxies(folder / "sub", 1)
    (folder / "bad.png").write_bytes(b"")
    out = tmp_path / "c.csv"
    assert main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--out", str(out),
                 "--quiet", "--relative-paths"]) == 0
    text = out.read_text()
    assert str(tmp_path) not in text
    assert sorted(line.split(",")[0] for line in text.splitlines()[1:]) == ["g00.png", "g01.png", "sub/g00.png"]
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["skipped"] == [{"path": "bad.png", "reason": "the file is empty"}]


# Must hold: a huge image costs one decode at a time ------------------------------------------------
def test_huge_images_are_decoded_one_at_a_time_and_shrunk(tmp_path, monkeypatch):
    import threading
    import time

    import core.images.io as images

    big = np.zeros((5000, 9000, 3), np.uint8)  # 45 megapixels
    big[1000:4000, 2000:7000] = (200, 120, 40)
    cv2.imwrite(str(tmp_path / "big.jpg"), big)
    assert images.raster_size(np.fromfile(tmp_path / "big.jpg", np.uint8)) == (9000, 5000)
    out = read_image(tmp_path / "big.jpg")
    assert max(out.shape[:2]) <= images.BIG_IMAGE_SIDE and out.shape[1] > out.shape[0]
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"b{i}.png"), big[::50, ::50])
    monkeypatch.setattr(images, "BIG_IMAGE_PIXELS", 100)  # every image counts as huge here
    active, peak = [0], [0]
    real = images._decode

    def counting(raw, reduce=1):
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        try:
            return real(raw, reduce)
        finally:
            active[0] -= 1

    monkeypatch.setattr(images, "_decode", counting)
    threads = [threading.Thread(target=read_image, args=(tmp_path / f"b{i}.png",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1
