"""Helpers of the reliability tests: a worker process to kill, copies of the template project, consistency checks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")
#: The CLI options of a quick run: Lite0 features on the CPU, k-means, no progress bar.
RUN = ["--model", "efficientnet_lite0", "--method", "kmeans", "--quiet", "--cpu"]


def start_worker(*args: str | os.PathLike[str]) -> subprocess.Popen[str]:
    """Start ``worker.py`` with the repository on the path."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen[str], marker: str, count: int, delay: float, timeout: float = 120) -> list[str]:
    """Read the worker's lines; SIGKILL it ``delay`` seconds after the ``count``-th line starting with ``marker``.

    Returns the lines read (those are the steps the worker acknowledged).
    If the worker ends first, its lines are returned all the same.
    """
    lines: list[str] = []
    seen = 0
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())
        if line.startswith(marker):
            seen += 1
            if seen >= count:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"worker too slow; lines so far: {lines[-5:]}")
    # Lines already written before the kill were acknowledged too.
    rest, err = proc.communicate(timeout=60)
    lines.extend(x.strip() for x in rest.splitlines())
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"worker failed ({proc.returncode}): {err[-2000:]}")
    return lines


def _key() -> str:
    from core.features.extract import FeatureModel
    from core.images.preprocess import Preprocessing

    return FeatureModel("efficientnet_lite0", use_gpu=False).cache_key(Preprocessing())


def copy_project(template: Path, dest: Path, with_store: bool = True) -> Path:
    """A copy of the template folder (with or without its project store)."""
    ignore = None if with_store else shutil.ignore_patterns(".galaxy-sorter")
    shutil.copytree(template, dest, ignore=ignore)
    return dest


def check_consistent(folder: Path, reference: dict[str, np.ndarray]) -> dict[int, tuple[str, str]]:
    """Store and cache after a crash: SQLite intact, lock free, every cached row the right one; returns the labels."""
    import sqlite3

    from core.store.database import ProjectStore
    from core.store.layout import default_store_dir

    store_dir = folder / ".galaxy-sorter"
    for db_path in (store_dir / "project.sqlite", store_dir / "features" / "features.sqlite"):
        if db_path.exists():
            db = sqlite3.connect(db_path)
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
    store = ProjectStore(default_store_dir(folder), root=folder)  # the dead process's lock is gone
    try:
        paths = sorted(folder.glob("*.png"))
        rows = store.features.lookup(_key(), paths)
        for p, r in rows.items():
            np.testing.assert_allclose(r, reference[p.name], rtol=1e-3, atol=1e-4)
        problems = store.features.take_problems()
        assert not [m for m in problems if "damaged" in m], problems
        return {i: v for i, v in store.labels().items()}
    finally:
        store.close()
