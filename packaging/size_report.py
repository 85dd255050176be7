"""Print what a packaged app is made of: ``python packaging/size_report.py dist/galaxy-sorter [OTHER]``.

Sizes are the files' own sizes (symbolic links are not counted, hard links once),
in MB (10^6 bytes), grouped by component; with a second folder (e.g. an older
build) a column for it and the difference. The ten largest files follow. The
README's packaging table comes from this command.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

#: Component -> the top-level names inside ``_internal/`` that make it up (a name ending in ``*``
#: is a prefix).  Everything else at the top level is "other Python packages" or, for shared
#: libraries, "system libraries" (Qt's X11/GTK/ICU dependencies, OpenSSL, libstdc++...).
COMPONENTS: dict[str, tuple[str, ...]] = {
    "torch (CPU)": ("torch", "torchgen", "functorch"),
    "onnxruntime-gpu": ("onnxruntime", "libcudart.so*"),
    "opencv": ("cv2", "opencv_python_headless.libs"),  # out since issue 22; kept to compare with older builds
    "Pillow": ("PIL", "pillow.libs"),  # pypng and tifffile are pure Python, in the archive
    "PySide6 / Qt": ("PySide6", "shiboken6", "libpyside6*", "libshiboken6*"),
    "models (ONNX)": ("models",),
    "scipy": ("scipy", "scipy.libs"),
    "numpy": ("numpy", "numpy.libs"),
    "scikit-learn": ("sklearn", "scikit_learn.libs"),
    "astropy": ("astropy", "astropy_iers_data", "erfa"),
    "openTSNE": ("openTSNE", "opentsne.libs"),
    "Python runtime": ("libpython3*", "base_library.zip", "python3*"),
    "sample and resources": ("resources",),
}


def _files(folder: Path):
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            st = p.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            yield p, st.st_size


def _component(rel: Path) -> str:
    if len(rel.parts) == 1:
        return "executables and launchers"
    top = rel.parts[1]
    for comp, names in COMPONENTS.items():
        if any(top == n or (n.endswith("*") and top.startswith(n[:-1])) for n in names):
            return comp
    if ".so" in top:
        return "system libraries"
    return "other Python packages"


def breakdown(dist: Path) -> tuple[Counter, list[tuple[int, str]]]:
    """Bytes per component of a one-folder build, and every file's (size, path) largest first.

    Parameters
    ----------
    dist : Path
        The build folder (``dist/galaxy-sorter``), holding the executables and ``_internal/``.

    Returns
    -------
    sizes : Counter
        Component name -> bytes.
    files : list of (int, str)
        Sizes and paths relative to ``dist``, largest first.
    """
    sizes: Counter = Counter()
    files = []
    for p, size in _files(dist):
        rel = p.relative_to(dist)
        sizes[_component(rel)] += size
        files.append((size, str(rel)))
    files.sort(reverse=True)
    return sizes, files


def main(argv: list[str] | None = None) -> int:
    """Print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path, help="the build folder, e.g. dist/galaxy-sorter")
    parser.add_argument("other", type=Path, nargs="?", help="a second build folder to compare with")
    args = parser.parse_args(argv)
    sizes, files = breakdown(args.dist)
    other = breakdown(args.other)[0] if args.other else None
    mb = 1e6
    head = f"{'component':28s} {'MB':>8s}"
    if other is not None:
        head += f" {'other MB':>9s} {'change':>8s}"
    print(head)
    for comp in sorted(set(sizes) | set(other or ()), key=lambda c: -sizes.get(c, 0)):
        line = f"{comp:28s} {sizes.get(comp, 0) / mb:8.1f}"
        if other is not None:
            line += f" {other.get(comp, 0) / mb:9.1f} {(sizes.get(comp, 0) - other.get(comp, 0)) / mb:+8.1f}"
        print(line)
    total = sum(sizes.values())
    line = f"{'total':28s} {total / mb:8.1f}"
    if other is not None:
        o = sum(other.values())
        line += f" {o / mb:9.1f} {(total - o) / mb:+8.1f}"
    print(line + f"   ({total / 2**30:.2f} GiB)")
    print("\nlargest files:")
    for size, rel in files[:10]:
        print(f"  {size / mb:8.1f}  {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
