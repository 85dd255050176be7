"""The whole headless job: folder in, clusters, map and catalogue out.

``run_pipeline`` is what the CLI runs and what the app's worker calls: scan,
extract features (cached in the project store), cluster, project to 2-D, store
the run, and optionally export the CSV and its sidecar.  Progress arrives as
(fraction, message) with the stage in the message; ``should_stop`` cancels
between batches and epochs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.cluster import DEFAULT_METHOD, ClusterResult, cluster_features
from core.export import CatalogueRow, write_csv, write_sidecar
from core.features import DEFAULT_MODEL, FeatureModel, extract_features, raw_pixel_features
from core.images import SkippedFile, image_id, scan_images
from core.preprocess import Preprocessing
from core.progress import ProgressFn, StopFn
from core.projection import project
from core.store import ProjectStore, default_store_dir

# Share of the progress bar each stage takes (extraction dominates on a CPU).
_STAGES = {"extract": (0.0, 0.6), "cluster": (0.6, 0.92), "project": (0.92, 0.98), "save": (0.98, 1.0)}


@dataclass
class PipelineConfig:
    """Everything that decides a run's result (recorded in the sidecar)."""

    model: str = DEFAULT_MODEL
    method: str = DEFAULT_METHOD
    n_clusters: int = 2
    projection: str = "pca"
    prep: Preprocessing = field(default_factory=Preprocessing)
    seed: int = 0
    batch_size: int = 16
    use_gpu: bool = True
    dec_params: dict[str, object] = field(default_factory=dict)


@dataclass
class PipelineResult:
    """What a run produced."""

    paths: list[Path]
    features: np.ndarray
    clusters: ClusterResult
    coords: np.ndarray
    skipped: list[SkippedFile]
    provider: str
    run_id: int
    store: ProjectStore
    timings: dict[str, float]
    model_sha256: str

    @property
    def ids(self) -> list[str]:
        """Image ids (file names without extension), aligned with ``paths``."""
        return [image_id(p) for p in self.paths]


def checked_n_clusters(method: str, n_clusters: int, n_images: int) -> tuple[int, list[str]]:
    """The number of clusters a run can really use, and a warning when it differs from the one asked for.

    Every method but DBSCAN (which finds its own number) needs at least one
    image more than clusters.  Raises ``ValueError`` when fewer than 2
    clusters are asked for, or when too few images are readable to make 2.
    """
    if method == "dbscan":
        return n_clusters, []
    if n_clusters < 2:
        raise ValueError(f"--clusters must be at least 2 (got {n_clusters})")
    if n_clusters < n_images:
        return n_clusters, []
    used = n_images - 1
    if used < 2:
        raise ValueError(f"{n_images} readable images cannot be split into {n_clusters} clusters; add images")
    return used, [f"asked for {n_clusters} clusters but only {n_images} images could be read: "
                  f"clustered into {used} instead"]


def _stage(progress: ProgressFn | None, name: str) -> ProgressFn | None:
    if progress is None:
        return None
    lo, hi = _STAGES[name]
    return lambda f, msg: progress(lo + (hi - lo) * max(0.0, min(1.0, f)), msg)


