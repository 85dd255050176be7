"""Cluster montages, copies of a cluster's files and the cluster x label table."""

from __future__ import annotations

import numpy as np

from core.catalog.montage import cluster_montages, copy_files, crosstab, montage
from core.images.preprocess import Preprocessing


def _paths(sample_folder):
    return sorted(str(p) for p in sample_folder.rglob("*.png"))


def test_montage_grid_size_and_tiles(sample_folder):
    paths = _paths(sample_folder)[:5]
    img = montage(paths, tile=40, gap=2, prep=Preprocessing("fixed", 0.5), captions=False)
    assert img.shape == (3 * 2 + 2 * 40, 4 * 2 + 3 * 40, 3)  # 5 tiles: 3 columns, 2 rows
    assert (img[2:42, 2:42] != 255).any() and (img[44:84, 84:124] == 255).all()  # 6th cell stays empty


def test_cluster_montages_and_copies(tmp_path, sample_folder):
    import cv2

    paths = _paths(sample_folder)[:6]
    clusters = np.array([0, 0, 1, 1, 1, 0])
    conf = np.linspace(0.5, 1.0, 6)
    files = cluster_montages(paths, clusters, conf, {1: "spiral arms"}, tmp_path / "m", tile=32, per_cluster=2)
    assert [f.name for f in files] == ["montage_0_cluster_0.png", "montage_1_spiral_arms.png"]
    assert cv2.imread(str(files[1])).shape[1] == 2 * 32 + 3 * 4
    made = copy_files([paths[i] for i in np.flatnonzero(clusters == 1)], tmp_path / "c1", link=True)
    assert len(made) == 3 and all(m.is_symlink() for m in made)
    copied = copy_files(paths[:2], tmp_path / "c0")
    assert [c.read_bytes() for c in copied] == [open(p, "rb").read() for p in paths[:2]]


def test_crosstab_counts_pairs_and_orders_numbers():
    rows, cols, table = crosstab([10, 2, 2, 10, 2], ["s", "e", "s", None, "s"])
    assert rows == [2, 10] and cols == ["e", "s"]
    np.testing.assert_array_equal(table, [[1, 2], [0, 1]])


def test_copying_a_clusters_files_says_its_progress_and_stops_between_two_files(tmp_path, sample_folder):
    """A survey's cluster is thousands of files: the copy is a job that shows how far it is and can be cancelled,
    leaving the files already made whole."""
    import pytest

    from core.progress import Cancelled

    paths = _paths(sample_folder)[:5]
    said: list[tuple[float, str]] = []
    copy_files(paths, tmp_path / "all", progress=lambda f, m: said.append((f, m)))
    assert said[-1] == (1.0, "Copying files 5/5") and len(said) == 5
    with pytest.raises(Cancelled):
        copy_files(paths, tmp_path / "some", should_stop=lambda: len(list((tmp_path / "some").iterdir())) >= 2)
    assert sorted(f.read_bytes() for f in (tmp_path / "some").iterdir()) == sorted(open(p, "rb").read() for p in paths[:2])
