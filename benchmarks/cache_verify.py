"""What verifying the feature cache costs when a project is reopened.

One command::

    .venv/bin/python benchmarks/cache_verify.py [--limit 6507] [--dim 1280]

Stores one random row per image of the Kaggle Galaxy Zoo folder in a fresh
cache (in a temporary folder), then times :meth:`FeatureCache.lookup` over
every image: once as after copying the folder (every content fingerprint
read), once as on a plain reopen (change times unchanged, so only stat,
CRC-32 and finite values per row), against a stat-only pass over the same
files, the check the cache made before issue 14, for the ratio.  Synthetic 20 KB files stand in
when ../shared is absent.  The page cache is warm (the files were just read),
as on a reopen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store.cache import FeatureCache  # noqa: E402

KAGGLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "galaxy-zoo-kaggle" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6507)
    parser.add_argument("--dim", type=int, default=1280)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if KAGGLE.is_dir():
            paths = sorted(KAGGLE.glob("*.jpg"))[: args.limit]
            source = f"{len(paths)} Kaggle Galaxy Zoo JPEGs"
        else:
            rng = np.random.default_rng(0)
            paths = []
            for i in range(args.limit):
                p = Path(tmp) / f"f{i}.jpg"
                p.write_bytes(rng.bytes(20_000))
                paths.append(p)
            source = f"{len(paths)} synthetic 20 KB files (../shared absent)"
        cache = FeatureCache(Path(tmp) / "cache")
        rows = np.random.default_rng(1).normal(size=(len(paths), args.dim)).astype(np.float32)
        for i in range(0, len(paths), 256):
            cache.store("bench", paths[i : i + 256], rows[i : i + 256])
        cache.lookup("bench", paths)  # warm-up (page cache)
        with cache._db:  # as after copying the folder: every change time differs, every fingerprint is read
            cache._db.execute("UPDATE rows SET ctime_ns=0")
        t = time.perf_counter()
        got = cache.lookup("bench", paths)
        full = time.perf_counter() - t
        assert len(got) == len(paths)
        t = time.perf_counter()
        got = cache.lookup("bench", paths)
        reopen = time.perf_counter() - t
        assert len(got) == len(paths)
        t = time.perf_counter()
        for p in paths:
            p.stat()
        stat_only = time.perf_counter() - t
        cache.close()
    print(f"{source}, {args.dim}-d rows")
    for what, sec in [("first open after a copy (fingerprints read)", full), ("reopen (change times unchanged)", reopen),
                      ("stat-only pass (the check before issue 14)", stat_only)]:
        print(f"{what:<45} {sec:7.3f} s  {1e6 * sec / len(paths):6.0f} us/image  "
              f"{sec / stat_only:5.1f}x stat-only  ~{60000 * sec / len(paths):5.1f} s at 60,000 images")


if __name__ == "__main__":
    main()
