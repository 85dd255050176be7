"""``galaxy-sorter-cli``: the headless pipeline from a terminal.

Examples
--------
Cluster a folder into two groups with DEC on Xception features::

    galaxy-sorter-cli cluster FOLDER --clusters 2 --out clusters.csv

and print ACC, balanced accuracy, ARI, NMI against known labels::

    galaxy-sorter-cli cluster FOLDER --truth labels.csv

Other commands: ``suggest-k`` (silhouette per number of clusters) and
``sample`` (write the built-in synthetic sample folder).
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from core.catalog.export import EXPORT_FORMATS
from core.clustering.methods import CLUSTER_METHODS
from core.clustering.projection import PROJECTION_METHODS
from core.features.bands import AUTO, ONE_BAND_MODEL
from core.features.extract import FEATURE_MODELS
from core.images.preprocess import CROP_MODES, Preprocessing
from core.progress import ProgressBar

#: Unicode format characters that reorder text on a terminal (bidirectional overrides and isolates).
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_text(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``), so a file name cannot drive the terminal.

    A name may hold any byte but ``/``: an escape sequence in it would recolour,
    retitle or rewrite the user's terminal when printed.  C0 and C1 controls,
    DEL and the bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN``;
    everything else (accents, CJK) prints as it is.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in _BIDI:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _say(text: str, file=None) -> None:
    """Print one line (file names in it escaped by :func:`terminal_text`)."""
    print(terminal_text(str(text)), file=file)


class UsageError(ValueError):
    """An argument that cannot work, found before any work starts."""


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (``--batch-size 0`` would divide by zero later)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def seconds(text: str) -> float:
    """argparse type of ``--wait``: seconds, 0 or more (``inf`` waits as long as it takes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds (got {text})")
    return value


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=seconds, nargs="?", const=math.inf, default=0.0, metavar="SECONDS",
                        help="when the project is open in another Galaxy Sorter, wait for it to close "
                             "(up to SECONDS; without a number, as long as it takes) instead of stopping at once")


