"""How ``benchmarks/survey_scale.py`` tells its own CPU from other processes' (issue 22, round 3).

A Dask run on every core of a shared machine gives up to other jobs what the
one-core yardstick, with a core left free, never does; the benchmark measures
that share (``_machine`` / ``_others``) and prints it beside the goal's figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'galaxy-sorter[survey]')")
psutil = pytest.importorskip("psutil")

from benchmarks.survey_scale import _machine, _others  # noqa: E402


def test_others_is_the_cores_busy_time_less_ours_and_names_the_largest_others() -> None:
    before = (100.0, 50.0, {1: (10.0, "ours"), 2: (5.0, "pytest"), 3: (1.0, "kworker")})
    after = (110.0, 50.5, {1: (17.0, "ours"), 2: (7.5, "pytest"), 3: (1.25, "kworker"), 4: (0.5, "pip")})
    others, idle, names = _others(before, after, {1})
    assert others == pytest.approx(3.0)  # 10 busy core-seconds, 7 of them ours
    assert idle == pytest.approx(0.5)
    assert names == "pytest 2.50, pip 0.50, kworker 0.25"  # a process started meanwhile counts whole


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_a_busy_process_of_someone_else_is_counted_as_others_and_ours_is_not() -> None:
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
    before = _machine()
    child = subprocess.Popen([sys.executable, "-c", spin])
    t = time.process_time()
    while time.process_time() - t < 0.4:  # our own busy time, to be left out
        pass
    child.wait()
    after = _machine()
    ours = after[2][os.getpid()][0] - before[2][os.getpid()][0]
    others, _idle, names = _others(before, after, {os.getpid()})
    assert ours >= 0.35
    assert others >= 0.3  # the child's 0.4 s (it ended before the second reading: counted all the same)
    assert others <= (after[0] - before[0]) - 0.35  # ours is not in it
    assert isinstance(names, str)