def run_pipeline(
    folder: str | os.PathLike[str],
    config: PipelineConfig | None = None,
    *,
    store_dir: str | os.PathLike[str] | None = None,
    store: ProjectStore | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    on_batch: Callable[[list[Path], np.ndarray], None] | None = None,
) -> PipelineResult:
    """Cluster the galaxies in ``folder``.

    Parameters
    ----------
    folder : path-like
        Image folder, scanned recursively.
    config : PipelineConfig, optional
    store_dir : path-like, optional
        Project store folder (default: :func:`core.store.default_store_dir`).
    store : ProjectStore, optional
        An open store to use instead (the app's project).
    progress, should_stop : callables, optional
    on_batch : callable(paths, features), optional
        Receives each batch of features as it is extracted (maps that fill in).

    Returns
    -------
    PipelineResult

    Raises
    ------
    NotADirectoryError, FileNotFoundError
        The folder does not exist, or holds no image.
    core.paths.ModelFileMissing
        The model files have not been built.
    """
    cfg = config or PipelineConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    paths, scan_skipped = scan_images(folder)
    if not paths:
        raise FileNotFoundError(f"no JPEG, PNG, TIFF or FITS images were found in {folder}")
    store = store or ProjectStore(store_dir or default_store_dir(folder), root=folder)
    timings["scan"] = time.perf_counter() - t0

    t = time.perf_counter()
    model = FeatureModel(cfg.model, use_gpu=cfg.use_gpu)
    if cfg.method == "dec-raw":
        kept, X, skipped = raw_pixel_features(paths, cfg.prep)
        cnn = extract_features(kept, model, cfg.prep, cache=store.features, batch_size=cfg.batch_size,
                               progress=_stage(progress, "extract"), should_stop=should_stop)
        features = cnn.features
    else:
        res = extract_features(paths, model, cfg.prep, cache=store.features, batch_size=cfg.batch_size,
                               progress=_stage(progress, "extract"), should_stop=should_stop, on_batch=on_batch)
        kept, X, skipped, features = res.paths, res.features, res.skipped, res.features
    timings["extract"] = time.perf_counter() - t
    skipped = scan_skipped + list(skipped)
    if len(kept) < 2:
        raise FileNotFoundError(f"fewer than two readable images in {folder} ({len(skipped)} skipped)")
    n_clusters, k_warnings = checked_n_clusters(cfg.method, cfg.n_clusters, len(kept))

    t = time.perf_counter()
    clusters = cluster_features(X, cfg.method, n_clusters, random_state=cfg.seed,
                                dec_params=cfg.dec_params, progress=_stage(progress, "cluster"),
                                should_stop=should_stop)
    clusters.warnings[:0] = store.features.take_problems() + k_warnings
    timings["cluster"] = time.perf_counter() - t

    t = time.perf_counter()
    if progress:
        progress(_STAGES["project"][0], f"2-D map ({cfg.projection})")
    if cfg.projection == "lda":
        coords = project(features, "lda", labels=clusters.labels.astype(str), random_state=cfg.seed)
    else:
        coords = project(features, cfg.projection, random_state=cfg.seed)
    timings["project"] = time.perf_counter() - t

    t = time.perf_counter()
    ids = store.add_images(kept, [(s.path, s.reason) for s in skipped])
    params = {"prep": cfg.prep.as_dict(), "projection": cfg.projection, "seed": cfg.seed, **clusters.params}
    if cfg.method == "dec" and clusters.model is not None:
        # The DEC encoder is kept with the run: fine-tuning rounds start from it.
        params["encoder"] = clusters.model.save_onnx(store.new_model_path()).name
    run_id = store.save_run(cfg.method, cfg.model, n_clusters, params, clusters.warnings,
                            [ids[str(p)] for p in kept], clusters.labels, clusters.confidence, coords)
    timings["save"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if progress:
        progress(1.0, "done")
    return PipelineResult(kept, features, clusters, coords, skipped, model.provider, run_id, store, timings,
                          model.sha256)


def catalogue_rows(result: PipelineResult) -> list[CatalogueRow]:
    """Rows of the catalogue: the user's label where there is one, else the cluster's name."""
    store = result.store
    ids = store.image_ids()
    labels = store.labels()
    names = store.cluster_names(result.run_id)
    rows = []
    for p, c, q, (x, y) in zip(result.paths, result.clusters.labels, result.clusters.confidence, result.coords):
        cname = names.get(int(c), f"cluster {int(c)}" if c >= 0 else "noise")
        label, source = labels.get(ids[str(p)], (cname, "model"))
        rows.append(CatalogueRow(str(p), image_id(p), int(c), cname, label, source, float(q), float(x), float(y)))
    return rows


def export_result(result: PipelineResult, config: PipelineConfig, csv_path: str | os.PathLike[str],
                  relative: bool = False) -> tuple[Path, Path]:
    """Write the catalogue CSV and its sidecar JSON (``<csv stem>.json``); return both paths.

    ``relative``: image paths relative to the image folder, for files meant to
    be shared (absolute paths name the user's home and disks).
    """
    csv_path = Path(csv_path)
    rows = catalogue_rows(result)
    shown = result.store.key_of if relative else str
    for row in rows:
        row.path = shown(row.path)
    write_csv(rows, csv_path)
    sidecar = write_sidecar(csv_path.with_suffix(".json"), {
        "model": {"name": config.model, "sha256": result.model_sha256, "provider": result.provider},
        "preprocessing": config.prep.as_dict(),
        "method": config.method,
        "n_clusters": int(result.clusters.params.get("n_clusters", config.n_clusters)),
        "n_clusters_requested": config.n_clusters,
        "projection": config.projection,
        "seed": config.seed,
        "parameters": result.clusters.params,
        "warnings": result.clusters.warnings,
        "images": len(result.paths),
        "skipped": [{"path": shown(s.path), "reason": s.reason} for s in result.skipped],
        "timings_s": result.timings,
    })
    return csv_path, sidecar