def _parser() -> argparse.ArgumentParser:
    # The choices are read from the registries when the parser is built, so a method or model
    # registered in core (or by a plugin before main() runs) is offered here with nothing else to edit.
    models, methods, maps = FEATURE_MODELS, CLUSTER_METHODS, PROJECTION_METHODS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = argparse.ArgumentParser(prog="galaxy-sorter-cli", description="Cluster a folder of galaxy images.",
                                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("cluster", help="extract features, cluster, export a CSV catalogue", parents=[common])
    c.add_argument("folder", type=Path, help="folder of JPEG/PNG/TIFF/FITS images (searched recursively)")
    c.add_argument("--model", choices=[AUTO, *models.names()], default=AUTO,
                   help=f"feature model (default: {AUTO}: {models.default} for colour images, {ONE_BAND_MODEL} for a "
                        "folder of single-band images)")
    c.add_argument("--method", choices=methods.names(), default=methods.default,
                   help=f"clustering method (default: {methods.default})")
    c.add_argument("--clusters", type=int, default=2, help="number of clusters (default: 2)")
    c.add_argument("--crop", choices=CROP_MODES, default="fixed",
                   help="centre crop: fixed fraction, fitted to the object, or none")
    c.add_argument("--crop-fraction", type=float, default=0.5, help="side of the fixed crop as a fraction (default 0.5)")
    c.add_argument("--rotations", action="store_true", help="average features over 8 rotations/flips (8x slower)")
    c.add_argument("--projection", choices=maps.names(), default=maps.default,
                   help=f"2-D map coordinates (default: {maps.default})")
    c.add_argument("--seed", type=int, default=0, help="random seed (same seed, same clusters)")
    c.add_argument("--out", type=Path, help="catalogue file (default: clusters.csv, or clusters.fits etc. with "
                                            "--format; its sidecar <OUT>.json is written beside it)")
    c.add_argument("--format", choices=EXPORT_FORMATS.names(), default=None,
                   help=f"catalogue format (default: the one --out's extension names, else {EXPORT_FORMATS.default})")
    c.add_argument("--relative-paths", action="store_true",
                   help="paths in the CSV and sidecar relative to FOLDER (for files meant to be shared)")
    c.add_argument("--truth", type=Path, help="CSV of known labels (id first; label second or --truth-column)")
    c.add_argument("--truth-column", help="name of the label column in --truth")
    c.add_argument("--project-dir", type=Path, help="project store folder (default: FOLDER/.galaxy-sorter)")
    c.add_argument("--cpu", action="store_true", help="do not try the CUDA execution provider")
    c.add_argument("--batch-size", type=positive_int, default=16, help="images per inference batch (default 16)")
    _add_wait(c)
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--join", type=Path, metavar="CATALOGUE",
                   help="CSV catalogue to join; its columns are exported as cat_<name> and kept in the project")
    c.add_argument("--by", choices=("id", "sky"), default="id",
                   help="join key: image id (file name) against the catalogue's id column, or sky position "
                        "(FITS WCS centre) against its RA/Dec (default: id)")
    c.add_argument("--join-column", help="the catalogue's id column for --by id (default: found by name)")
    c.add_argument("--radius", default="2arcsec", help="largest separation for --by sky (default: 2arcsec)")
    d = c.add_argument_group("survey scale (Dask; see docs/survey.md)")
    d.add_argument("--workers", type=int, help="extract features on a local Dask cluster of N worker processes")
    d.add_argument("--scheduler", help="extract features on the Dask scheduler at ADDRESS (e.g. tcp://host:8786)")
    d.add_argument("--threads-per-worker", type=int, default=1, help="model threads per Dask worker (default 1)")
    d.add_argument("--partition-size", type=int, default=512, help="images per Dask task (default 512)")
    c.add_argument("--morphology", action="store_true",
                   help="also compute concentration, asymmetry, gini, m20, ellipticity and colour per image "
                        "(kept in the project store) and add them as catalogue columns")

    k = sub.add_parser("suggest-k", help="silhouette score per number of clusters, to help choose k", parents=[common])
    k.add_argument("folder", type=Path)
    k.add_argument("--model", choices=[AUTO, *models.names()], default=AUTO,
                   help=f"feature model (default: {AUTO}, as for cluster)")
    k.add_argument("--max-k", type=int, default=8)
    k.add_argument("--project-dir", type=Path)
    k.add_argument("--cpu", action="store_true")
    _add_wait(k)

    s = sub.add_parser("sample", help="write the built-in synthetic sample folder", parents=[common])
    s.add_argument("folder", type=Path, nargs="?", help="where (default: resources/sample)")
    s.add_argument("--per-class", type=int, default=30)
    r = sub.add_parser("recover", help="rescue every readable label of a damaged project database", parents=[common])
    r.add_argument("folder", type=Path, help="the image folder whose project cannot be opened")
    r.add_argument("--project-dir", type=Path, default=None, help="the project store, when not the default")
    return parser


def check_out(out: Path) -> Path:
    """Refuse an ``--out`` that cannot be written, or whose sidecar cannot be, before any work.

    The sidecar is ``<out>.json`` (:func:`core.catalog.pair.sidecar_path`).  An
    ``--out`` ending in ``.json`` is refused: that name is a sidecar's (older
    versions wrote ``x.csv``'s as ``x.json``), and a catalogue there would
    overwrite one or be read as one.  Raises :class:`UsageError`.
    """
    from core.catalog.pair import sidecar_path

    side = sidecar_path(out)
    if out.suffix.lower() == ".json":
        raise UsageError(f"--out {out}: a .json name would overwrite the catalogue's sidecar or be taken for one; "
                         f"name the catalogue .csv")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {out / 'clusters.csv'}")
    if side.is_dir():
        raise UsageError(f"--out {out}: its sidecar {side} would be written where a folder "
                         f"is; name the catalogue otherwise")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--out {out}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: the folder {parent} cannot be written; choose another place")
    for existing in (out, side):
        if existing.exists() and not os.access(existing, os.W_OK):
            raise UsageError(f"--out {out}: {existing} exists and cannot be overwritten; choose another name")
    return out


