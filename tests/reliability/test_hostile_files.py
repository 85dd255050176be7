"""A generated corpus of hostile files: each is named with its reason, and every good file is processed.

One CLI run over a folder that mixes good galaxies (PNG, grey, RGBA, 16-bit
TIFF, FITS, a rotated JPEG, odd but valid names) with empty, truncated,
mislabelled, tiny, blank, all-zero, all-NaN, damaged and header-only FITS,
a decompression bomb, a dangling link, a name that is not UTF-8 and a
subfolder that cannot be read.
"""

from __future__ import annotations

import csv
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from core.cli import main
from core.images.sample import render_galaxy


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _corpus(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Write the corpus; return the good files' names and bad file name -> expected words of the reason."""
    from astropy.io import fits

    rng = np.random.default_rng(7)
    folder.mkdir()
    good = []

    def galaxy(kind="spiral"):
        return cv2.cvtColor(render_galaxy(kind, 64, rng), cv2.COLOR_RGB2BGR)

    for i in range(6):
        cv2.imwrite(str(folder / f"g{i}.png"), galaxy(("spiral", "elliptical", "edge_on")[i % 3]))
        good.append(f"g{i}.png")
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(galaxy(), cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "alpha.png"), cv2.cvtColor(galaxy(), cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "deep.tiff"), galaxy()[:, :, 0].astype(np.uint16) * 257)
    fits.PrimaryHDU(galaxy()[:, :, 1].astype(np.float32)).writeto(folder / "obs.fits")
    cv2.imwrite(str(folder / "=HYPERLINK(x).png"), galaxy())
    cv2.imwrite(str(folder / "galaxie é 1.jpg"), galaxy())
    (folder / "sub").mkdir()
    cv2.imwrite(str(folder / "sub" / "deeper.png"), galaxy())
    good += ["grey.png", "alpha.png", "deep.tiff", "obs.fits", "=HYPERLINK(x).png", "galaxie é 1.jpg", "deeper.png"]

    bad = {"empty.png": "the file is empty", "text.png": "not a readable image",
           "truncated.jpg": "not a readable image", "tiny.png": "too small", "blank.png": "same value",
           "zero.fits": "same value", "nan.fits": "no finite pixel values", "broken.fits": "not a readable FITS",
           "header.fits": "no image data", "bomb.png": "not a readable image", "dangling.png": "cannot open",
           "caf\\xe9.png": "not valid UTF-8", "locked": "folder cannot be read"}
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image\n" * 20)
    ok, buf = cv2.imencode(".jpg", galaxy())
    (folder / "truncated.jpg").write_bytes(buf.tobytes()[:300])
    cv2.imwrite(str(folder / "tiny.png"), galaxy()[:4, :4])
    cv2.imwrite(str(folder / "blank.png"), np.full((64, 64, 3), 17, np.uint8))
    fits.PrimaryHDU(np.zeros((32, 32), np.float32)).writeto(folder / "zero.fits")
    fits.PrimaryHDU(np.full((32, 32), np.nan, np.float32)).writeto(folder / "nan.fits")
    (folder / "broken.fits").write_bytes(b"SIMPLE  = garbage" + bytes(range(256)) * 20)
    fits.PrimaryHDU().writeto(folder / "header.fits")
    (folder / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    os.symlink(folder / "gone.png", folder / "dangling.png")
    (folder / os.fsdecode(b"caf\xe9.png")).write_bytes((folder / "g0.png").read_bytes())
    (folder / "locked").mkdir()
    cv2.imwrite(str(folder / "locked" / "hidden.png"), galaxy())
    return good, bad


def test_hostile_corpus(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "imgs"
    good, bad = _corpus(folder)
    real_scandir = os.scandir

    def scandir(path="."):  # the tests run as root, who may read anything: refuse this one folder
        if os.fsdecode(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = tmp_path / "c.csv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3",
                 "--out", str(out), "--quiet", "--cpu"])
    text = capsys.readouterr().out
    assert code == 0, text
    reasons = {}
    for line in text.splitlines():
        if line.startswith("  ") and ": " in line:
            path, reason = line.strip().split(": ", 1)
            reasons[Path(path).name] = reason
    for name, words in bad.items():
        assert words in reasons.get(name, ""), (name, reasons.get(name))
    assert f"{len(bad)} file(s) skipped" in text
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(Path(r["path"].lstrip("'")).name for r in rows) == sorted(good)
    assert all(not r["path"].startswith("=") and not r["id"].startswith("=") for r in rows)


def test_folder_whose_name_is_not_utf8_gets_every_catalogue_format(tmp_path, capsys):
    """A Latin-1 folder name (``café`` as byte 0xE9) used to end the run with a UnicodeEncodeError after
    all the work: now the catalogue is written, valid UTF-8, the byte spelled ``\\xe9``."""
    from astropy.table import Table

    rng = np.random.default_rng(3)
    folder = tmp_path / os.fsdecode(b"caf\xe9-galaxies")
    folder.mkdir()
    for i in range(8):
        image = render_galaxy(("spiral", "elliptical")[i % 2], 64, rng)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))  # cv2 cannot take such a path
        (folder / f"g{i}.png").write_bytes(buf.tobytes())
    for fmt, suffix in (("csv", ".csv"), ("fits", ".fits"), ("votable", ".xml"), ("ecsv", ".ecsv"),
                        ("parquet", ".parquet")):
        out = tmp_path / f"cat{suffix}"
        code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", "kmeans",
                     "--clusters", "2", "--out", str(out), "--format", fmt, "--quiet", "--cpu"])
        assert code == 0, (fmt, capsys.readouterr())
        table = Table.read(out, format="votable" if fmt == "votable" else None)
        paths = [str(p).lstrip("'") for p in table["path"]]
        assert len(paths) == 8, fmt
        assert all("caf\\xe9-galaxies" in p for p in paths), (fmt, paths[:2])
        out.with_name(out.name + ".json").read_text(encoding="utf-8")  # the sidecar is valid UTF-8 too
    (tmp_path / "cat.csv").read_bytes().decode("utf-8")
