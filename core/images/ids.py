"""Galaxy ids: the name a galaxy is shown, exported, joined and scored by; a FITS band set's is its base name.

An image's id is its file name without the image suffix (:func:`core.images.io.image_id`): ``g0.png`` is
``g0``.  A galaxy stored as band files (``ngc0_g.fits``, ``ngc0_r.fits``, ``ngc0_i.fits``:
:func:`core.images.fits.band_group`) is listed by one of them, whose stem (``ngc0_i``) names a band, not
the galaxy: a catalogue or a truth file names it ``ngc0``, and so does its id here.  A file that merely
ends in a band's name (``arp_g.fits`` with no other band of ``arp`` beside it) is no band set and keeps
its whole stem.  Ids are names, not keys: the store keeps every image under its path relative to the
project root, so the labels of a project made before this rule keep their images.

Whether a file belongs to a band set depends on the other names of its folder.  :func:`image_ids` lists a
folder once, and only a folder that holds a candidate (a FITS name ending in a band), and indexes the
band names of that listing once (:func:`band_sets`): a survey costs one listing per folder of FITS band
files, never one per image, and a folder of JPEGs costs no listing at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from core.images.fits import _band_of_stem, _split_fits_name, band_index, folder_band_index
from core.images.io import FITS_SUFFIXES, image_id, image_suffixes


def _band_key(name: str) -> tuple[str, str, str, str] | None:
    """``(base, separator, lower-case suffix, band)`` of a FITS file name ending in a band, else None."""
    if not name.lower().endswith(FITS_SUFFIXES):
        return None
    split = _split_fits_name(name)
    parsed = None if split is None else _band_of_stem(split[0])
    return None if parsed is None else (parsed[0], parsed[1], split[1].lower(), parsed[2])  # type: ignore[index]


def may_be_in_a_band_set(name: str) -> bool:
    """Whether a file name could belong to a band set (a FITS name ending in a band): only then does its id need
    its folder's other names; any other file's id is its own name without the suffix."""
    return _band_key(name) is not None


def band_sets(names: Iterable[str]) -> set[tuple[str, str, str]]:
    """The ``(base, separator, lower-case suffix)`` of every band set among one folder's file names.

    A band set is what :func:`core.images.fits.band_group` groups: two bands or
    more of one base, separator and FITS suffix, found in one pass over the
    names (:func:`core.images.fits.band_index`).
    """
    return {key for key, found in band_index(names).items() if len(found) >= 2}


def _suffixes_by_extension(suffixes: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
    """The image suffixes (longest first) by their last ``.part``, so a name's own last ``.part`` finds the few it
    can end with in one lookup; None when some suffix has no dot (then every suffix is tried)."""
    if not all(s.startswith(".") for s in suffixes):
        return None
    out: dict[str, tuple[str, ...]] = {}
    for s in suffixes:
        out[s[s.rfind("."):]] = (*out.get(s[s.rfind("."):], ()), s)
    return out


def id_spellings(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[str], dict[str, str]]:
    """Each image's id, and the other spelling of a band set's id that joins and truth files also accept.

    Parameters
    ----------
    paths : sequence of path-like
        Image files as the scanner lists them (a band set by one of its files).

    Returns
    -------
    ids : list of str
        The id of every image: its file name without the image suffix, or the
        base name of the band set it belongs to (``ngc0`` for ``ngc0_i.fits``).
    aliases : dict
        A band set's file stem (``ngc0_i``, its id before band sets were named
        by their base) -> its id, so a catalogue or a truth file written with
        either spelling still matches; a stem that is itself some image's id is
        left out (that image answers to it).
    """
    suffixes = image_suffixes()  # as image_id, the registry asked once, not once an image
    by_extension = _suffixes_by_extension(suffixes)
    ids: list[str] = []
    candidates: dict[str, list[tuple[int, tuple[str, str, str, str]]]] = {}
    for row, path in enumerate(paths):
        # A survey's every galaxy (200,000 for a sort by name): string methods, only the suffixes its name
        # can end with tried, a Python function only for a rare name (no image suffix, a FITS band file).
        path = os.fspath(path)
        name = path.rpartition(os.sep)[2]
        if os.altsep:
            name = name.rpartition(os.altsep)[2]
        lower = name.lower()
        suffix = None
        for s in by_extension.get(lower[lower.rfind("."):], ()) if by_extension is not None else suffixes:
            if lower.endswith(s):
                suffix = s
                break
        ids.append(image_id(name) if suffix is None else name[:-len(suffix)])
        if lower.endswith(FITS_SUFFIXES) and (key := _band_key(name)) is not None:
            candidates.setdefault(os.path.dirname(path), []).append((row, key))
    aliases: dict[str, str] = {}
    for folder, found in candidates.items():
        try:
            sets = {key for key, found in folder_band_index(folder or ".").items() if len(found) >= 2}
        except OSError:  # a folder gone or unreadable: its files keep their stems, as when read alone
            continue
        for row, key in found:
            if key[:3] in sets:
                aliases.setdefault(ids[row], key[0])
                ids[row] = key[0]
    if aliases:
        own = set(ids)
        aliases = {stem: base for stem, base in aliases.items() if stem not in own}
    return ids, aliases


def any_fits(paths: Iterable[str | os.PathLike[str]]) -> bool:
    """Whether any of ``paths`` names a FITS file (:data:`core.images.io.FITS_SUFFIXES`, in any case).

    A sky join reads FITS headers, so the join dialog offers one only then.  It
    looks at every path of a folder of other images: about half a second for a
    million, which the app spends off the GUI thread
    (:class:`app.widgets.qt_tables.CatalogueTools`).
    """
    return any(os.fspath(p).lower().endswith(FITS_SUFFIXES) for p in paths)


def image_ids(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The id of every image, a band set's being its base name (:func:`id_spellings`); one folder listing each."""
    return id_spellings(paths)[0]
