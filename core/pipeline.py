"""The whole headless job: folder in, clusters, map and catalogue out.

``run_pipeline`` is what the CLI runs (``run_in_own_store`` what the app's
worker runs): scan, extract features (cached in the project store), cluster,
project to 2-D, and store the run with its record (the settings of
:meth:`PipelineConfig.record`, the model's SHA-256 and provider, the k used,
the soft assignments, the timings); ``export_result`` then writes the
catalogue and its sidecar from that record.  Methods, models and projections
are looked up in their registries and asked for their options, never compared
by name.  Progress arrives as (fraction, message) with the stage in the
message; ``should_stop`` cancels between batches and epochs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.catalog.export import export_catalogue
from core.clustering.methods import CLUSTER_METHODS, DEFAULT_METHOD, ClusterResult, checked_n_clusters, cluster_features
from core.clustering.projection import PROJECTION_METHODS, project
from core.features.bands import AUTO, choose_model, sample_images
from core.features.distributed_spec import DaskSpec
from core.features.extract import extract_features, load_model, raw_pixel_features
from core.features.framing import choose_start
from core.images.fits import MODEL_STRETCH
from core.images.io import NoImagesFound, SkippedFile, scan_images
from core.images.preprocess import Preprocessing
from core.progress import ProgressFn, StopFn
from core.store.database import ProjectStore, Run
from core.store.layout import default_store_dir

# Share of the progress bar each stage takes (extraction dominates on a CPU).
_STAGES = {"extract": (0.0, 0.6), "cluster": (0.6, 0.92), "project": (0.92, 0.98), "save": (0.98, 1.0)}


@dataclass
class PipelineConfig:
    """Everything that decides a run's result (recorded in the sidecar)."""

    model: str = AUTO  # the folder decides: galaxy_duo in colour, galaxy_trio in one band (core.features.bands)
    method: str = DEFAULT_METHOD
    n_clusters: int = 2
    projection: str = "pca"
    prep: Preprocessing = field(default_factory=Preprocessing)
    seed: int = 0
    batch_size: int = 16
    use_gpu: bool = True
    dec_params: dict[str, object] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """What the run record keeps of the settings (the inverse of :meth:`from_run`)."""
        return {"prep": self.prep.as_dict(), "input_stretch": dict(MODEL_STRETCH),
                "projection": self.projection, "seed": self.seed,
                "feature_batch_size": self.batch_size, "use_gpu": self.use_gpu, "dec_params": dict(self.dec_params)}

    @classmethod
    def from_run(cls, run: Run) -> PipelineConfig:
        """The settings a stored run was made with (older runs: defaults where a setting was not recorded)."""
        params = run.params or {}
        default = cls()
        return cls(model=run.model, method=run.method, n_clusters=int(run.n_clusters),
                   projection=str(params.get("projection", default.projection)),
                   prep=Preprocessing(**dict(params.get("prep", {}))),  # type: ignore[arg-type]
                   seed=int(params.get("seed", default.seed)),  # type: ignore[call-overload]
                   batch_size=int(params.get("feature_batch_size", default.batch_size)),  # type: ignore[call-overload]
                   use_gpu=bool(params.get("use_gpu", default.use_gpu)),
                   dec_params=dict(params.get("dec_params", {})))  # type: ignore[call-overload]