def _check_folder(folder: Path) -> None:
    """Refuse a missing or unreadable image folder, naming it (not the store inside it)."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as exc:
        raise UsageError(f"the image folder {folder} cannot be read ({exc.strerror}); "
                         f"check its permissions (chmod u+rx)") from None


def _check_count(args: argparse.Namespace) -> list[Path]:
    """Refuse, before any image is read, a folder with too few images for the method and k asked.

    A missing model file is said first (it is the thing to fix whatever the folder
    holds); the count is of image files found, so only a folder that could never
    be enough is refused here (DBSCAN's five, k+1); the pipeline checks the
    readable ones again.  Returns the image files found.
    """
    from core.images.io import scan_images
    from core.paths import model_file
    from core.pipeline import checked_n_clusters

    for name in (FEATURE_MODELS.default, ONE_BAND_MODEL) if args.model == AUTO else (args.model,):
        model_file(name)  # under auto the folder picks one of two: both must be built
    found = scan_images(args.folder)[0]
    if not found:
        raise UsageError(f"no JPEG, PNG, TIFF or FITS images were found in {args.folder}")
    try:
        checked_n_clusters(args.method, args.clusters, len(found))
    except ValueError as exc:
        raise UsageError(str(exc).replace("readable image", "image file")) from None
    return found


def _open_store(args: argparse.Namespace):  # -> ProjectStore
    """Open the project store first: a locked or read-only project is refused before any work."""
    from core.store.database import ProjectStore
    from core.store.layout import ReadOnlyStore, default_store_dir
    from core.store.lock import lock_wait

    with lock_wait(args.wait, lambda line: _say(line, file=sys.stderr)):
        store = ProjectStore(args.project_dir or default_store_dir(args.folder), root=args.folder)
    if store.read_only:
        store.close()
        raise ReadOnlyStore(f"the project store {store.folder} cannot be written (its labels stay as they are); "
                            f"pass --project-dir DIR to keep this run's store elsewhere")
    return store


def _dask_spec(args: argparse.Namespace):  # -> DaskSpec | None
    """The Dask run asked for by ``--workers``/``--scheduler``, checked before any work; None without them."""
    if args.workers is None and args.scheduler is None:
        return None
    from core.features.distributed_spec import DaskSpec

    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--workers/--scheduler need Dask: pip install 'galaxy-sorter[survey]' "
                         "(dask[distributed])") from None
    try:
        return DaskSpec(workers=args.workers, scheduler=args.scheduler,
                        threads_per_worker=args.threads_per_worker, partition_size=args.partition_size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _cluster(args: argparse.Namespace) -> int:
    from core.catalog.truth import load_truth
    from core.clustering.methods import checked_n_clusters
    from core.clustering.metrics import evaluate
    from core.images.ids import id_spellings
    from core.pipeline import PipelineConfig, export_result, run_pipeline

    _check_folder(args.folder)
    from core.catalog.pair import catalogue_format

    try:  # --out x.fits alone writes FITS; --format fits --out x.csv is refused
        args.format = catalogue_format(args.out, args.format)
    except ValueError as exc:
        raise UsageError(f"--out {args.out}: {exc}, or leave out --format") from None
    if args.out is None:
        args.out = Path("clusters" + (EXPORT_FORMATS.get(args.format).options.suffix or ".csv"))
    check_out(args.out)
    checked_n_clusters(args.method, args.clusters, sys.maxsize)
    truth = load_truth(args.truth, args.truth_column) if args.truth else None
    from core.cli_join import check_join, join_result

    plan = check_join(args, _check_count(args))
    dask = _dask_spec(args)
    store = _open_store(args)
    config = PipelineConfig(model=args.model, method=args.method, n_clusters=args.clusters,
                            projection=args.projection, seed=args.seed, batch_size=args.batch_size,
                            use_gpu=not args.cpu,
                            prep=Preprocessing(args.crop, args.crop_fraction, args.rotations))
    result = run_pipeline(args.folder, config, store=store, progress=None if args.quiet else ProgressBar(), dask=dask)
    if dask is not None:
        _say(f"features computed on a {dask.describe()}")
    if args.morphology:
        from core.features.morphology import compute_morphology

        compute_morphology(store, result.paths, progress=None if args.quiet else ProgressBar(), prep=config.prep)
    columns, join = None, None
    if args.join:
        columns, join, said = join_result(args, store, [str(p) for p in result.paths], plan)
        _say(said)
    csv_path, sidecar = export_result(result, config, args.out, args.format, relative=args.relative_paths,
                                      columns=columns, join=join)
    device = "CUDA" if result.provider == "CUDAExecutionProvider" else "CPU"
    _say(f"{len(result.paths)} images clustered with {args.method} on {result.model} features "
          f"(inference on {device}) in {result.timings['total']:.1f} s")
    _say("cluster sizes: " + ", ".join(f"{c}: {n}" for c, n in result.clusters.sizes.items()))
    used_k = result.clusters.params.get("n_clusters", args.clusters)
    if CLUSTER_METHODS.get(args.method).options.uses_k and used_k != args.clusters:
        _say(f"note: {used_k} clusters used, not the {args.clusters} asked for (recorded in the sidecar)")
    for note in (result.model_note, result.start_note):
        if note:
            _say(f"note: {note}")
    for w in result.clusters.warnings:
        _say(f"warning: {w}")
    if result.skipped:
        _say(f"{len(result.skipped)} file(s) skipped:")
        for s in result.skipped:
            _say(f"  {s.path}: {s.reason}")
    _say(f"wrote {csv_path} and {sidecar}")
    if truth is not None:
        from core.catalog.truth import match_truth

        ids, aliases = id_spellings(result.paths)
        known = match_truth(truth, ids, aliases)  # an id written g0.png is image g0's; ngc0_i is band set ngc0's
        pairs = [(known[i], str(c)) for i, c in zip(ids, result.clusters.labels) if i in known]
        if not pairs:
            _say("no image in the folder has a label in the truth file")
            return 1
        scores = evaluate([t for t, _ in pairs], [c for _, c in pairs])
        _say(f"against {args.truth.name} ({scores['n']} labelled images): "
              f"ACC {scores['acc']:.3f}  balanced ACC {scores['balanced_acc']:.3f}  "
              f"ARI {scores['ari']:.3f}  NMI {scores['nmi']:.3f}  AMI {scores['ami']:.3f}  purity {scores['purity']:.3f}")
    return 0


def _suggest_k(args: argparse.Namespace) -> int:
    from core.clustering.methods import suggest_n_clusters
    from core.features.bands import choose_model
    from core.features.extract import extract_features, load_model
    from core.images.io import scan_folder
    _check_folder(args.folder)
    if args.max_k < 2:
        raise UsageError(f"--max-k must be at least 2 (got {args.max_k})")
    paths = scan_folder(args.folder)
    if len(paths) < 3:  # a silhouette needs two clusters and more images than clusters
        raise UsageError(f"suggest-k needs at least 3 images and {args.folder} has {len(paths)}")
    store = _open_store(args)
    model, note = choose_model(args.model, paths)
    if note:
        _say(f"note: {note}")
    res = extract_features(paths, load_model(model, use_gpu=not args.cpu),
                           cache=store.features, progress=ProgressBar())
    if len(res.features) < 3:
        raise UsageError(f"suggest-k needs at least 3 readable images; {len(res.features)} of {len(paths)} "
                         f"in {args.folder} could be read")
    scores = suggest_n_clusters(res.features, range(2, args.max_k + 1))
    best = max(scores, key=scores.get)
    for k, s in scores.items():
        _say(f"k={k}: silhouette {s:.3f}{'  <- highest' if k == best else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``galaxy-sorter-cli``; returns the exit status."""
    from core.paths import sample_dir

    args = _parser().parse_args(argv)
    try:
        code = 1
        if args.command == "cluster":
            code = _cluster(args)
        elif args.command == "suggest-k":
            code = _suggest_k(args)
        elif args.command == "recover":
            from core.store.layout import default_store_dir
            from core.store.recovery import recover_project

            report = recover_project(args.project_dir or default_store_dir(args.folder), root=args.folder)
            print(f"{args.folder}: {report.summary()}")
            code = 0
        elif args.command == "sample":
            from core.images.sample import make_sample

            folder = make_sample(args.folder or sample_dir(), per_class=args.per_class)
            _say(f"wrote the synthetic sample to {folder}")
            code = 0
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not in Python's exit flush
        return code
    except KeyboardInterrupt:
        _say("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The program reading our output (``| head``) ended: not the store's fault, nothing to undo.
        # Point stdout at /dev/null so Python's exit flush does not fail a second time.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout without a descriptor (a test's capture)
            pass
        _say("error: the output was closed by the program reading it (a pipe); what was written to the "
             "project and the catalogue is intact", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        message, code = error_line(exc, args)
        _say(f"error: {message}", file=sys.stderr)
        return code


def error_line(exc: BaseException, args: argparse.Namespace | None = None) -> tuple[str, int]:
    """One line for the user about ``exc`` (what and where, and what to do) and the exit status.

    Expected failures (bad arguments, missing or unreadable files, a full disk,
    a damaged, newer, locked or read-only store) get status 2; anything else is
    a bug, reported in one line with status 1 (``--debug`` shows the traceback).
    """
    from core.store.layout import ProjectLocked, StoreError

    store_dir = getattr(args, "project_dir", None) or (Path(args.folder) / ".galaxy-sorter"
                                                       if getattr(args, "folder", None) else None)
    if isinstance(exc, ProjectLocked):
        return f"{exc}; or pass --wait [SECONDS] to wait for it", 2
    if isinstance(exc, StoreError):
        return str(exc), 2
    # By SQLite's result code (Python 3.11+), not by the message's words; 3.10 has only the words.
    code = getattr(exc, "sqlite_errorcode", None)
    code = None if code is None else code & 0xFF  # the extended code's primary part (SQLITE_BUSY_SNAPSHOT -> BUSY)
    full = code == sqlite3.SQLITE_FULL if code is not None else "full" in str(exc)
    busy = code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) if code is not None else "locked" in str(exc)
    if isinstance(exc, sqlite3.OperationalError) and full:
        return (f"the disk is full (writing the project store {store_dir}); free some space and run again: "
                f"what was saved so far is intact"), 2
    if isinstance(exc, sqlite3.OperationalError) and busy:
        return f"the project store {store_dir} is busy in another program; close it and run again", 2
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"the project store {store_dir} is damaged or not a Galaxy Sorter store ({exc}); "
                f"'galaxy-sorter-cli recover {getattr(args, 'folder', None) or 'FOLDER'}' rescues every label "
                f"that can still be read (do not delete it: it holds your labels)"), 2
    if isinstance(exc, OSError) and exc.errno is not None:
        where = exc.filename or store_dir or "?"
        if exc.errno == errno.ENOSPC:
            return (f"the disk is full (writing {where}); free some space and run again: "
                    f"what was saved so far is intact"), 2
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"permission denied: {where} ({exc.strerror}); check the folder's permissions", 2
        return f"{exc.strerror}: {where}", 2
    if isinstance(exc, (OSError, ValueError)):  # our own messages (missing model files, usage, truth files)
        return str(exc), 2
    return (f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback, "
            f"and please report it)"), 1


if __name__ == "__main__":
    raise SystemExit(main())
