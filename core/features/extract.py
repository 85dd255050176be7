"""Deep features from ONNX models, on the GPU when one really works.

``FeatureModel`` wraps an onnxruntime session.  onnxruntime-gpu lists the CUDA provider as *available*
even on machines where its libraries cannot load, and then prints a screen of errors; so the session is
created with CUDA first and the provider reported is the one the created session actually uses
(``session.get_providers()[0]``), with onnxruntime's log quietened meanwhile.  The models are the
entries of :data:`FEATURE_MODELS`, made with :func:`load_model`.

``extract_features`` decodes, crops and normalises images on worker threads, straight into preallocated
batch arrays, up to ``prefetch`` batches ahead of the model (OpenCV and onnxruntime both release the GIL),
so the thread that runs the model only runs it; and it keeps every computed row in a
:class:`~core.store.cache.FeatureCache`, so reopening a folder recomputes only new or changed images.
``benchmarks/extraction.py`` measures how close the end-to-end rate comes to the model's own.  On CUDA
the session is fed through I/O binding, and ``fp16=True`` converts the model to half precision (inputs
and outputs stay float32) when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.features.result import ExtractionResult, assemble_result, cached_rows
from core.images.io import ImageReadError, SkippedFile, read_image
from core.images.preprocess import (
    MEASURED_CROP_SCALE,
    ModelView,
    Preprocessing,
    crop_image,
    dihedral_variants,
    model_square,
    parse_views,
    resize_square,
    to_model_input,
)
from core.paths import file_sha256, model_file  # file_sha256: also imported from here
from core.progress import Cancelled, ProgressFn, StopFn
from core.registry import Registry
from core.store.cache import FeatureCache

DEFAULT_MODEL = "galaxy_duo"  # issue 24: no lower than galaxy_cnn on the clean sets, far better on small galaxies


def _session(path: Path, use_gpu: bool, fp16: bool = False, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        # A Dask worker owns one core: the model's threads stay within it (default: every core).
        options.intra_op_num_threads = int(threads)
    # onnxruntime's intra-op threads spin for a while after each operator by default; on a
    # CPU shared with the decoding threads (and with other programs) that spinning takes
    # the cores the decoders need, for no gain once the model is busy for tens of ms per batch.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Severity 4 (fatal only) while probing: a CUDA provider that cannot load its
    # libraries would otherwise print dozens of lines before we fall back.
    options.log_severity_level = 4
    providers: list[str] = ["CPUExecutionProvider"]
    if use_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    previous = ort.get_default_logger_severity() if hasattr(ort, "get_default_logger_severity") else 2
    ort.set_default_logger_severity(4)
    source: str | bytes = str(path)
    if fp16:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        # keep_io_types: the graph casts at its ends, so callers feed and read float32 as before.
        source = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True).SerializeToString()
    try:
        try:
            return ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception:
            if providers[0] == "CPUExecutionProvider":
                raise
            return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    finally:
        ort.set_default_logger_severity(previous)


@dataclass
class FeatureModel:
    """An ONNX feature extractor with its preprocessing read from the file's metadata.

    Parameters
    ----------
    name : str
        A name of :data:`FEATURE_MODELS`; the file is ``<name>.onnx`` in the models folder.
    use_gpu : bool
        Try the CUDA execution provider first.
    path : Path, optional
        Explicit model file instead of the models folder.
    fp16 : bool
        Run a half-precision copy of the model (converted when loaded): meant for GPUs, where it
        halves memory traffic.  Features then differ from float32 ones by a cosine distance of
        about 1e-5 (the tests allow 1e-4), and the cache keeps them apart.
    io_binding : bool, optional
        Feed the session through onnxruntime's I/O binding (the input copied to
        the device once, the output bound there); default: exactly when the
        session runs on CUDA.
    threads : int, optional
        onnxruntime's intra-op threads (default: its own choice, every core); a
        Dask worker process sets its share (:mod:`core.features.distributed`).
    """

    name: str = DEFAULT_MODEL
    use_gpu: bool = True
    path: Path | None = None
    fp16: bool = False
    io_binding: bool | None = None
    threads: int | None = None
    session: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path) if self.path is not None else model_file(self.name)
        self.session = _session(self.path, self.use_gpu, self.fp16, self.threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.input_size = int(meta["galaxy_sorter.input_size"])
        self.scale = float(meta["galaxy_sorter.scale"])
        self.offset = float(meta["galaxy_sorter.offset"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        if self.io_binding is None:
            self.io_binding = self.device == "CUDA"
        self.feature_dim = int(self.session.get_outputs()[0].shape[1])
        self.channels = int(self.session.get_inputs()[0].shape[1])  # 3 a view (galaxy_duo: two views, 6)
        # The model's own crop inside the user's (galaxy_cnn2: "measured", see core.images.preprocess.measured_crop).
        self.model_crop = meta.get("galaxy_sorter.crop", "none")
        self.crop_scale = float(meta.get("galaxy_sorter.crop_scale", MEASURED_CROP_SCALE))
        # What the input holds: the views of ``galaxy_sorter.views`` (galaxy_duo), else the one of model_crop.
        self.views = parse_views(meta.get("galaxy_sorter.views")) or (
            ModelView(self.model_crop, self.crop_scale, self.input_size),)
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
        parts: dict[str, object] = {"model": self.sha256, "prep": prep.as_dict(), "v": 1}
        if self.fp16:  # only then, so float32 caches made before fp16 existed stay valid
            parts["fp16"] = True
        blob = json.dumps(parts, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def prepare(self, image: np.ndarray, prep: Preprocessing) -> list[np.ndarray]:
        """Crop and resize one RGB image into the model's input square(s).

        The user's crop (``prep``) comes first; a model whose metadata declares
        ``galaxy_sorter.crop = "measured"`` then frames the central galaxy at
        ``crop_scale`` second-moment radii inside it (growing past it for a
        galaxy that fills it), as it was trained; a model of several views gets
        each, stacked as channels (:func:`core.images.preprocess.model_square`).
        """
        square = model_square(image, prep, self.views, self.input_size)
        return dihedral_variants(square) if prep.rotations else [square]

    def run(self, squares: list[np.ndarray]) -> np.ndarray:
        """Return the features of prepared squares, shape (len(squares), feature_dim)."""
        return self.infer(to_model_input(squares, self.scale, self.offset))

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Return the features of a normalised NCHW float32 batch, shape (len(batch), feature_dim).

        With ``io_binding`` the batch goes to the session's device as one
        OrtValue and the output is bound on that device and copied back once;
        on the CPU provider the same calls run (that is how the path is tested
        without a GPU).
        """
        if not self.io_binding:
            return self.session.run(None, {self.input_name: batch})[0]
        import onnxruntime as ort

        batch = np.ascontiguousarray(batch, dtype=np.float32)
        binding = self.session.io_binding()
        if self.device == "CUDA":
            binding.bind_ortvalue_input(self.input_name, ort.OrtValue.ortvalue_from_numpy(batch, "cuda", 0))
            binding.bind_output(self.output_name, "cuda", 0)
        else:
            binding.bind_cpu_input(self.input_name, batch)
            binding.bind_output(self.output_name, "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


@dataclass(frozen=True)
class ModelOptions:
    """A feature model's facts: ``file``, its ONNX file under ``models/`` (:func:`load_model`, ``build.spec``);
    ``exporter``, the ``models/export_<name>.py`` that builds it (``models/build_models.py``), None if committed."""

    file: str
    exporter: str | None = None


#: The feature models: name -> entry whose factory makes the model (``factory(name, path=, use_gpu=) ->
#: FeatureModel``), with :class:`ModelOptions`.  Callers use :func:`load_model`, never ``FeatureModel(name)``.
FEATURE_MODELS: Registry[ModelOptions] = Registry("feature model", default=DEFAULT_MODEL, options_type=ModelOptions)
FEATURE_MODELS.add("galaxy_cnn", FeatureModel, "Galaxy CNN", "Galaxy CNN trained on Galaxy Zoo morphology labels "
                   "(the default before issue 24): 64 features, 48 px", file="galaxy_cnn.onnx")  # models/train_galaxy_net.py
FEATURE_MODELS.add("galaxy_cnn2", FeatureModel, "Galaxy CNN v2 (small galaxies, one band)", "Galaxy CNN v2: crops "
                   "each image to its galaxy's measured size and was trained on galaxies shrunk in their frame, one "
                   "band, blur, noise and JPEG: 64 features, 64 px", file="galaxy_cnn2.onnx")  # models/train_galaxy_net2.py
FEATURE_MODELS.add("galaxy_duo", FeatureModel, "Galaxy CNN duo (v1 + v2, default)", "galaxy_cnn on the user's crop and "
                   "galaxy_cnn2 on the galaxy's measured crop at 3 scales, side by side, each feature standardised "
                   "(default): 128 features, 48 + 64 px", file="galaxy_duo.onnx")  # composed by models/export_galaxy_duo.py
FEATURE_MODELS.add("galaxy_trio", FeatureModel, "Galaxy CNN trio (duo + self-supervised)", "galaxy_duo and, on "
                   "galaxy_cnn2's crops, galaxy_cnn6 (self-supervised on Kaggle images and their labels: holds one "
                   "band), each feature standardised: 192 features, 48 + 64 px", file="galaxy_trio.onnx")  # export_galaxy_duo
FEATURE_MODELS.add("xception", FeatureModel, "Xception (ImageNet)", "Xception, ImageNet weights (as in the seed papers): "
                   "2048 features, 299 px", file="xception.onnx", exporter="export_xception")
FEATURE_MODELS.add("efficientnet_lite0", FeatureModel, "EfficientNet-Lite0 (fast)", "EfficientNet-Lite0, ImageNet weights "
                   "(fast): 1280 features, 224 px", file="efficientnet_lite0.onnx", exporter="export_efficientnet_lite0")
# int8 copies (export_int8.py, calibrated on the sample; built after their fp32 files, first here; benchmarks/int8.py).
FEATURE_MODELS.add("xception_int8", FeatureModel, "Xception int8 (fast CPU)", "Xception quantised to int8 (onnxruntime "
                   "QDQ, per-channel weights): 2048 features, 299 px, several times faster on CPUs with VNNI",
                   file="xception_int8.onnx", exporter="export_xception_int8")
# No EfficientNet-Lite0 int8 entry (issue 19): quantised CPU-independently it loses too much (mean cosine to fp32
# 0.87 on the test sample); models/export_int8.py --model efficientnet_lite0 still builds it for experiments.


def load_model(name: str = DEFAULT_MODEL, *, use_gpu: bool = True, **kwargs: object) -> FeatureModel:
    """Make the model ``name`` of :data:`FEATURE_MODELS`, its factory with its file (``kwargs``: ``fp16``, ...): the
    one way core gets a model.  Raises ``ValueError`` (unknown name) or :class:`core.paths.ModelFileMissing` (not built)."""
    entry = FEATURE_MODELS.get(name)
    return entry.factory(name, path=model_file(Path(entry.options.file).stem), use_gpu=use_gpu, **kwargs)


def _load_and_prepare(model: FeatureModel, prep: Preprocessing, path: Path,
                      out: np.ndarray | None = None) -> list[np.ndarray] | int | SkippedFile:
    """Decode, crop and resize one image; with ``out``, normalise it into those batch rows.

    Returns the squares (no ``out``), the number of rows written (``out``), or
    the :class:`SkippedFile` saying why the image could not be used.
    """
    try:
        squares = model.prepare(read_image(path), prep)
        if out is None:
            return squares
        to_model_input(squares, model.scale, model.offset, out=out)
        return len(squares)
    except ImageReadError as exc:
        return SkippedFile(str(path), str(exc))
    except Exception as exc:  # never let one odd file stop a run of thousands
        return SkippedFile(str(path), f"could not be processed ({type(exc).__name__}: {exc})")


#: How much lower than the model's thread the decoding threads run (Linux nice steps).
DECODE_NICE = 5


def _lower_thread_priority() -> None:
    """Run the calling decoding thread ``DECODE_NICE`` steps nicer than the rest of the process.

    The model's operators split across every core and wait for their slowest
    thread, so a decoder that preempts one of them stalls the whole model; a
    little lower priority lets decoding fill the gaps between operators
    instead.  Decoding needs about a twentieth of the CPU the model does, so
    it still keeps up.  Linux only (there ``setpriority`` takes a thread id).
    """
    import sys
    import threading

    if not sys.platform.startswith("linux") or DECODE_NICE <= 0:
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + DECODE_NICE))
    except OSError:
        pass  # not allowed here: decoding at the usual priority costs a little speed, nothing else


