"""Feature extraction on a Dask local cluster of two processes (issue 22).

The rows must be those of the single-process extractor, land in the project
store once each, survive a worker killed mid-run (its partition is redone, not
duplicated), and a rerun must compute nothing.  Dask is never imported by the
plain CLI path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'galaxy-sorter[survey]')")

from core.cli import main  # noqa: E402
from core.features.distributed import (  # noqa: E402
    LOCAL_CLUSTER_CONFIG,
    connect,
    core_shares,
    extract_distributed,
    partitions,
    worker_stats,
)
from core.features.distributed_spec import DaskSpec  # noqa: E402
from core.features.extract import FeatureModel, extract_features  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.images.sample import make_sample  # noqa: E402
from core.store.database import ProjectStore  # noqa: E402


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    """About 200 synthetic galaxies (the sample renderer, 67 per class, 64 px)."""
    return make_sample(tmp_path_factory.mktemp("survey") / "imgs", per_class=67, size=64, seed=5)


@pytest.fixture(scope="module")
def client():
    c, close = connect(DaskSpec(workers=2))
    yield c
    close()


def _paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


@pytest.mark.slow
def test_two_workers_give_the_single_process_rows_and_store_each_once(survey, client, tmp_path):
    paths = _paths(survey)
    assert len(paths) >= 200
    model = FeatureModel("galaxy_cnn", use_gpu=False)
    prep = Preprocessing()
    single = extract_features(paths, model, prep, batch_size=16)
    store = ProjectStore(tmp_path / "store", root=survey)
    try:
        # Partitions of 48 (a multiple of the batch of 16): each worker batches as the single process does.
        res = extract_distributed(paths, model, prep, store.features, client=client, partition_size=48, batch_size=16)
        assert [str(p) for p in res.paths] == [str(p) for p in single.paths]
        np.testing.assert_allclose(res.features, single.features, rtol=0, atol=1e-5)
        assert (res.features == single.features).mean() > 0.99  # bit-identical but for the odd float rounding
        assert res.computed == len(paths) and res.cached == 0
        key = model.cache_key(prep)
        assert store.features.count(key) == len(paths)
        row_file = store.folder / "features" / f"{key}.f32"
        assert row_file.stat().st_size == len(paths) * model.feature_dim * 4  # every row written once
        again = extract_distributed(paths, model, prep, store.features, client=client, partition_size=48, batch_size=16)
        assert again.computed == 0 and again.cached == len(paths)
        np.testing.assert_array_equal(again.features, res.features)
    finally:
        store.close()


@pytest.mark.slow
def test_each_worker_accounts_for_its_tasks_and_runs_without_the_profiler(survey, client):
    """What ``benchmarks/survey_scale.py`` reads from the workers, and the quieter settings of the local cluster."""

    def settings() -> tuple[object, ...]:
        import dask

        return tuple(dask.config.get(k) for k in LOCAL_CLUSTER_CONFIG)

    assert set(client.run(settings).values()) == {tuple(LOCAL_CLUSTER_CONFIG.values())}
    paths = _paths(survey)[:100]
    client.run(worker_stats, True)
    extract_distributed(paths, FeatureModel("galaxy_cnn", use_gpu=False), Preprocessing(), None, client=client,
                        partition_size=32, batch_size=16)
    stats = list(client.run(worker_stats).values())
    assert sum(s["images"] for s in stats) == len(paths)
    assert sum(s["tasks"] for s in stats) == len(partitions(paths, 32, 2, 16))
    for s in stats:
        assert s["tasks"] == 0 or 0 < s["busy_cpu_s"] <= s["process_cpu_s"] and s["busy_s"] > 0


def _thread_cores() -> list[list[int]]:
    """The cores each thread of this process may run on."""
    return [sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs at least two cores this process may use (Linux)")
def test_each_local_worker_runs_on_cores_of_its_own_all_its_threads(client):
    shares = core_shares(sorted(os.sched_getaffinity(0)), 2)
    by_worker = client.run(_thread_cores)
    held = [threads[0] for threads in by_worker.values()]
    assert sorted(held) == sorted(shares)  # one share each, none shared
    for threads in by_worker.values():
        assert all(t == threads[0] for t in threads)  # the event loop, the task thread, every other thread


@pytest.mark.slow
def test_a_worker_killed_mid_run_has_its_partition_redone_not_duplicated(survey, tmp_path):
    paths = _paths(survey)
    model = FeatureModel("galaxy_cnn", use_gpu=False)
    client, close = connect(DaskSpec(workers=2))
    store = ProjectStore(tmp_path / "store", root=survey)
    killed: list[int] = []

    def kill_one_worker(fraction: float, message: str) -> None:
        # After the first partition arrives, SIGKILL one worker process: its running task is lost
        # and the scheduler runs it again on a live (or restarted) worker.
        if not killed and message.startswith("features "):
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        res = extract_distributed(paths, model, Preprocessing(), store.features, client=client, partition_size=16,
                                  batch_size=16, progress=kill_one_worker)
        assert killed, "no worker was killed: the test did not test anything"
        assert len(res.paths) == len(paths)
        key = model.cache_key(Preprocessing())
        assert store.features.count(key) == len(paths)
        row_file = store.folder / "features" / f"{key}.f32"
        assert row_file.stat().st_size == len(paths) * model.feature_dim * 4
        single = extract_features(paths, model, Preprocessing(), batch_size=16)
        np.testing.assert_allclose(res.features, single.features, rtol=0, atol=1e-5)
    finally:
        store.close()
        close()


@pytest.mark.slow
def test_cli_workers_flag_clusters_like_the_plain_run(survey, tmp_path, capsys):
    plain = tmp_path / "plain.csv"
    assert main(["cluster", str(survey), "--clusters", "3", "--method", "kmeans", "--quiet",
                 "--project-dir", str(tmp_path / "p1"), "--out", str(plain)]) == 0
    dask_csv = tmp_path / "dask.csv"
    assert main(["cluster", str(survey), "--clusters", "3", "--method", "kmeans", "--quiet", "--workers", "2",
                 "--partition-size", "64", "--project-dir", str(tmp_path / "p2"), "--out", str(dask_csv)]) == 0
    out = capsys.readouterr().out
    assert "Dask local cluster of 2 worker process(es)" in out
    assert dask_csv.read_text() == plain.read_text()  # the same catalogue, byte for byte
    store = ProjectStore(tmp_path / "p2", root=survey)  # the app opens the result like any other project
    try:
        assert store.latest_run() is not None
    finally:
        store.close()


@pytest.mark.slow
def test_bad_dask_arguments_are_refused_before_any_work(survey, tmp_path, capsys):
    assert main(["cluster", str(survey), "--workers", "0", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--workers N (N >= 1)" in capsys.readouterr().err
    assert not (survey / ".galaxy-sorter").exists()  # refused before the store was opened


@pytest.mark.slow
def test_the_plain_cli_never_imports_dask(survey, tmp_path):
    code = ("import sys\n"
            "from core.cli import main\n"
            f"main(['cluster', {str(survey)!r}, '--clusters', '2', '--method', 'kmeans', '--quiet',"
            f" '--project-dir', {str(tmp_path / 'p')!r}, '--out', {str(tmp_path / 'o.csv')!r}])\n"
            "print('dask' in sys.modules, 'distributed' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"
