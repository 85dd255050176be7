"""Throughput of the morphology parameters (core/features/morphology.py) on real images.

One command::

    .venv/bin/python benchmarks/morphology_speed.py [--data FOLDER] [--n 300] [--size 128]

Prints images/second for decoding alone, for decoding plus the parameters
(fixed 0.5 crop binned to ``--size`` px) and for the parameters alone (the
difference), from the same run; then :func:`core.features.morphology.compute_morphology`
(threads, stored in a temporary project store), as the app and the CLI run it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.evaluate import DATA, find_images  # noqa: E402
from core.features.morphology import morphology_table  # noqa: E402
from core.images.io import read_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"data not found at {args.data}", file=sys.stderr)
        return 2
    paths = find_images(args.data)[: args.n]
    t = time.perf_counter()
    for p in paths:
        read_image(p)
    decode = time.perf_counter() - t
    res = morphology_table(paths, size=args.size)
    print(f"{len(paths)} images from {args.data}")
    print(f"decode only:            {len(paths) / decode:.1f} img/s")
    print(f"decode + morphology:    {len(res.paths) / res.seconds:.1f} img/s "
          f"(binned to <= {args.size} px; {res.seconds / decode:.2f}x the decode time)")
    alone = res.seconds - decode * len(res.paths) / len(paths)
    print(f"morphology alone:       {len(res.paths) / alone:.1f} img/s (the difference of the two)")
    import tempfile

    from core.features.morphology import compute_morphology
    from core.store.database import ProjectStore

    with tempfile.TemporaryDirectory() as tmp:
        store = ProjectStore(Path(tmp) / "store", root=args.data)
        try:
            store.add_images(paths)
            done = compute_morphology(store, paths, size=args.size)
        finally:
            store.close()
    print(f"compute_morphology:     {done['computed'] / done['seconds']:.1f} img/s "
          f"(decode + morphology on threads, kept in the store: what the app and the CLI run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
