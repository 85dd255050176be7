"""Issue 19, files that stay whole and honest: bounded reads, the catalogue pair, the sidecar, spreadsheet-safe cells.

Each test fails on the code before issue 19: a ``.fits.gz`` declaring 100 M
pixels was read whole, ``--truth /dev/zero`` read without end, an export killed
between its two files left a new CSV beside the old sidecar, the sidecar listed
every run's skipped files and an absolute folder under ``--relative-paths``,
and a ``;`` cell was written bare.
"""

from __future__ import annotations

import csv
import errno
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from relhelp import RUN

import core.catalog.pair
from core.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _cluster(folder: Path, out: Path, k: int = 3, *extra: str) -> int:
    return main(["cluster", str(folder), "--clusters", str(k), "--out", str(out), *RUN, *extra])


def _limited(code: str, seconds: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child limited to 1 GiB of memory: today's bug must not take the machine down."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True, capture_output=True,
                          timeout=seconds, preexec_fn=limit)


# --- item 9: reads with a bound ------------------------------------------------------------------------------


def test_a_small_fits_gz_declaring_100m_pixels_is_refused_from_its_header(tmp_path):
    from core.images.io import FITS_MAX_PIXELS, ImageReadError, read_image

    side = 10_000  # 100 M one-byte pixels: 100 MB that gzip packs into about 100 KB
    assert side * side > FITS_MAX_PIXELS
    header = "".join(f"{card:<80}" for card in (
        "SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
        f"NAXIS1  = {side:>20}", f"NAXIS2  = {side:>20}", "END"))
    header += " " * (-len(header) % 2880)
    path = tmp_path / "bomb.fits.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(header.encode("ascii"))
        zeros = bytes(1 << 20)
        for _ in range(side * side // len(zeros)):
            fh.write(zeros)
        fh.write(bytes(side * side % len(zeros) + (-side * side % 2880)))
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError, match="too large"):
            read_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB allocated to refuse it"


@pytest.mark.parametrize("reader", ["core.catalog.truth:load_truth", "core.catalog.join:load_catalog"])
def test_a_device_as_a_table_is_refused_quickly(reader):
    module, name = reader.split(":")
    done = _limited(f"from {module} import {name}\n"
                    f"try:\n    {name}('/dev/zero')\nexcept ValueError as e:\n    print('refused:', e)")
    assert done.returncode == 0, done.stderr[-500:]
    assert "refused: /dev/zero" in done.stdout and "longer than" in done.stdout


def test_cli_truth_dev_zero_is_one_line_before_any_work(folder, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "core.cli", "cluster", str(folder), "--truth", "/dev/zero",
                           "--out", str(tmp_path / "c.csv"), *RUN], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)))
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.startswith("error: /dev/zero") and len(done.stderr.strip().splitlines()) == 1
    assert not (folder / ".galaxy-sorter").exists()  # refused before the store was made


def test_a_table_past_the_row_cap_is_refused_with_the_cap(tmp_path, monkeypatch):
    import core.catalog.bounded
    from core.catalog.truth import TruthFileError, load_truth

    path = tmp_path / "labels.csv"
    path.write_text("id,label\n" + "".join(f"g{i},spiral\n" for i in range(1000)))
    assert len(load_truth(path)) == 1000
    monkeypatch.setattr(core.catalog.bounded, "MAX_TABLE_LINES", 100)
    with pytest.raises(TruthFileError, match="100 lines"):
        load_truth(path)


# --- item 10: the catalogue and its sidecar change together ----------------------------------------------------


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_kill_between_the_two_renames_is_finished_by_the_next_export(folder, tmp_path, monkeypatch):
    from core.catalog.pair import recover_export, sidecar_matches

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "c.csv"
    assert _cluster(folder, out, 3) == 0 and sidecar_matches(out)
    real_replace = os.replace
    calls = []

    def replace_then_die(src, dst):
        calls.append(dst)
        if str(dst).endswith(".csv") and Path(src).name.startswith(".c.csv.export-"):  # the second rename
            raise SystemExit("killed")  # what a kill -9 leaves: the sidecar renamed, the CSV not
        return real_replace(src, dst)

    monkeypatch.setattr(core.catalog.pair.os, "replace", replace_then_die)
    with pytest.raises(SystemExit):
        _cluster(folder, out, 4)
    monkeypatch.undo()
    assert not sidecar_matches(out)  # the moment the issue saw: a k=3 CSV beside a k=4 sidecar ...
    assert ".c.csv.export-journal" in _temps(out_dir)  # ... but the journal says how to finish
    assert recover_export(out)
    assert sidecar_matches(out) and _temps(out_dir) == []
    assert json.loads(out.with_name(out.name + ".json").read_text())["n_clusters"] == 4
    with open(out, newline="") as fh:
        assert {r["cluster"] for r in csv.DictReader(fh)} == {"0", "1", "2", "3"}


