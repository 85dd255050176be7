"""The reliability tests' shared project: 18 synthetic galaxies with a finished DEC run, made once."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from relhelp import _key, start_worker


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder of 18 synthetic galaxies with a finished DEC run, and its reference features by file name."""
    from core.images.sample import make_sample
    from core.store.database import ProjectStore
    from core.store.layout import default_store_dir

    folder = make_sample(tmp_path_factory.mktemp("rel") / "imgs", per_class=6, size=64, seed=3)
    proc = start_worker("dec", folder)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    store = ProjectStore(default_store_dir(folder), root=folder)
    key = _key()
    paths = sorted(folder.glob("*.png"))
    rows = store.features.lookup(key, paths)
    store.close()
    assert len(rows) == len(paths)
    return folder, {p.name: r for p, r in rows.items()}




@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Nine synthetic galaxies (no store), made once per module; tests take a copy (``folder``)."""
    from core.images.sample import make_sample

    return make_sample(tmp_path_factory.mktemp("imgs") / "imgs", per_class=3, size=64, seed=11)


@pytest.fixture
def folder(base, tmp_path) -> Path:
    """A private copy of ``base``: each test gets its own project store."""
    return Path(shutil.copytree(base, tmp_path / "imgs"))
