"""A whole cluster of real files labelled at once: the labelling thread's time, and the content fingerprints' after.

One command::

    .venv/bin/python benchmarks/label_content.py [--n 6000] [--size 256] [--folder DIR]

Writes N synthetic galaxies (``core.images.sample``, PNG of ``--size`` px) into
``--folder`` once (default ``.cache/benchmarks/label-content-<N>-<size>``),
clusters them once (EfficientNet-Lite0 features, k-means, k=4: the feature
cache then holds every file's verified fingerprint).  Each run clears the labels
and the recorded contents, then labels the largest cluster with one
:meth:`core.project.Project.set_labels` (what one key does on a whole-cluster
selection) twice: with the files as the clustering saw them, and after every
file's change time moved (``os.utime`` to the same times: the cache no longer
vouches for them, so each is read and hashed).  It prints the labelling
thread's wall and CPU time, then how long the content recorder
(:mod:`core.store.content`) took on its own thread and how many fingerprints
came from the cache or were hashed.  On code before the recorder the
fingerprints are taken inside the label's write, on the labelling thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.images.sample import make_sample  # noqa: E402
from core.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from core.project import Project  # noqa: E402


def build(folder: Path, n: int, size: int) -> None:
    """The folder of ``n`` galaxies and its clustering, once."""
    if (folder / ".galaxy-sorter" / "project.sqlite").is_file():
        return
    make_sample(folder, per_class=n // 3, size=size, seed=5)
    t = time.perf_counter()
    run_pipeline(folder, PipelineConfig(model="efficientnet_lite0", method="kmeans", n_clusters=4, use_gpu=False))
    print(f"built {n} galaxies of {size} px in {time.perf_counter() - t:.0f} s")


def label_once(folder: Path, what: str) -> None:
    """Label the largest cluster at once; print the labelling thread's time and the recorder's."""
    p = Project.open(folder)
    recorder = getattr(p.store, "contents", None)
    if recorder is not None:
        recorder.wait()
    p.store.set_labels(p.db_ids, None)
    with p.store.db:
        p.store.db.execute("UPDATE images SET content=NULL")
    p.close()
    p = Project.open(folder)
    recorder = getattr(p.store, "contents", None)
    biggest = np.bincount(p.clusters).argmax()
    rows = np.flatnonzero(p.clusters == biggest)
    mb = sum(os.path.getsize(p.paths[r]) for r in rows) / 1e6
    wall, cpu = time.perf_counter(), time.thread_time()
    p.set_labels(rows, "spiral")
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    line = f"{what}: {len(rows)} files ({mb:.0f} MB) labelled at once: labelling thread {1e3 * wall:.0f} ms wall, " \
           f"{1e3 * cpu:.0f} ms CPU"
    if recorder is not None:
        t = time.perf_counter()
        recorder.wait()
        line += (f"; recorder {1e3 * (time.perf_counter() - t):.0f} ms more on its thread "
                 f"({recorder.from_cache} from the cache, {recorder.hashed} hashed)")
    recorded = p.store.db.execute("SELECT COUNT(*) FROM images WHERE content IS NOT NULL").fetchone()[0]
    print(f"{line}; {recorded} contents recorded")
    p.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--folder", type=Path)
    args = ap.parse_args()
    folder = args.folder or ROOT / ".cache" / "benchmarks" / f"label-content-{args.n}-{args.size}"
    build(folder, args.n, args.size)
    label_once(folder, "files as clustered")
    for path in folder.glob("*.png"):
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same times: only the change time moves
    label_once(folder, "files touched since")


if __name__ == "__main__":
    main()
