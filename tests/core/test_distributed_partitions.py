"""How a Dask run cuts its work and places its workers (issue 22).

Full partitions, then smaller ones so the workers end together
(:func:`core.features.distributed.partitions`), and each local worker's share of
the cores (:func:`core.features.distributed.core_shares`).  The rows this leads
to are compared with the single process in ``tests/core/test_distributed.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'galaxy-sorter[survey]')")

from core.features.distributed import core_shares, partitions  # noqa: E402


def _paths(n: int) -> list[Path]:
    return [Path(f"/survey/g{i:05d}.jpg") for i in range(n)]


def test_every_image_once_in_order_large_tasks_first_then_shrinking_whole_batches():
    todo = _paths(6000)
    parts = partitions(todo, 256, workers=2, batch_size=32)
    assert [p for part in parts for p in part] == todo
    sizes = [len(p) for p in parts]
    assert sizes == sorted(sizes, reverse=True)  # never a larger task after a smaller one
    assert sizes[0] == 256 and sizes.count(256) >= 6000 // 256 - 4  # most of the work in full partitions
    assert all(s % 32 == 0 for s in sizes[:-1]) and 0 < sizes[-1] <= 32  # whole batches: the single process's
    tail = sum(s for s in sizes if s < 256)
    assert tail <= 2 * 2 * 256  # the shrinking starts when 2 x workers x size remain
    assert sizes[-2] == 32  # the last tasks are a batch each: the workers end within one batch


def test_more_workers_shrink_later_and_the_cut_depends_only_on_its_arguments():
    todo = _paths(5000)
    two, eight = partitions(todo, 512, 2, 16), partitions(todo, 512, 8, 16)
    assert two == partitions(list(todo), 512, 2, 16)  # same work, same tasks, same task names
    assert [len(p) for p in two][:4] == [512] * 4
    assert sum(len(p) for p in eight if len(p) < 512) <= 2 * 8 * 512
    assert all(len(p) <= 512 for p in eight)


def test_small_and_odd_inputs():
    assert partitions([], 512, 2, 32) == []
    assert partitions(_paths(7), 512, 4, 32) == [_paths(7)]  # fewer than a batch: one task
    assert [len(p) for p in partitions(_paths(10), 3, 0, 1)] == [3, 3, 2, 1, 1]  # no workers known yet: as for one


def test_each_worker_gets_cores_of_its_own_and_no_core_is_left_out():
    assert core_shares([0, 1], 2) == [[0], [1]]
    assert core_shares([0, 1, 2], 2) == [[0], [1, 2]]
    assert core_shares(list(range(16)), 2) == [list(range(8)), list(range(8, 16))]
    assert core_shares([4, 5], 3) == [[4], [5], [4]]  # more workers than cores: a core each, in turn
    assert core_shares([0, 1, 2, 3], 1) == [[0, 1, 2, 3]]