@dataclass
class PipelineResult:
    """What a run produced.

    ``store`` is the store the run was saved in; :func:`run_in_own_store` has
    closed it by the time the result reaches the caller.
    """

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
    model: str = ""  # the feature model the run used (PipelineConfig's "auto" resolved)
    model_note: str | None = None  # a sentence for the user when the folder chose the model
    start_note: str | None = None  # a sentence for the user when the galaxies' framing chose DEC's start


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
    on_preview: Callable[[np.ndarray, np.ndarray], None] | None = None,
    dask: DaskSpec | None = None,
) -> PipelineResult:
    """Cluster the galaxies in ``folder``.

    Parameters
    ----------
    folder : path-like
        Image folder, scanned recursively.
    config : PipelineConfig, optional
    store_dir : path-like, optional
        Project store folder (default: :func:`core.store.database.default_store_dir`).
    store : ProjectStore, optional
        An open store to use instead (the app's project).
    progress, should_stop : callables, optional
    on_batch : callable(paths, features), optional
        Receives each batch of features as it is extracted (maps that fill in).
    dask : DaskSpec, optional
        Extract the features on a Dask cluster (:mod:`core.features.distributed`):
        the same rows, computed by worker processes or machines.  Dask is
        imported only then.
    on_preview : callable(coords, clusters), optional
        Before a projection that takes a while (one that reports progress:
        t-SNE), receives a PCA map of every image and its cluster, so the map
        shows the clusters while the projection runs.

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
    method = CLUSTER_METHODS.get(cfg.method)
    projection = PROJECTION_METHODS.get(cfg.projection)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    paths, scan_skipped = scan_images(folder)
    if not paths:
        raise NoImagesFound(f"no JPEG, PNG, TIFF or FITS images were found in {folder}")
    store = store or ProjectStore(store_dir or default_store_dir(folder), root=folder)
    timings["scan"] = time.perf_counter() - t0

    t = time.perf_counter()
    starts_dec = method.options.keeps_encoder and method.options.input != "pixels"
    # The folder's rules (model, DEC's start) look at one sample of its images, read once.
    sample = sample_images(paths) if cfg.model == AUTO or (starts_dec and "init" not in cfg.dec_params) else None
    chosen, model_note = choose_model(cfg.model, paths, images=sample)
    chosen_by = "" if cfg.model != AUTO else f"auto: {'one band' if model_note else 'colour'}"
    cfg = replace(cfg, model=chosen)  # the run records the model it really used
    if model_note and progress:
        progress(0.0, f"single-band folder: features by {chosen}")
    start_note = None
    if starts_dec:
        dec_params, start_note = choose_start(cfg.dec_params, paths, images=sample)
        cfg = replace(cfg, dec_params=dec_params)  # recorded with the run, so a rerun starts the same way
    model = load_model(cfg.model, use_gpu=cfg.use_gpu)
    if method.options.input == "pixels":
        kept, X, skipped = raw_pixel_features(paths, cfg.prep)
        cnn = extract_features(kept, model, cfg.prep, cache=store.features, batch_size=cfg.batch_size,
                               progress=_stage(progress, "extract"), should_stop=should_stop)
        features = cnn.features
    else:
        if dask is not None:
            res = _extract_on_dask(paths, model, cfg, store, dask, progress, should_stop, on_batch)
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
    if projection.options.needs_labels:
        coords = project(features, cfg.projection, labels=clusters.labels.astype(str), random_state=cfg.seed)
    else:
        if on_preview is not None and projection.options.reports_progress:
            on_preview(project(features, "pca", random_state=cfg.seed), clusters.labels)
        coords = project(features, cfg.projection, random_state=cfg.seed, progress=_stage(progress, "project"),
                         should_stop=should_stop)
    timings["project"] = time.perf_counter() - t

    t = time.perf_counter()
    ids = store.add_images(kept, [(s.path, s.reason) for s in skipped])
    for followed, how in _followed_by_how(store.followed):
        shown = ", ".join(f"{old} -> {new}" for old, new in followed[:3])
        clusters.warnings.append(f"{len(followed)} label(s) followed their image {how}: "
                                 f"{shown}{', ...' if len(followed) > 3 else ''}")
    if not store.read_only:  # a labelled file replaced by other content keeps its label: said, once
        from core.store.identity import changed_since_labelled

        cache_key = model.cache_key(cfg.prep)
        changed = changed_since_labelled(store.db, lambda keys: store.features.fingerprints(cache_key, keys))
        if changed:
            clusters.warnings.append(
                f"{len(changed)} labelled image(s) hold other content than when you labelled them (same name, the "
                f"file replaced): their labels are kept; check them: {', '.join(changed[:3])}"
                f"{', ...' if len(changed) > 3 else ''}")
    db_ids = [ids[str(p)] for p in kept]
    params = {**cfg.record(), **clusters.params, "folder": str(Path(folder).resolve()), "model_sha256": model.sha256,
              "provider": model.provider, "soft": store.save_soft(db_ids, clusters.soft)}
    if chosen_by:
        params["model_chosen_by"] = chosen_by  # how the folder decided (core.features.bands)
    if start_note:
        params["start_chosen_by"] = "auto: small galaxies"  # core.features.framing
    if method.options.keeps_encoder and clusters.model is not None:
        # The DEC encoder is kept with the run: fine-tuning rounds start from it.
        params["encoder"] = clusters.model.save_onnx(store.new_model_path()).name
    # The run records the k really used; the one asked for stays in the parameters.
    params["n_clusters_requested"] = cfg.n_clusters
    run_id = store.save_run(cfg.method, cfg.model, n_clusters, params, clusters.warnings,
                            db_ids, clusters.labels, clusters.confidence, coords)
    timings["save"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    store.set_setting(f"timings/{run_id}", timings)
    # This run's skipped files (the store's list covers every run): the sidecar lists these.
    store.set_setting(f"skipped/{run_id}", [[store.key_of(s.path), s.reason] for s in skipped])
    if progress:
        progress(1.0, "done")
    return PipelineResult(kept, features, clusters, coords, skipped, model.provider, run_id, store, timings,
                          model.sha256, cfg.model, model_note, start_note)


def _extract_on_dask(paths, model, cfg, store, dask, progress, should_stop, on_batch):  # -> ExtractionResult
    from core.features.distributed import connect, extract_distributed

    client, close = connect(dask)
    try:
        return extract_distributed(paths, model, cfg.prep, store.features, client=client,
                                   partition_size=dask.partition_size, batch_size=cfg.batch_size,
                                   threads_per_worker=dask.threads_per_worker, progress=_stage(progress, "extract"),
                                   should_stop=should_stop, on_batch=on_batch)
    finally:
        close()


def _followed_by_how(followed: list[tuple[str, str]]) -> list[tuple[list[tuple[str, str]], str]]:
    """The labels that followed their image (:attr:`ProjectStore.followed`), parted by what they followed: the same
    content under a new name or folder, or the same name written in another Unicode form (a store from macOS)."""
    import unicodedata

    form = [(old, new) for old, new in followed if unicodedata.normalize("NFC", old) == unicodedata.normalize("NFC", new)]
    content = [pair for pair in followed if pair not in form]
    return [(pairs, how) for pairs, how in ((content, "to a new name or folder (same content)"),
                                            (form, "to the same name written in another Unicode form (from macOS)"))
            if pairs]


def run_in_own_store(
    folder: str | os.PathLike[str],
    config: PipelineConfig,
    store_dir: str | os.PathLike[str],
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    partial: Callable[[tuple[list[str], np.ndarray]], None] | None = None,
) -> PipelineResult:
    """Run the pipeline with a store connection of its own, opened and closed on the calling thread.

    This is the app's background job: the connection never crosses to the GUI
    thread, and it is closed whether the run finishes, fails or is cancelled.
    ``partial`` receives ``(paths so far, rough PCA map)`` at most every 1.5 s
    while features arrive, so the map fills in, and ``(None, PCA map of every
    image, clusters)`` before t-SNE starts, so the clusters show while it runs.
    """
    seen: list[np.ndarray] = []
    names: list[str] = []
    last = [0.0]

    def on_batch(paths: list[Path], feats: np.ndarray) -> None:
        seen.append(feats)
        names.extend(str(p) for p in paths)
        now = time.perf_counter()
        if partial is not None and now - last[0] > 1.5 and len(names) >= 3:
            last[0] = now
            partial((list(names), project(np.concatenate(seen), "pca")))

    store = ProjectStore(store_dir)
    try:
        return run_pipeline(folder, config, store=store, progress=progress, should_stop=should_stop,
                            on_batch=on_batch,
                            on_preview=None if partial is None else lambda xy, c: partial((None, xy, c)))
    finally:
        store.close()


def export_result(result: PipelineResult, config: PipelineConfig | None, csv_path: str | os.PathLike[str],
                  fmt: str = "csv", relative: bool = False, columns: dict | None = None,
                  join: dict | None = None) -> tuple[Path, Path]:
    """Write the run's catalogue and sidecar JSON (``<name>.json``) with :func:`core.catalog.export.export_catalogue`.

    ``config`` is not needed any more (the stored run records it); it stays for callers that pass it.
    ``relative``: image paths relative to the image folder, for files meant to be shared.
    ``columns`` and ``join``: a joined catalogue's ``cat_*`` columns (image path -> value) and its record.
    """
    return export_catalogue(result.store, result.run_id, csv_path, fmt, relative=relative, columns=columns,
                            join=join)
