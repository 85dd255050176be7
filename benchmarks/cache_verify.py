"""What verifying the feature cache costs when a project is reopened.

One command::

    .venv/bin/python benchmarks/cache_verify.py [--limit 6507] [--dim 1280] [--synthetic-kb 2048]

Stores one random row per image of the Kaggle Galaxy Zoo folder in a fresh
cache (in a temporary folder), then times :meth:`FeatureCache.lookup` over
every image: once as after copying the folder (every content fingerprint
read), once as on a plain reopen (change times unchanged, so only stat,
CRC-32 and finite values per row), against a stat-only pass over the same
files, the check the cache made before issue 14, for the ratio.  Issue 19
made the fingerprint hash the whole file (it read only the first and last
64 KiB): the head-and-tail read and the whole-file hash are timed alone over
the same files in the same run, for that ratio.  Synthetic 20 KB files stand in
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

from core.images.io import file_fingerprint  # noqa: E402
from core.store.cache import FeatureCache  # noqa: E402


def head_tail_fingerprint(path: Path, block: int = 64 * 1024) -> str:
    """The fingerprint before issue 19: SHA-1 of the first and last 64 KiB only (for the ratio)."""
    import hashlib
    import os

    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        digest.update(fh.read(block))
        if size > block:
            fh.seek(max(block, size - block))
            digest.update(fh.read(block))
    return f"{size}:{digest.hexdigest()}"

KAGGLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "galaxy-zoo-kaggle" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6507)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--synthetic-kb", type=int, default=0,
                        help="use synthetic files of this size instead of the Kaggle JPEGs (e.g. 2048 for FITS-sized)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if KAGGLE.is_dir() and not args.synthetic_kb:
            paths = sorted(KAGGLE.glob("*.jpg"))[: args.limit]
            source = f"{len(paths)} Kaggle Galaxy Zoo JPEGs"
        else:
            rng = np.random.default_rng(0)
            paths = []
            for i in range(args.limit):
                p = Path(tmp) / f"f{i}.jpg"
                p.write_bytes(rng.bytes(1024 * (args.synthetic_kb or 20)))
                paths.append(p)
            source = f"{len(paths)} synthetic {args.synthetic_kb or 20} KB files"
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
        t = time.perf_counter()
        for p in paths:
            head_tail_fingerprint(p)
        head_tail = time.perf_counter() - t
        t = time.perf_counter()
        for p in paths:
            file_fingerprint(p)
        whole = time.perf_counter() - t
        mean_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        cache.close()
    print(f"{source} (mean {mean_kb:.0f} KiB), {args.dim}-d rows")
    for what, sec in [("first open after a copy (fingerprints read)", full), ("reopen (change times unchanged)", reopen),
                      ("stat-only pass (the check before issue 14)", stat_only),
                      ("fingerprints alone: whole file (issue 19)", whole),
                      ("fingerprints alone: head+tail 64 KiB (before)", head_tail)]:
        print(f"{what:<45} {sec:7.3f} s  {1e6 * sec / len(paths):6.0f} us/image  "
              f"{sec / stat_only:5.1f}x stat-only  ~{60000 * sec / len(paths):5.1f} s at 60,000 images")


if __name__ == "__main__":
    main()
