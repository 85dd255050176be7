"""What every feature extractor returns, and the start and end they share (the single-process
extractor of :mod:`core.features.extract` and the Dask one of :mod:`core.features.distributed`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.images.io import SkippedFile
from core.images.preprocess import Preprocessing
from core.store.cache import FeatureCache

if TYPE_CHECKING:
    from core.features.extract import FeatureModel


@dataclass
class ExtractionResult:
    """Features of the readable images, aligned with ``paths`` (each as the extractor was given it: see :func:`cached_rows`)."""

    paths: list[Path] | list[str]
    features: np.ndarray
    skipped: list[SkippedFile]
    provider: str
    computed: int
    cached: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        """Throughput of the images actually computed (cache hits excluded)."""
        return self.computed / self.seconds if self.seconds > 0 and self.computed else float("nan")


def cached_rows(paths: Sequence[str | os.PathLike[str]], model: FeatureModel, prep: Preprocessing,
                cache: FeatureCache | None) -> tuple[list, str, dict, list]:
    """The paths, the cache key, the rows ``cache`` already holds, and the paths still to compute.

    The start every extractor shares (this module's and the Dask one).  A path
    given as a ``str`` or a ``Path`` is kept as it is (another path-like becomes a
    ``Path``): a reopened run of 200,000 images asks with its ``str`` paths, and a
    ``Path`` made for each (with its list of parts, 400,000 objects the garbage
    collector tracks) was visited by every full collection of the window's GUI
    thread while the job held them: 90-150 ms each (``benchmarks/gui_stalls.py``,
    File > Open recent).
    """
    all_paths = [p if isinstance(p, (str, Path)) else Path(p) for p in paths]
    key = model.cache_key(prep)
    rows = dict(cache.lookup(key, all_paths)) if cache is not None else {}
    return all_paths, key, rows, [p for p in all_paths if p not in rows]


def assemble_result(all_paths: list, rows: dict, skipped: list[SkippedFile],
                    model: FeatureModel, n_todo: int, seconds: float) -> ExtractionResult:
    """The rows of the readable images in the order of ``all_paths``, as every extractor returns them."""
    kept = [p for p in all_paths if p in rows]
    features = (np.stack([rows[p] for p in kept]).astype(np.float32) if kept
                else np.zeros((0, model.feature_dim), np.float32))
    return ExtractionResult(kept, features, skipped, model.provider, n_todo - len(skipped),
                            len(all_paths) - n_todo, seconds)
