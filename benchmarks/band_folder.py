"""A folder of FITS band files (``J000001_g.fits``, ``_r``, ``_i``: one galaxy each): scan and band lookups.

One command::

    .venv/bin/python benchmarks/band_folder.py [--n 5000] [--folder DIR]

Writes ``--n`` galaxies as three tiny FITS files each into ``--folder`` once
(default ``.cache/benchmarks/bands-<n>``; reused), then times, in the same run,
the scan (:func:`core.images.io.scan_images`) and the band set of every
galaxy as a read, a thumbnail or a fingerprint asks for it
(:func:`core.images.fits.band_files`), against the old way: each file's set
found by comparing its name with every name of the folder (the scan was
quadratic in the folder's files), the folder listed again for every lookup.
Both ways must give the same sets; the ratios are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.images.fits import BANDS, RACY_NS, _band_of_stem, _split_fits_name, band_files  # noqa: E402
from core.images.io import scan_images  # noqa: E402


def old_group(name: str, names: list[str]) -> list[str] | None:
    """The band set of ``name`` the old way: its name compared with every name of the folder."""
    split = _split_fits_name(name)
    parsed = None if split is None else _band_of_stem(split[0])
    if parsed is None:
        return None
    base, sep, _ = parsed
    suffix = split[1].lower()
    found: dict[str, str] = {}
    for other in names:
        if other.lower().endswith(suffix) and other[: len(base) + 1] == base + sep:
            band = other[len(base) + 1: len(other) - len(suffix)].lower()
            if band in BANDS:
                found.setdefault(band, other)
    if len(found) < 2:
        return None
    chosen = ["i", "r", "g"] if all(b in found for b in "gri") else sorted(found, key=BANDS.index, reverse=True)[:3]
    return [found[b] for b in chosen]


def write_folder(folder: Path, n: int) -> None:
    """``n`` galaxies of three 8 x 8 px FITS band files each (once; an existing folder is reused)."""
    import numpy as np
    from astropy.io import fits

    if folder.is_dir() and len(os.listdir(folder)) == 3 * n:
        return
    folder.mkdir(parents=True, exist_ok=True)
    seed = folder / "seed.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(seed, overwrite=True)
    raw = seed.read_bytes()
    seed.unlink()
    for i in range(n):
        for band in "gri":
            (folder / f"J{i:07d}_{band}.fits").write_bytes(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="galaxies (three files each; default 5,000)")
    parser.add_argument("--folder", type=Path, help="where the folder is written (and reused)")
    parser.add_argument("--lookups", type=int, default=2000, help="band lookups timed each way (default 2,000)")
    args = parser.parse_args(argv)
    folder = args.folder or ROOT / ".cache" / "benchmarks" / f"bands-{args.n}"
    write_folder(folder, args.n)
    age = (time.time_ns() - os.stat(folder).st_mtime_ns) / 1e9
    time.sleep(max(0.0, RACY_NS / 1e9 + 0.1 - age))  # just written: past the window in which a folder is listed again
    t = time.perf_counter()
    found, _ = scan_images(folder)
    scan_new = time.perf_counter() - t
    names = sorted(os.listdir(folder))
    t = time.perf_counter()
    old = [name for name in names if (group := old_group(name, names)) is None or group[0] == name]
    scan_old = time.perf_counter() - t
    assert sorted(p.name for p in found) == sorted(old), "the two ways list different galaxies"
    some = found[: args.lookups]
    band_files(some[0])  # the folder's index made once, as the first read of a session makes it
    t = time.perf_counter()
    new_sets = [band_files(p) for p in some]
    look_new = (time.perf_counter() - t) / len(some)
    t = time.perf_counter()
    old_sets = [old_group(p.name, os.listdir(p.parent)) for p in some]
    look_old = (time.perf_counter() - t) / len(some)
    assert [[q.name for q in s] for s in new_sets] == old_sets, "the two ways give different band sets"
    print(f"{args.n:,} galaxies, {3 * args.n:,} band files in one folder ({folder})")
    print(f"scan:        {scan_new:8.3f} s   old way {scan_old:8.2f} s   ratio {scan_old / scan_new:,.0f}x")
    print(f"band lookup: {look_new * 1e3:8.3f} ms  old way {look_old * 1e3:8.2f} ms  ratio {look_old / look_new:,.0f}x"
          f"  ({len(some):,} lookups)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
