"""Two real processes on one project: one writer, and a clear message to the other.

The concurrency model (see core/store/database.py): a writable project store holds an
exclusive ``flock`` on ``.galaxy-sorter/lock`` while it is open; a second
process gets :class:`core.store.database.ProjectLocked` naming the other's pid, before
it has touched anything.  SQLite's ``BEGIN IMMEDIATE`` and a busy timeout
cover the connections inside one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from relhelp import ROOT, copy_project

OPENER = textwrap.dedent("""
    import os, sys, time
    from core.store.layout import ProjectLocked
    from core.store.database import ProjectStore
    folder, go = sys.argv[1], sys.argv[2]
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        store = ProjectStore(os.path.join(folder, ".galaxy-sorter"), root=folder)
        store.add_images([])
        print("open", flush=True)
        sys.stdin.readline()
        store.close()
    except ProjectLocked as exc:
        print("locked", exc, flush=True)
    """)


@pytest.mark.slow
def test_opening_a_new_project_at_the_same_moment(tmp_path):
    outcomes = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for attempt in range(12):
        folder = tmp_path / f"p{attempt}"
        folder.mkdir()
        go = tmp_path / f"go{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(folder), str(go)], cwd=ROOT, env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        time.sleep(0.3)  # both are waiting for the same moment
        go.touch()
        first = [p.stdout.readline().strip() for p in procs]
        results = []
        for p in procs:
            out, err = p.communicate("\n", timeout=60)
            assert p.returncode == 0, err[-2000:]  # no "table images already exists", no "database is locked"
            results.append(out)
        kinds = sorted(line.split()[0] for line in first)
        assert kinds == ["locked", "open"], first
        assert "open in another Galaxy Sorter (pid" in next(x for x in first if x.startswith("locked"))
        outcomes.append(kinds)
    assert len(outcomes) == 12


@pytest.mark.slow
def test_two_cli_runs_at_once(template, tmp_path):
    folder = copy_project(template[0], tmp_path / "imgs", with_store=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "core.cli", "cluster", str(folder), "--model", "efficientnet_lite0",
                               "--method", "kmeans", "--clusters", "3", "--cpu", "--quiet",
                               "--out", str(tmp_path / f"c{i}.csv")], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes in ([0, 0], [0, 2]), results  # never a crash such as "UNIQUE constraint failed: dims.key"
    for out, err, code in results:
        if code == 2:
            assert err.strip().startswith("error: the project") and "open in another Galaxy Sorter" in err
            assert len(err.strip().splitlines()) == 1
        else:
            assert "18 images clustered" in out
    assert codes == [0, 2], "the two runs did not overlap; the lock was not exercised"


SLOW_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(0.3)  # the moment between taking the lock and writing who holds it
    os.pwrite(fd, f"pid {os.getpid()} on here".encode(), 0)
    sys.stdin.readline()
    """)


def test_the_second_process_names_the_holder_even_in_the_instant_before_it_writes_its_pid(tmp_path):
    """The CI failure of an earlier version: the lock file was still empty, and the message said 'another process'."""
    from core.store.database import ProjectStore
    from core.store.layout import ProjectLocked

    store_dir = tmp_path / ".galaxy-sorter"
    store_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", SLOW_HOLDER, str(store_dir / "lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        try:
            ProjectStore(store_dir, root=tmp_path)
        except ProjectLocked as exc:
            message = str(exc)
        else:
            raise AssertionError("a second writer was let in")
        assert f"pid {holder.pid} on here" in message
    finally:
        holder.communicate("\n", timeout=30)
