"""benchmarks/label_efficiency.py: DEC starts as the app's run would on the folder (issue 21).

The app measures a folder's framing before DEC and gives galaxies small in
their frames the consensus start (:mod:`core.features.framing`); the loop then
fine-tunes that run's encoder.  The benchmark always fitted DEC's default start,
so on the JWST-like folders it measured a loop no user of such a folder gets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import label_efficiency as bench  # noqa: E402
from core.features.framing import SMALL_START  # noqa: E402
from tests.helpers import framed_folder  # noqa: E402


def ids_of(folder: Path) -> np.ndarray:
    return np.array(sorted(p.stem for p in folder.iterdir()))


def test_the_start_is_the_framing_rules_on_the_measured_images(tmp_path):
    small, large = framed_folder(tmp_path, 2.5, name="small"), framed_folder(tmp_path, 9.0, name="large")
    init, why = bench.dec_start("auto", small, ids_of(small))
    assert init == SMALL_START == "input-consensus" and "small in their frames" in why
    init, why = bench.dec_start("auto", large, ids_of(large))
    assert init == "input-mixture" and "fill their frames" in why
    init, why = bench.dec_start("auto", small, np.array(["not_here"]))  # a features file of other images
    assert init == "input-mixture" and "not measured" in why
    assert bench.dec_start("input-mixture", small, ids_of(small)) == ("input-mixture", "set by --start")


class Fitted(Exception):
    """Raised by the stand-in fit, so the command stops once DEC's start is known."""


def test_the_command_fits_dec_from_the_start_it_names(tmp_path, monkeypatch, capsys):
    small = framed_folder(tmp_path, 2.5, n=12, name="small")
    truth = tmp_path / "labels.csv"
    truth.write_text("id,label\n" + "".join(f"{i},{'spiral' if k % 2 else 'non-spiral'}\n"
                                             for k, i in enumerate(ids_of(small))))

    def fit(X, work, init="input-mixture"):
        raise Fitted(init)

    monkeypatch.setattr(bench, "fitted_dec", fit)
    with pytest.raises(Fitted) as fitted:
        bench.main(["--set", "gc1-hsc", "--data", str(small), "--truth", str(truth), "--model", "galaxy_cnn",
                    "--seeds", "1"])
    assert fitted.value.args == ("input-consensus",)
    assert "DEC start input-consensus (auto: The galaxies are small in their frames" in capsys.readouterr().out
    with pytest.raises(Fitted) as fitted:
        bench.main(["--set", "gc1-hsc", "--data", str(small), "--truth", str(truth), "--model", "galaxy_cnn",
                    "--seeds", "1", "--start", "input-mixture"])
    assert fitted.value.args == ("input-mixture",)


def test_the_command_rewrites_the_folder_under_a_robustness_condition_first(tmp_path, monkeypatch, capsys):
    """``--condition``: the loop on the very folder ``benchmarks/robustness.py`` writes, in one command.

    Full-size galaxies shrunk to a third of their size on their own sky are small in their frames, so the
    rewritten folder gets the consensus start where the original gets the plain one.
    """
    large = framed_folder(tmp_path, 9.0, n=12, name="large")
    truth = tmp_path / "labels.csv"
    truth.write_text("id,label\n" + "".join(f"{i},{'spiral' if k % 2 else 'non-spiral'}\n"
                                             for k, i in enumerate(ids_of(large))))

    def fit(X, work, init="input-mixture"):
        raise Fitted(init, len(X))

    monkeypatch.setattr(bench, "fitted_dec", fit)
    common = ["--set", "gc1-hsc", "--data", str(large), "--truth", str(truth), "--model", "galaxy_cnn", "--seeds", "1"]
    with pytest.raises(Fitted) as fitted:
        bench.main(common)
    assert fitted.value.args == ("input-mixture", 12)
    with pytest.raises(Fitted) as fitted:
        bench.main([*common, "--condition", "size 1/3"])
    assert fitted.value.args == ("input-consensus", 12)
    out = capsys.readouterr().out
    assert "under condition 'size 1/3'" in out and "DEC start input-consensus" in out
    with pytest.raises(SystemExit):
        bench.main([*common, "--condition", "size 1/5"])
    assert "unknown condition 'size 1/5'" in capsys.readouterr().err
