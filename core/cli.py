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
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.cluster import METHODS
from core.features import DEFAULT_MODEL, MODELS
from core.preprocess import CROP_MODES, Preprocessing
from core.projection import PROJECTIONS


class ProgressBar:
    """A text progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_decile = -1
        self.last_draw = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and fraction < 1.0:
                return
            self.last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {fraction:6.1%} {message[:60]:<60}")
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            decile = int(fraction * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(f"{fraction:6.1%} {message}\n")
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="galaxy-sorter-cli", description="Cluster a folder of galaxy images.")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("cluster", help="extract features, cluster, export a CSV catalogue")
    c.add_argument("folder", type=Path, help="folder of JPEG/PNG/TIFF/FITS images (searched recursively)")
    c.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL, help=f"feature model (default: {DEFAULT_MODEL})")
    c.add_argument("--method", choices=METHODS, default="dec", help="clustering method (default: dec)")
    c.add_argument("--clusters", type=int, default=2, help="number of clusters (default: 2)")
    c.add_argument("--crop", choices=CROP_MODES, default="fixed",
                   help="centre crop: fixed fraction, fitted to the object, or none")
    c.add_argument("--crop-fraction", type=float, default=0.5, help="side of the fixed crop as a fraction (default 0.5)")
    c.add_argument("--rotations", action="store_true", help="average features over 8 rotations/flips (8x slower)")
    c.add_argument("--projection", choices=PROJECTIONS, default="pca", help="2-D map coordinates (default: pca)")
    c.add_argument("--seed", type=int, default=0, help="random seed (same seed, same clusters)")
    c.add_argument("--out", type=Path, default=Path("clusters.csv"), help="catalogue CSV (a .json sidecar is written beside it)")
    c.add_argument("--truth", type=Path, help="CSV of known labels (id first; label second or --truth-column)")
    c.add_argument("--truth-column", help="name of the label column in --truth")
    c.add_argument("--project-dir", type=Path, help="project store folder (default: FOLDER/.galaxy-sorter)")
    c.add_argument("--cpu", action="store_true", help="do not try the CUDA execution provider")
    c.add_argument("--batch-size", type=int, default=16)
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    k = sub.add_parser("suggest-k", help="silhouette score per number of clusters, to help choose k")
    k.add_argument("folder", type=Path)
    k.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    k.add_argument("--max-k", type=int, default=8)
    k.add_argument("--project-dir", type=Path)
    k.add_argument("--cpu", action="store_true")

    s = sub.add_parser("sample", help="write the built-in synthetic sample folder")
    s.add_argument("folder", type=Path, nargs="?", help="where (default: resources/sample)")
    s.add_argument("--per-class", type=int, default=30)
    return parser


def _cluster(args: argparse.Namespace) -> int:
    from core.images import image_id
    from core.metrics import evaluate
    from core.pipeline import PipelineConfig, export_result, run_pipeline
    from core.truth import load_truth

    truth = load_truth(args.truth, args.truth_column) if args.truth else None
    config = PipelineConfig(model=args.model, method=args.method, n_clusters=args.clusters,
                            projection=args.projection, seed=args.seed, batch_size=args.batch_size,
                            use_gpu=not args.cpu,
                            prep=Preprocessing(args.crop, args.crop_fraction, args.rotations))
    result = run_pipeline(args.folder, config, store_dir=args.project_dir,
                          progress=None if args.quiet else ProgressBar())
    csv_path, sidecar = export_result(result, config, args.out)
    device = "CUDA" if result.provider == "CUDAExecutionProvider" else "CPU"
    print(f"{len(result.paths)} images clustered with {args.method} on {args.model} features "
          f"(inference on {device}) in {result.timings['total']:.1f} s")
    print("cluster sizes: " + ", ".join(f"{c}: {n}" for c, n in result.clusters.sizes.items()))
    for w in result.clusters.warnings:
        print(f"warning: {w}")
    if result.skipped:
        print(f"{len(result.skipped)} file(s) skipped:")
        for s in result.skipped:
            print(f"  {s.path}: {s.reason}")
    print(f"wrote {csv_path} and {sidecar}")
    if truth is not None:
        pairs = [(truth[image_id(p)], str(c)) for p, c in zip(result.paths, result.clusters.labels)
                 if image_id(p) in truth]
        if not pairs:
            print("no image in the folder has a label in the truth file")
            return 1
        scores = evaluate([t for t, _ in pairs], [c for _, c in pairs])
        print(f"against {args.truth.name} ({scores['n']} labelled images): "
              f"ACC {scores['acc']:.3f}  balanced ACC {scores['balanced_acc']:.3f}  "
              f"ARI {scores['ari']:.3f}  NMI {scores['nmi']:.3f}  AMI {scores['ami']:.3f}  purity {scores['purity']:.3f}")
    return 0


def _suggest_k(args: argparse.Namespace) -> int:
    from core.cluster import suggest_n_clusters
    from core.features import FeatureModel, extract_features
    from core.images import scan_folder
    from core.store import ProjectStore, default_store_dir

    store = ProjectStore(args.project_dir or default_store_dir(args.folder))
    res = extract_features(scan_folder(args.folder), FeatureModel(args.model, use_gpu=not args.cpu),
                           cache=store.features, progress=ProgressBar())
    scores = suggest_n_clusters(res.features, range(2, args.max_k + 1))
    best = max(scores, key=scores.get)
    for k, s in scores.items():
        print(f"k={k}: silhouette {s:.3f}{'  <- highest' if k == best else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``galaxy-sorter-cli``; returns the exit status."""
    from core.paths import ModelFileMissing, sample_dir

    args = _parser().parse_args(argv)
    try:
        if args.command == "cluster":
            return _cluster(args)
        if args.command == "suggest-k":
            return _suggest_k(args)
        if args.command == "sample":
            from core.sample import make_sample

            folder = make_sample(args.folder or sample_dir(), per_class=args.per_class)
            print(f"wrote the synthetic sample to {folder}")
            return 0
    except (ModelFileMissing, FileNotFoundError, NotADirectoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
