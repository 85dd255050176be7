"""Issue 19, items 12, 14 and 15: one-line CLI errors that are clear, early and blame the right thing; ``--wait``.

Each fails on the code before issue 19: ``--batch-size 0`` divided by zero,
DBSCAN on 3 images and suggest-k on 0-1 images raised scikit-learn's errors,
``--out x.csv`` beside a folder ``x.json`` failed after the whole run, an
unreadable folder and a closed pipe were blamed on the project store, the two
benchmarks failed on unmatched or non-JPEG data, a second run on an open
project could not wait, and file names reached the terminal raw.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from relhelp import RUN, start_worker

from core.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _one_line(err: str) -> str:
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("size", ["0", "-3"])
def test_batch_size_below_one_is_refused_by_the_parser(folder, tmp_path, size, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["cluster", str(folder), "--out", str(tmp_path / "c.csv"), "--batch-size", size, *RUN])
    assert stop.value.code == 2
    assert "argument --batch-size: must be at least 1" in capsys.readouterr().err
    assert not (folder / ".galaxy-sorter").exists()


def test_dbscan_on_three_images_says_why_before_any_work(folder, tmp_path, capsys):
    for extra in sorted(folder.glob("*.png"))[3:]:
        extra.unlink()
    code = main(["cluster", str(folder), "--out", str(tmp_path / "c.csv"), "--model", "efficientnet_lite0",
                 "--method", "dbscan", "--quiet", "--cpu"])
    assert code == 2
    err = _one_line(capsys.readouterr().err)
    assert "DBSCAN needs at least 5 image files (found 3)" in err and "kmeans" in err
    assert not (folder / ".galaxy-sorter").exists()


@pytest.mark.parametrize("keep", [0, 1])
def test_suggest_k_on_too_few_images_says_so(folder, keep, capsys):
    for extra in sorted(folder.glob("*.png"))[keep:]:
        extra.unlink()
    assert main(["suggest-k", str(folder), "--model", "efficientnet_lite0", "--cpu"]) == 2
    assert f"suggest-k needs at least 3 images and {folder} has {keep}" in _one_line(capsys.readouterr().err)


def test_out_beside_a_folder_named_like_its_sidecar_is_refused_at_once(folder, tmp_path, capsys):
    (tmp_path / "x.csv.json").mkdir()
    assert main(["cluster", str(folder), "--out", str(tmp_path / "x.csv"), *RUN]) == 2
    assert "sidecar" in _one_line(capsys.readouterr().err)
    assert not (folder / ".galaxy-sorter").exists()  # refused before the run, not after it


def test_an_unreadable_folder_is_blamed_on_itself(folder, tmp_path, monkeypatch, capsys):
    real = os.scandir

    def scandir(path="."):  # the tests run as root, who reads a chmod 000 folder: refuse it as for a user
        if Path(os.fsdecode(path)) == folder:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["cluster", str(folder), "--out", str(tmp_path / "c.csv"), *RUN]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"the image folder {folder} cannot be read" in err and ".galaxy-sorter" not in err


def test_a_closed_pipe_is_not_blamed_on_the_store(tmp_path):
    read, write = os.pipe()
    os.close(read)  # the reader (``| head``) has gone
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "sample", str(tmp_path / "s"), "--per-class", "1"],
                            cwd=ROOT, env=ENV, stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 2, err
    assert "the output was closed" in _one_line(err) and "store" not in err and "Traceback" not in err


def test_file_names_with_terminal_escapes_are_printed_escaped(folder, tmp_path, capsys):
    out = tmp_path / "c.csv"
    (folder / "\x1b]0;owned\x07\x1b[2Jevil.png").write_bytes(b"")
    cv2.imwrite(str(folder / "g\u202egnp.png"), np.full((64, 64, 3), 128, np.uint8))
    assert main(["cluster", str(folder), "--clusters", "3", "--out", str(out), *RUN]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "\\x1b]0;owned\\x07\\x1b[2Jevil.png: the file is empty" in printed
    assert "g\\u202egnp.png" in printed


# --- the benchmarks ----------------------------------------------------------------------------------------------


def test_evaluate_says_when_no_truth_id_matches(folder, tmp_path, capsys):
    from benchmarks.evaluate import main as evaluate

    truth = tmp_path / "labels.csv"
    truth.write_text("id,label\nnot_here,spiral\nnor_this,elliptical\n")
    assert evaluate(["--data", str(folder), "--truth", str(truth), "--models", "galaxy_cnn", "--methods", "kmeans",
                     "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert "no image of" in err and "has an id in" in err and "'not_here'" in err


def test_label_efficiency_data_reads_every_image_format(folder, tmp_path):
    from benchmarks.label_efficiency import load_features

    truth = {p.stem: p.stem.rsplit("_", 1)[0] for p in folder.glob("*.png")}  # spiral, elliptical, edge_on
    args = argparse.Namespace(features=None, heldout=False, tune=0, save_features=None, model="galaxy_cnn",
                              set="gc1-hsc")
    X, y, ids, _ = load_features(args, folder, truth, ("elliptical", "spiral"))
    assert len(X) == len(y) == len(ids) == 6  # the PNGs of the two classes (before: *.jpg only, none)


# --- item 15: --wait --------------------------------------------------------------------------------------------


def _cli(folder: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "core.cli", "cluster", str(folder), "--clusters", "3",
                             "--out", str(out), *RUN, *extra], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_wait_waits_for_the_project_and_then_runs(folder, tmp_path):
    holder = start_worker("hold", folder)
    assert holder.stdout.readline().strip() == "open"
    try:
        refused = _cli(folder, tmp_path / "a.csv")
        out, err = refused.communicate(timeout=300)
        assert refused.returncode == 2 and "pass --wait [SECONDS]" in _one_line(err)
        brief = _cli(folder, tmp_path / "b.csv", "--wait", "0.5")
        out, err = brief.communicate(timeout=300)
        assert brief.returncode == 2
        assert "waiting up to 0.5 s" in err and "after waiting 0.5 s" in err
        waiting = _cli(folder, tmp_path / "c.csv", "--wait")
        line = waiting.stderr.readline()
        assert "is open in another Galaxy Sorter" in line and "waiting until it is closed" in line
    finally:
        holder.communicate("\n", timeout=60)
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "9 images clustered" in out and (tmp_path / "c.csv").is_file()


def test_wait_refuses_a_negative_time(folder, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["cluster", str(folder), "--out", str(tmp_path / "c.csv"), "--wait", "-1", *RUN])
    assert "argument --wait: must be 0 or more seconds" in capsys.readouterr().err