#: Memory the batches decoded ahead may take (beyond the first one ahead).
PREFETCH_BYTES = 128 * 1024 * 1024


@dataclass
class PreparedBatch:
    """One batch ready for the model: the readable paths, their input rows and the skipped files."""

    paths: list[Path]
    inputs: np.ndarray
    skipped: list[SkippedFile]


def prepared_batches(
    paths: Sequence[Path],
    model: FeatureModel,
    prep: Preprocessing,
    batch_size: int = 16,
    workers: int | None = None,
    prefetch: int = 3,
) -> Iterator[PreparedBatch]:
    """Yield the model inputs of ``paths``, batch by batch, prepared on worker threads.

    Up to ``prefetch`` batches are decoded ahead of the one the caller holds,
    each image by one task that writes its normalised rows straight into its
    batch's preallocated array.  One batch ahead (the old scheme) left the
    model waiting whenever a slow file or another program delayed a decoder;
    a few batches of slack absorb that, at 10 MB each for EfficientNet-Lite0.
    Closing the generator early (an exception in the caller, a cancel) drops
    the batches not started.

    Parameters
    ----------
    paths : sequence of Path
        Image files, in order.
    model : FeatureModel
        Gives the input size and normalisation.
    prep : Preprocessing
        Crop and rotations (8 rows per image with rotations).
    batch_size : int
        Images per batch.
    workers : int, optional
        Decoding threads (default: up to 4, at most the CPU count).
    prefetch : int
        Batches prepared ahead of the one being consumed: at least 1, and no
        more than fit in ``PREFETCH_BYTES`` (with 8 rotations a Lite0 batch
        of 16 is 77 MB).

    Yields
    ------
    PreparedBatch
        ``inputs`` of shape (rows, model.channels, size, size), float32, rows of the
        readable images only, in the order of ``paths``.
    """
    rows_per_image = 8 if prep.rotations else 1
    size = model.input_size
    batch_bytes = batch_size * rows_per_image * model.channels * size * size * 4
    ahead = max(1, min(prefetch, PREFETCH_BYTES // batch_bytes))
    n_workers = workers or max(1, min(4, os.cpu_count() or 1))
    batches = [list(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]
    pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="features",
                              initializer=_lower_thread_priority)
    queued: deque[tuple[list[Path], np.ndarray, list[Future]]] = deque()

    def submit(batch: list[Path]) -> None:
        buffer = np.empty((len(batch) * rows_per_image, model.channels, size, size), np.float32)
        futures = [pool.submit(_load_and_prepare, model, prep, p,
                               buffer[j * rows_per_image : (j + 1) * rows_per_image])
                   for j, p in enumerate(batch)]
        queued.append((batch, buffer, futures))

    try:
        upcoming = iter(batches)
        for batch in upcoming:
            submit(batch)
            if len(queued) > ahead:
                break
        while queued:
            batch, buffer, futures = queued.popleft()
            results = [f.result() for f in futures]
            nxt = next(upcoming, None)
            if nxt is not None:  # keep the decoders ``prefetch`` batches ahead while the model runs
                submit(nxt)
            good = [not isinstance(r, SkippedFile) for r in results]
            skipped = [r for r in results if isinstance(r, SkippedFile)]
            if all(good):
                inputs = buffer
            else:
                keep = np.repeat(np.array(good), rows_per_image)
                inputs = buffer[keep]
            yield PreparedBatch([p for p, ok in zip(batch, good) if ok], inputs, skipped)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def extract_features(
    paths: Sequence[str | os.PathLike[str]],
    model: FeatureModel,
    prep: Preprocessing | None = None,
    cache: FeatureCache | None = None,
    batch_size: int = 16,
    workers: int | None = None,
    prefetch: int = 3,
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
    prefetch : int
        Batches decoded ahead of the model (see :func:`prepared_batches`).
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
    all_paths, key, rows, todo = cached_rows(paths, model, prep, cache)
    skipped: list[SkippedFile] = []
    start = time.perf_counter()
    done = 0
    total = len(all_paths)
    if progress:
        progress(len(rows) / total if total else 1.0, f"{len(rows)} cached, {len(todo)} to compute on {model.device}")
    batches = prepared_batches(todo, model, prep, batch_size, workers, prefetch)
    try:
        for batch in batches:
            skipped.extend(batch.skipped)
            good_paths = batch.paths
            if good_paths:
                feats = model.infer(batch.inputs)
                if prep.rotations:
                    feats = feats.reshape(len(good_paths), 8, -1).mean(axis=1)
                feats = np.asarray(feats, dtype=np.float32)
                if cache is not None:
                    cache.store(key, good_paths, feats)
                for p, f in zip(good_paths, feats):
                    rows[p] = f
                if on_batch:
                    on_batch(good_paths, feats)
            done += len(good_paths) + len(batch.skipped)
            if progress:
                elapsed = time.perf_counter() - start
                rate = done / elapsed if elapsed > 0 else 0.0
                message = f"features {done}/{len(todo)} ({rate:.1f} img/s, {model.device})"
                progress((total - len(todo) + done) / total, message)
            if should_stop and should_stop():
                raise Cancelled("feature extraction cancelled")
    finally:
        batches.close()  # stops the decoders at once on cancel or error
    return assemble_result(all_paths, rows, skipped, model, len(todo), time.perf_counter() - start)


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
