"""Deep features from ONNX models, on the GPU when one really works.

``FeatureModel`` wraps an onnxruntime session.  onnxruntime-gpu lists the CUDA
provider as *available* even on machines where its libraries cannot load, and
then prints a screen of errors; so the session is created with CUDA first and
the provider reported is the one the created session actually uses
(``session.get_providers()[0]``), with onnxruntime's log quietened meanwhile.

``extract_features`` decodes and crops images on worker threads while the
model runs on the previous batch (OpenCV and onnxruntime both release the
GIL), and keeps every computed row in a :class:`~core.cache.FeatureCache`, so
reopening a folder recomputes only new or changed images.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.cache import FeatureCache
from core.images import ImageReadError, SkippedFile, read_image
from core.paths import model_file
from core.preprocess import Preprocessing, crop_image, dihedral_variants, resize_square, to_model_input
from core.progress import Cancelled, ProgressFn, StopFn
from core.registry import Registry

DEFAULT_MODEL = "galaxy_cnn"


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file (model files: recorded for reproducibility)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _session(path: Path, use_gpu: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Severity 4 (fatal only) while probing: a CUDA provider that cannot load its
    # libraries would otherwise print dozens of lines before we fall back.
    options.log_severity_level = 4
    providers: list[str] = ["CPUExecutionProvider"]
    if use_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    previous = ort.get_default_logger_severity() if hasattr(ort, "get_default_logger_severity") else 2
    ort.set_default_logger_severity(4)
    try:
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception:
            if providers[0] == "CPUExecutionProvider":
                raise
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    finally:
        ort.set_default_logger_severity(previous)


@dataclass
class FeatureModel:
    """An ONNX feature extractor with its preprocessing read from the file's metadata.

    Parameters
    ----------
    name : str
        Model name (``xception`` or ``efficientnet_lite0``); the file is
        ``<name>.onnx`` in the models folder.
    use_gpu : bool
        Try the CUDA execution provider first.
    path : Path, optional
        Explicit model file instead of the models folder.
    """

    name: str = DEFAULT_MODEL
    use_gpu: bool = True
    path: Path | None = None
    session: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path) if self.path is not None else model_file(self.name)
        self.session = _session(self.path, self.use_gpu)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.input_size = int(meta["galaxy_sorter.input_size"])
        self.scale = float(meta["galaxy_sorter.scale"])
        self.offset = float(meta["galaxy_sorter.offset"])
        self.input_name = self.session.get_inputs()[0].name
        self.feature_dim = int(self.session.get_outputs()[0].shape[1])
        self._sha256: str | None = None

    @property
    def provider(self) -> str:
        """The execution provider the session really runs on (``CUDAExecutionProvider`` or ``CPUExecutionProvider``)."""
        return self.session.get_providers()[0]

    @property
    def device(self) -> str:
        """``"CUDA"`` or ``"CPU"``, for the user."""
        return "CUDA" if self.provider == "CUDAExecutionProvider" else "CPU"

    @property
    def sha256(self) -> str:
        """SHA-256 of the model file (computed once)."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    def cache_key(self, prep: Preprocessing) -> str:
        """Key of the feature cache: model file content plus preprocessing."""
        blob = json.dumps({"model": self.sha256, "prep": prep.as_dict(), "v": 1}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def prepare(self, image: np.ndarray, prep: Preprocessing) -> list[np.ndarray]:
        """Crop and resize one RGB image into the model's input square(s)."""
        square = resize_square(crop_image(image, prep), self.input_size)
        return dihedral_variants(square) if prep.rotations else [square]

    def run(self, squares: list[np.ndarray]) -> np.ndarray:
        """Return the features of prepared squares, shape (len(squares), feature_dim)."""
        batch = to_model_input(squares, self.scale, self.offset)
        return self.session.run(None, {self.input_name: batch})[0]


#: The feature models: name -> entry whose factory is ``FeatureModel`` (called with ``name, use_gpu=``).
#: Options: ``file`` (the ONNX file under ``models/``, read by ``build.spec``) and ``exporter`` (the
#: ``models/export_<name>.py`` module that builds it, run by ``models/build_models.py``).
FEATURE_MODELS = Registry("feature model", default=DEFAULT_MODEL)
FEATURE_MODELS.add("galaxy_cnn", FeatureModel, "Galaxy CNN (default)",
                   "Galaxy CNN trained on Galaxy Zoo morphology labels (default): 64 features, 48 px",
                   file="galaxy_cnn.onnx", exporter=None)  # committed, trained by models/train_galaxy_net.py
FEATURE_MODELS.add("xception", FeatureModel, "Xception (ImageNet)",
                   "Xception, ImageNet weights (as in the seed papers): 2048 features, 299 px",
                   file="xception.onnx", exporter="export_xception")
FEATURE_MODELS.add("efficientnet_lite0", FeatureModel, "EfficientNet-Lite0 (fast)",
                   "EfficientNet-Lite0, ImageNet weights (fast): 1280 features, 224 px",
                   file="efficientnet_lite0.onnx", exporter="export_efficientnet_lite0")
# int8 copies (models/export_<name>.py -> export_int8.py, calibrated on the built-in sample; built after their fp32 files,
# which come first here).  benchmarks/int8.py measures speed and scores against fp32.
FEATURE_MODELS.add("xception_int8", FeatureModel, "Xception int8 (fast CPU)",
                   "Xception quantised to int8 (onnxruntime QDQ, per-channel weights): 2048 features, 299 px, "
                   "several times faster on CPUs with VNNI",
                   file="xception_int8.onnx", exporter="export_xception_int8")
FEATURE_MODELS.add("efficientnet_lite0_int8", FeatureModel, "EfficientNet-Lite0 int8 (fastest CPU)",
                   "EfficientNet-Lite0 quantised to int8 (onnxruntime QDQ, per-channel weights): 1280 features, "
                   "224 px, about 1.8x faster on CPUs with VNNI",
                   file="efficientnet_lite0_int8.onnx", exporter="export_efficientnet_lite0_int8")


def _load_and_prepare(model: FeatureModel, prep: Preprocessing, path: Path) -> list[np.ndarray] | SkippedFile:
    try:
        return model.prepare(read_image(path), prep)
    except ImageReadError as exc:
        return SkippedFile(str(path), str(exc))
    except Exception as exc:  # never let one odd file stop a run of thousands
        return SkippedFile(str(path), f"could not be processed ({type(exc).__name__}: {exc})")


@dataclass
class ExtractionResult:
    """Features of the readable images, aligned with ``paths``."""

    paths: list[Path]
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


def extract_features(
    paths: Sequence[str | os.PathLike[str]],
    model: FeatureModel,
    prep: Preprocessing | None = None,
    cache: FeatureCache | None = None,
    batch_size: int = 16,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    on_batch: Callable[[list[Path], np.ndarray], None] | None = None,
) -> ExtractionResult:
    """Compute (or fetch from ``cache``) the features of ``paths``.

    Parameters
    ----------
    paths : sequence of path-like
        Image files.
    model : FeatureModel
        The extractor.
    prep : Preprocessing, optional
        Crop and rotation settings (default: fixed 0.5 crop, no rotations).
    cache : FeatureCache, optional
        Where computed rows are kept and looked up.
    batch_size : int
        Images per model call.
    workers : int, optional
        Decoding threads (default: up to 4, at most the CPU count).
    progress : callable(fraction, message), optional
        Called after each batch.
    should_stop : callable() -> bool, optional
        Polled between batches; when it returns True, :class:`Cancelled` is raised
        (rows computed so far stay in the cache).
    on_batch : callable(paths, features), optional
        Receives each finished batch (for maps that fill in as features arrive).

    Returns
    -------
    ExtractionResult
        ``features`` of shape (n_readable, model.feature_dim), float32.
    """
    prep = prep or Preprocessing()
    all_paths = [Path(p) for p in paths]
    key = model.cache_key(prep)
    rows: dict[Path, np.ndarray] = {}
    if cache is not None:
        rows.update(cache.lookup(key, all_paths))
    todo = [p for p in all_paths if p not in rows]
    skipped: list[SkippedFile] = []
    n_workers = workers or max(1, min(4, os.cpu_count() or 1))
    start = time.perf_counter()
    done = 0
    total = len(all_paths)
    if progress:
        progress(len(rows) / total if total else 1.0, f"{len(rows)} cached, {len(todo)} to compute on {model.device}")
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
        pending = None
        for i in range(len(batches) + 1):
            # Submit batch i's decoding before running the model on batch i-1: overlap.
            nxt = [pool.submit(_load_and_prepare, model, prep, p) for p in batches[i]] if i < len(batches) else None
            if pending is not None:
                batch_paths, futures = pending
                good_paths, squares, counts = [], [], []
                for p, fut in zip(batch_paths, futures):
                    res = fut.result()
                    if isinstance(res, SkippedFile):
                        skipped.append(res)
                        continue
                    good_paths.append(p)
                    squares.extend(res)
                    counts.append(len(res))
                if good_paths:
                    feats = model.run(squares)
                    if prep.rotations:
                        feats = feats.reshape(len(good_paths), 8, -1).mean(axis=1)
                    feats = np.asarray(feats, dtype=np.float32)
                    if cache is not None:
                        cache.store(key, good_paths, feats)
                    for p, f in zip(good_paths, feats):
                        rows[p] = f
                    if on_batch:
                        on_batch(good_paths, feats)
                done += len(batch_paths)
                if progress:
                    elapsed = time.perf_counter() - start
                    rate = done / elapsed if elapsed > 0 else 0.0
                    message = f"features {done}/{len(todo)} ({rate:.1f} img/s, {model.device})"
                    progress((total - len(todo) + done) / total, message)
                if should_stop and should_stop():
                    for fut in nxt or []:
                        fut.cancel()
                    raise Cancelled("feature extraction cancelled")
            pending = (batches[i], nxt) if nxt is not None else None
    seconds = time.perf_counter() - start
    kept = [p for p in all_paths if p in rows]
    dim = model.feature_dim
    features = np.stack([rows[p] for p in kept]).astype(np.float32) if kept else np.zeros((0, dim), np.float32)
    return ExtractionResult(kept, features, skipped, model.provider, len(todo) - len(skipped),
                            total - len(todo), seconds)


def raw_pixel_features(
    paths: Sequence[str | os.PathLike[str]],
    prep: Preprocessing | None = None,
    size: int = 32,
) -> tuple[list[Path], np.ndarray, list[SkippedFile]]:
    """Downsampled grayscale pixels, the input of the seed paper's "standalone DEC" baseline.

    Returns the readable paths, an array of shape (n, size*size) in [0, 1], and the skipped files.
    """
    prep = prep or Preprocessing()
    kept: list[Path] = []
    rows: list[np.ndarray] = []
    skipped: list[SkippedFile] = []
    for p in paths:
        try:
            img = read_image(p)
        except ImageReadError as exc:
            skipped.append(SkippedFile(str(p), str(exc)))
            continue
        square = resize_square(crop_image(img, prep), size).astype(np.float32).mean(axis=2) / 255.0
        kept.append(Path(p))
        rows.append(square.ravel())
    arr = np.stack(rows) if rows else np.zeros((0, size * size), np.float32)
    return kept, arr.astype(np.float32), skipped
