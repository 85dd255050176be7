"""Catalogue > Export montages per cluster names each file after its cluster's name (a class's)."""

from __future__ import annotations

import numpy as np
import pytest

from core.catalog.montage import cluster_montages


@pytest.mark.parametrize("name", ["x" * 300, "é" * 130], ids=["300 ascii", "130 accented (260 bytes)"])
def test_a_cluster_named_after_a_long_class_gets_its_montage(tmp_path, sample_folder, name):
    """A class name may be 300 characters (New… takes it, the app cuts it in the middle on screen).  The montage
    of a cluster named so was written to montage_<c>_<the whole name>.png: more than the 255 bytes a file name may
    have, so the job failed with 'File name too long' and no montage of any later cluster was written."""
    paths = sorted(str(p) for p in sample_folder.rglob("*.png"))[:6]
    clusters = np.array([0, 0, 1, 1, 1, 0])
    files = cluster_montages(paths, clusters, np.linspace(0.5, 1.0, 6), {0: name}, tmp_path / "m",
                             tile=32, per_cluster=2)
    assert len(files) == 2 and all(f.is_file() for f in files)
    assert all(len(f.name.encode()) <= 255 for f in files)