def test_a_disk_with_room_for_the_csv_only_changes_neither_and_blames_the_disk(folder, tmp_path, monkeypatch,
                                                                              capsys):
    from core.catalog.pair import sidecar_matches

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "c.csv"
    assert _cluster(folder, out, 3) == 0
    before = (out.read_bytes(), out.with_name(out.name + ".json").read_bytes())
    capsys.readouterr()

    def full(path, text):  # the CSV's temporary file was written; the sidecar's finds the disk full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(core.catalog.pair, "_write_synced", full)
    assert _cluster(folder, out, 4) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the disk is full" in err and str(out) in err
    assert ".galaxy-sorter" not in err
    assert (out.read_bytes(), out.with_name(out.name + ".json").read_bytes()) == before and sidecar_matches(out)
    assert _temps(out_dir) == []


def test_a_killed_export_leaves_temporary_files_that_the_next_one_removes(folder, tmp_path):
    from core.catalog.pair import sidecar_matches

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "c.csv"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that is no longer running
    for name in (f".c.csv.export-{dead.pid}-0a0b0c0d", f".c.csv.json.export-{dead.pid}-0a0b0c0d",
                 f".c.json.export-{dead.pid}-0a0b0c0d",  # the sidecar's, named <stem>.json before
                 f"..c.csv.export-{dead.pid}-0a0b0c0d.tmp-{dead.pid}",
                 f".c.csv.export-journal.{dead.pid}"):  # a journal staged, killed before its rename
        (out_dir / name).write_text("half")
    assert _cluster(folder, out, 3) == 0
    assert _temps(out_dir) == [] and sidecar_matches(out)


# --- item 11: the sidecar tells this run ----------------------------------------------------------------------


def test_the_sidecar_lists_this_runs_skipped_files_and_a_relative_folder(folder, tmp_path):
    out = tmp_path / "c.csv"
    (folder / "broken.png").write_bytes(b"not a png")
    assert _cluster(folder, out) == 0
    assert [Path(s["path"]).name for s in json.loads(out.with_name(out.name + ".json").read_text())["skipped"]] == \
        ["broken.png"]
    (folder / "broken.png").unlink()
    assert _cluster(folder, out, 3, "--relative-paths") == 0
    text = out.with_name(out.name + ".json").read_text()
    record = json.loads(text)
    assert record["skipped"] == []  # the file is gone: this run skipped nothing
    assert record["folder"] == "." and record["parameters"]["folder"] == "."
    assert str(folder.resolve()) not in text


# --- item 12: spreadsheet-safe cells (terminal-safe names: test_cli_errors.py) ------------------------------------


def _formula(piece: str) -> bool:
    """Whether a spreadsheet would run ``piece`` as a formula (a number such as -13.4 is a number)."""
    text = piece.lstrip('"')
    try:
        float(text)
        return False
    except ValueError:
        return text.startswith(("=", "+", "-", "@"))


def test_semicolon_cells_are_quoted_so_no_locale_splits_out_a_formula(folder, tmp_path):
    out = tmp_path / "c.csv"
    shutil.move(folder / "spiral_000.png", folder / "a;=1+1;.png")
    shutil.move(folder / "spiral_001.png", folder / "b;@SUM(A1);x\t-2.png")
    assert _cluster(folder, out) == 0
    text = out.read_text(encoding="utf-8")
    with open(out, newline="", encoding="utf-8") as fh:  # a comma reader gets every cell whole ...
        names = {Path(r["path"]).name for r in csv.DictReader(fh)}
    assert {"a;'=1+1;.png", "b;'@SUM(A1);x\t'-2.png"} <= names
    # ... and the documented rule gives the names back: drop a ' after a ; or a tab before a formula character.
    restored = {re.sub(r"(?:^|(?<=[;\t]))'(?=\"*[=+\-@\t\r])", "", n) for n in names}
    assert {"a;=1+1;.png", "b;@SUM(A1);x\t-2.png"} <= restored
    for delimiter in (";", "\t", ","):  # however a spreadsheet splits the line, no piece starts a formula
        for row in csv.reader(text.splitlines(), delimiter=delimiter):
            for cell in row:
                assert not any(_formula(p) for p in [cell, *re.split("[;\t]", cell)]), (delimiter, cell)
