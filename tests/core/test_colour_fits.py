"""Colour from FITS: three band files of one galaxy (or a three-plane cube) composed with make_lupton_rgb."""

from __future__ import annotations

import numpy as np

from core.images.display import Stretch, apply_stretch, band_files, read_raw, render
from core.images.sample import make_band_sample


def test_band_files_are_found_by_name_reddest_first(tmp_path):
    files = make_band_sample(tmp_path, n=2)
    g, r, i = files[:3]
    assert band_files(g) == band_files(i) == [i, r, g]
    (tmp_path / "spiral_0_z.fits").write_bytes(i.read_bytes())  # a fourth band: g, r, i are still the three
    assert band_files(r) == [i, r, g]
    (tmp_path / "lone_g.fits").write_bytes(g.read_bytes())
    assert band_files(tmp_path / "lone_g.fits") is None  # no siblings: one grey band
    assert read_raw(tmp_path / "lone_g.fits").shape[2] == 1
    raw = read_raw(g)
    assert raw.shape == (96, 96, 3)
    centre = raw[48, 48]
    assert centre[0] > centre[1] > centre[2]  # the bulge is brightest in i (shown red), faintest in g (blue)


def test_lupton_keeps_the_colour_of_the_core_where_a_plain_stretch_saturates(tmp_path):
    g = make_band_sample(tmp_path, n=1)[0]
    raw = read_raw(g)
    lupton = apply_stretch(raw, Stretch("lupton", 0.5, 99.5))
    plain = apply_stretch(raw, Stretch("asinh", 0.5, 99.5))
    core = lupton[46:51, 46:51].reshape(-1, 3).astype(int).mean(axis=0)
    assert core[0] > core[2] + 60  # red bulge stays red
    burnt = plain[46:51, 46:51].reshape(-1, 3).astype(int).mean(axis=0)
    assert burnt.min() > 200 and burnt[0] - burnt[2] < core[0] - core[2] - 40  # asinh per pixel: a whitish core
    # the arms are bluer than the bulge: the colour ratio of each pixel is kept
    arms = (np.hypot(*(np.mgrid[:96, :96] - 47.5)) > 15) & (raw[:, :, 2] > np.percentile(raw[:, :, 2], 90))
    ratio_arms = lupton[arms][:, 2].astype(float).sum() / max(1.0, lupton[arms][:, 0].astype(float).sum())
    ratio_core = core[2] / core[0]
    assert ratio_arms > ratio_core
    # the stretch limits apply: a lower upper limit brightens
    brighter = apply_stretch(raw, Stretch("lupton", 0.5, 90.0))
    assert brighter[arms].astype(int).mean() > lupton[arms].astype(int).mean() + 5
    darker_sky = apply_stretch(raw, Stretch("lupton", 50.0, 99.5))  # a higher lower limit: the sky goes black
    assert darker_sky[:10, :10].astype(int).mean() < 1 < lupton[:10, :10].astype(int).mean() - 5
    # one band, one plane of a cube: grey
    grey = apply_stretch(raw, Stretch("lupton", 0.5, 99.5, band=1))
    assert (grey[:, :, 0] == grey[:, :, 2]).all()
    assert render(g, Stretch("lupton")).shape == (96, 96, 3)


def test_the_lupton_stretch_reaches_white_at_its_upper_limit(tmp_path):
    """Exploratory QA: Lupton's composition topped out at asinh(8) / 8 of full scale, 35 % grey, whatever the limits
    said: the brightest galaxy in the folder was shown dim.  The upper limit is now white, as in every other stretch."""
    raw = read_raw(make_band_sample(tmp_path, n=1)[0])
    shown = apply_stretch(raw, Stretch("lupton", 0.5, 99.5)).max(axis=2)
    brightest = raw.mean(axis=2) >= np.percentile(raw.mean(axis=2), 99.9)
    assert shown[brightest].min() == 255
    linear = apply_stretch(raw, Stretch("linear", 0.5, 99.5)).max(axis=2)
    assert abs(float(np.percentile(shown, 99.9)) - float(np.percentile(linear, 99.9))) < 10  # white where linear is


def test_a_folder_of_band_files_is_indexed_once_not_searched_for_every_file(tmp_path, monkeypatch):
    """A folder of 15,000 band files took 42 s to scan (each file's set found by comparing its name with every name
    of the folder) and each read listed and searched the folder again (6.7 ms): one index a folder now, while it is
    unchanged (``benchmarks/band_folder.py`` prints the times).  The sets found are the same."""
    import os
    import time

    from core.images import fits as fits_module
    from core.images.io import scan_images

    files = make_band_sample(tmp_path / "a", n=4) + make_band_sample(tmp_path / "b", n=3)
    for folder in ("a", "b"):  # written a minute ago: a folder changed within 2 s is listed again at each read
        os.utime(tmp_path / folder, ns=(time.time_ns() - 60 * 10**9,) * 2)
    indexed, listed = [], []
    real_index, real_listdir = fits_module.band_index, os.listdir
    monkeypatch.setattr(fits_module, "band_index", lambda names: indexed.append(1) or real_index(names))
    found, _ = scan_images(tmp_path)
    assert len(found) == 7 and len(indexed) == 2  # one index a folder
    monkeypatch.setattr(fits_module.os, "listdir", lambda p: listed.append(p) or real_listdir(p))
    sets = [band_files(f) for f in files for _ in range(3)]
    assert len(listed) == 2  # each folder listed once for all its reads
    assert all(s is not None and len(s) == 3 and f in s for s, f in zip(sets, [f for f in files for _ in range(3)]))
    (tmp_path / "a" / "spiral_0_z.fits").write_bytes(files[0].read_bytes())  # the folder changed: listed again
    band_files(files[0])
    assert len(listed) == 3
