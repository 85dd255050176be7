"""The one place that knows where models and resources live (and how a model file is fingerprinted).

From a source checkout they are beside ``core/``; from a frozen PyInstaller
bundle they are under ``sys._MEIPASS``.  ``GALAXY_SORTER_MODELS`` overrides the
model folder (tests, alternative installs).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def root() -> Path:
    """Return the folder that holds ``models/`` and ``resources/``."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Return the folder with the ONNX model files."""
    override = os.environ.get("GALAXY_SORTER_MODELS")
    return Path(override) if override else root() / "models"


def resources_dir() -> Path:
    """Return the folder with icons, style sheets and the sample data."""
    return root() / "resources"


def sample_dir() -> Path:
    """Return the folder where the synthetic sample galaxies are generated."""
    return resources_dir() / "sample"


class ModelFileMissing(FileNotFoundError):
    """A model file has not been built yet; the message says how to build it.

    ``hint`` is what the app's error box suggests (chosen by this type, never by the message's words).
    """

    hint = "Build the model files (bash scripts/dev.sh setup), then try again."


def model_file(name: str) -> Path:
    """Return the path of ``<name>.onnx``, or raise :class:`ModelFileMissing` saying what to run."""
    if not name or Path(name).name != name or name.startswith("."):
        # A model name comes from settings a shared project folder could carry: never a path.
        raise ValueError(f"{name!r} is not a model name")
    path = models_dir() / f"{name}.onnx"
    if not path.is_file():
        raise ModelFileMissing(
            f"model file {path} is missing. Build the model files with "
            f"`bash scripts/dev.sh setup` (or `python models/build_models.py`)."
        )
    return path


def printable(text: str) -> str:
    r"""Return ``text`` with each byte the file system could not decode written as ``\xNN``.

    Python keeps such bytes of a file or folder name (a Latin-1 ``café`` on a
    UTF-8 system) as lone surrogates, which no UTF-8 writer accepts: a catalogue
    of such a folder could not be written at all.  The escape keeps the name
    readable and unambiguous, and the file valid UTF-8 for TOPCAT and friends;
    the galaxy's identity is its content, so nothing downstream depends on the
    escaped spelling.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file (model files: recorded for reproducibility)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
