"""int8 against fp32 feature models: speed, linear probe and clustering, in one run.

One command::

    .venv/bin/python benchmarks/int8.py [--images N] [--sets kaggle,sdss,hsc]
        [--models xception] [--extra xception=PATH,...]

For each model it loads ``models/<name>.onnx`` (fp32) and ``models/<name>_int8.onnx``
(``models/export_int8.py``; ``--extra NAME=PATH`` adds other int8 files, e.g. one
calibrated on Kaggle images, to the same table) and measures, on images the
calibration never saw:

* **images/s, inference only**: ``session.run`` on batches prepared beforehand;
  the variants take turns batch by batch, so load from other jobs on the CPU
  hits them alike.
* **images/s, end to end**: :func:`core.features.extract.extract_features` (decode,
  crop, inference; no cache) on the first ``--e2e`` images of the first set.
* **linear probe**: logistic regression on standardised features
  (``benchmarks/evaluate.py``'s reference), 5-fold stratified cross-validated
  predictions with a fixed seed: ACC and balanced ACC.
* **k-means** (``core.clustering.methods``; k=3 on Kaggle, k=2 on GALAXY CRUISE): ACC under
  optimal matching, balanced ACC, ARI, NMI (``core.clustering.metrics``).
* the mean cosine similarity of each image's int8 and fp32 features.

Sets (``--images`` each, the same number per class where the data allow, seeded):
``kaggle`` is the Galaxy Zoo test split of ``models/train_galaxy_net.py``
(elliptical / spiral / other); ``sdss`` and ``hsc`` are the GALAXY CRUISE renders
(spiral / non-spiral).  A set whose folder is missing is skipped with a line.

Printed: one Markdown table per model (a row per variant and set), the int8/fp32
speed ratios and score differences in points, and the verdict: an int8 variant
is "within 1 point" when no score, averaged over the sets, is more than one
point below fp32's.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evaluate import kaggle_split, supervised_probe  # noqa: E402
from core.clustering.methods import cluster_features  # noqa: E402
from core.clustering.metrics import evaluate  # noqa: E402
from core.features.extract import FeatureModel, extract_features  # noqa: E402
from core.images.io import read_image  # noqa: E402
from core.images.preprocess import Preprocessing  # noqa: E402
from core.paths import models_dir  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
KAGGLE = SHARED / "galaxy-zoo-kaggle"
GC1 = SHARED / "galaxy-cruise-gc1"
SCORES = ("probe_acc", "probe_bacc", "km_acc", "km_bacc", "ari", "nmi")
BATCH = 16


@dataclass
class EvalSet:
    """Labelled images of one held-out set."""

    name: str
    paths: list[Path]
    labels: np.ndarray
    k: int


@dataclass
class Variant:
    """One model file under test, with what was measured on it."""

    label: str
    model: FeatureModel
    seconds: float = 0.0
    images: int = 0
    features: dict[str, np.ndarray] = field(default_factory=dict)
    e2e: float = float("nan")


def _balanced_draw(ids: list[str], labels: list[str], n: int, seed: int) -> tuple[list[str], list[str]]:
    """Up to ``n`` ids, the same number per class where each class has enough, seeded."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    per_class = n // len(classes)
    chosen: list[int] = []
    for c in classes:
        idx = [i for i, lab in enumerate(labels) if lab == c]
        chosen += sorted(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    chosen.sort()
    return [ids[i] for i in chosen], [labels[i] for i in chosen]


def load_sets(names: list[str], n: int, seed: int = 0) -> list[EvalSet]:
    """The held-out sets asked for that exist on this machine."""
    out = []
    for name in names:
        if name == "kaggle":
            csv_path, folder, id_col, k = KAGGLE / "labels.csv", KAGGLE / "images", "GalaxyID", 3
        elif name in ("sdss", "hsc"):
            csv_path, folder, id_col, k = GC1 / "labels.csv", GC1 / name, "object_id", 2
        else:
            raise ValueError(f"unknown set {name!r}: choose kaggle, sdss, hsc")
        if not csv_path.is_file() or not folder.is_dir():
            print(f"set {name}: {folder} not found, skipped")
            continue
        with open(csv_path, newline="") as fh:
            rows = [(r[id_col], r["morphology"]) for r in csv.DictReader(fh) if r["morphology"]]
        rows = [(i, m) for i, m in rows if (folder / f"{i}.jpg").is_file()]
        if name == "kaggle":
            rows = [r for r, s in zip(rows, kaggle_split([i for i, _ in rows])) if s == "test"]
        ids, labels = _balanced_draw([i for i, _ in rows], [m for _, m in rows], n, seed)
        out.append(EvalSet(name, [folder / f"{i}.jpg" for i in ids], np.asarray(labels), k))
    return out


def prepared_batches(model: FeatureModel, paths: list[Path], batch: int = BATCH) -> list[np.ndarray]:
    """NCHW float32 batches of ``paths``, prepared as the app prepares them."""
    from core.images.preprocess import to_model_input

    prep = Preprocessing()
    squares = [model.prepare(read_image(p), prep)[0] for p in paths]
    return [to_model_input(squares[i:i + batch], model.scale, model.offset) for i in range(0, len(squares), batch)]


def scores(X: np.ndarray, y: np.ndarray, k: int) -> dict[str, float]:
    """Linear-probe and k-means scores of features ``X`` against labels ``y``, in points (x100)."""
    acc, bacc = supervised_probe(X, y)
    km = evaluate(y, cluster_features(X, "kmeans", k, random_state=0).labels)
    return {"probe_acc": 100 * acc, "probe_bacc": 100 * bacc, "km_acc": 100 * km["acc"],
            "km_bacc": 100 * km["balanced_acc"], "ari": 100 * km["ari"], "nmi": 100 * km["nmi"]}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the cosine similarity of ``a`` and ``b``."""
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12
    return float((num / den).mean())


def bench_model(name: str, extra: list[tuple[str, Path]], sets: list[EvalSet], e2e_images: int) -> bool | None:
    """Print the table of one model; return whether every int8 variant is within 1 point (None: no int8)."""
    files = [("fp32", models_dir() / f"{name}.onnx"), ("int8", models_dir() / f"{name}_int8.onnx"), *extra]
    variants = []
    for label, path in files:
        if not path.is_file():
            print(f"{name} {label}: {path} not found, skipped")
            continue
        variants.append(Variant(label, FeatureModel(name, use_gpu=False, path=path)))
    if len(variants) < 2 or variants[0].label != "fp32":
        print(f"{name}: needs the fp32 file and at least one int8 file")
        return None
    dev = variants[0].model.device
    for s in sets:
        batches = prepared_batches(variants[0].model, s.paths)
        outs: dict[str, list[np.ndarray]] = {v.label: [] for v in variants}
        for b in batches:  # the variants take turns, batch by batch
            for v in variants:
                t0 = time.perf_counter()
                outs[v.label].append(v.model.session.run(None, {v.model.input_name: b})[0])
                v.seconds += time.perf_counter() - t0
                v.images += len(b)
        for v in variants:
            v.features[s.name] = np.concatenate(outs[v.label]).astype(np.float32)
    if sets and e2e_images:
        for v in variants:
            paths = sets[0].paths[:e2e_images]
            t0 = time.perf_counter()
            extract_features(paths, v.model, Preprocessing(), cache=None, batch_size=BATCH)
            v.e2e = len(paths) / (time.perf_counter() - t0)

    print(f"\n### {name} ({dev}, {os.cpu_count()} CPUs)\n")
    print("| variant | set | n | img/s inference | img/s end to end | cos to fp32 | probe ACC | probe bal. ACC "
          "| k-means ACC | k-means bal. ACC | ARI | NMI |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    table: dict[str, dict[str, dict[str, float]]] = {}
    for v in variants:
        ips = v.images / v.seconds if v.seconds else float("nan")
        table[v.label] = {}
        for s in sets:
            sc = scores(v.features[s.name], s.labels, s.k)
            table[v.label][s.name] = sc
            cos = cosine(v.features[s.name], variants[0].features[s.name])
            print(f"| {v.label} | {s.name} (k={s.k}) | {len(s.paths)} | {ips:.1f} | {v.e2e:.1f} | {cos:.4f} | "
                  + " | ".join(f"{sc[c]:.1f}" for c in SCORES) + " |")
    base = variants[0]
    all_ok = True
    for v in variants[1:]:
        speed = (v.images / v.seconds) / (base.images / base.seconds)
        diffs = {c: float(np.mean([table[v.label][s.name][c] - table["fp32"][s.name][c] for s in sets]))
                 for c in SCORES}
        ok = all(d >= -1.0 for d in diffs.values())
        all_ok &= ok
        print(f"\n{name} {v.label}/fp32: inference {speed:.2f}x, end to end {v.e2e / base.e2e:.2f}x; "
              "score difference, points, mean over sets: "
              + ", ".join(f"{c} {d:+.1f}" for c, d in diffs.items())
              + f" -> {'within 1 point' if ok else 'NOT within 1 point'}")
        for s in sets:
            print(f"    {s.name}: " + ", ".join(
                f"{c} {table[v.label][s.name][c] - table['fp32'][s.name][c]:+.1f}" for c in SCORES))
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240, help="images per set (default 240)")
    parser.add_argument("--sets", default="kaggle,sdss,hsc")
    parser.add_argument("--models", default="xception",
                        help="models with int8 files (Lite0's is not offered, docs/models.md: name it with --extra)")
    parser.add_argument("--extra", default="", help="more int8 files: NAME=PATH[,NAME=PATH...]")
    parser.add_argument("--e2e", type=int, default=96, help="images timed end to end (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    extra: dict[str, list[tuple[str, Path]]] = {}
    for item in filter(None, args.extra.split(",")):
        model, _, path = item.partition("=")
        extra.setdefault(model, []).append((f"int8 {Path(path).stem}", Path(path)))
    t0 = time.perf_counter()
    sets = load_sets(args.sets.split(","), args.images, args.seed)
    if not sets:
        print("no evaluation set found (../shared/data missing?)")
        return 1
    print(f"load: {os.getloadavg()[0]:.1f} (1-min load average at start; other jobs on the CPU slow both variants)")
    for s in sets:
        counts = dict(zip(*np.unique(s.labels, return_counts=True)))
        print(f"set {s.name}: {len(s.paths)} images " + str({str(k): int(v) for k, v in counts.items()}))
    for name in args.models.split(","):
        bench_model(name, extra.get(name, []), sets, args.e2e)
    print(f"\nwall {time.perf_counter() - t0:.0f} s; load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
