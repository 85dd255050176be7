"""A stored run's rows as arrays, read fast enough to reopen a million galaxies in seconds (issue 22).

Reopening used to read a run as one tuple a row (id, path, name, cluster,
confidence, x, y; joined and sorted by path in SQLite), build a ``Path`` per row
to turn each stored key into a path on disk, and turn every path back into its
key to restore a catalogue join.  At 1,000,000 images that was 27 s, nine tenths
of it in ``pathlib``.  :func:`run_arrays` reads the run's numbers in the order of
their primary key and the image keys in the order of the path index (both are
index scans, no sort), matches them with a binary search in numpy, and joins
keys to the project root as strings (:func:`paths_of`); it keeps the keys, so
nothing is turned back.  Python's cyclic garbage collector is paused while the
million row tuples are built (:func:`no_gc`): each of its passes would walk them all.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.store.database import ProjectStore


_paused = 0  # no_gc blocks under way, in every thread
_paused_lock = threading.Lock()


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (when it runs) while many small tuples are built; restore it after.

    The app's collector, which collects on the GUI thread whatever thread allocates (:mod:`app.collector`),
    asks :func:`collection_paused` and waits too: a project read off the GUI thread built its row tuples while
    the GUI thread collected them, 160 ms a collection.
    """
    global _paused
    was = gc.isenabled()
    gc.disable()
    with _paused_lock:
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
        if was:
            gc.enable()


def collection_paused() -> bool:
    """Whether a :func:`no_gc` block runs now, in any thread (a collection would walk its young tuples)."""
    return _paused > 0


def paths_of(store: ProjectStore, keys: Sequence[str]) -> list[str]:
    """The paths on disk of stored image keys, the same as ``[store.path_of(k) for k in keys]``, fast.

    A relative key without a backslash is the root, a separator and the key (a
    key is already in normal form: :meth:`core.store.cache.FeatureCache.image_key`);
    absolute keys and keys that may encode bytes that are not UTF-8 go through
    :meth:`ProjectStore.path_of`.
    """
    if store.root is None:
        return [store.path_of(k) for k in keys]
    root = str(store.root)
    prefix = root if root.endswith(os.sep) else root + os.sep
    return [store.path_of(k) if "\\" in k or k.startswith("/") or ".." in k else prefix + k for k in keys]


@dataclass(frozen=True)
class RunArrays:
    """One stored run, row ``i`` being image ``paths[i]``, sorted by stored key (the old reopen's order).

    Attributes
    ----------
    ids : numpy.ndarray
        Image ids (int64) in the store.
    keys : list of str
        Stored image keys (paths relative to the project root).
    paths : list of str
        Paths on disk (:func:`paths_of`).
    clusters : numpy.ndarray
        Cluster of each image (int64; -1 noise).
    confidence : numpy.ndarray
        Probability of the assigned cluster (float32).
    coords : numpy.ndarray
        ``(n, 2)`` map coordinates (float32; NaN where the run has none).
    """

    ids: np.ndarray
    keys: list[str]
    paths: list[str]
    clusters: np.ndarray
    confidence: np.ndarray
    coords: np.ndarray


def run_arrays(store: ProjectStore, run_id: int) -> RunArrays:
    """Read run ``run_id``'s assignments as arrays, sorted by image key (see the module's notes on speed)."""
    with no_gc():
        numbers = store.db.execute("SELECT image_id, cluster, confidence, x, y FROM assignments WHERE run_id=? "
                                   "ORDER BY image_id", (run_id,)).fetchall()
        images = store.db.execute("SELECT id, path FROM images ORDER BY path").fetchall()
        a_ids, a_clusters, a_conf, a_x, a_y = (list(c) for c in zip(*numbers)) if numbers else ([],) * 5
        del numbers
        i_ids, i_keys = (list(c) for c in zip(*images)) if images else ([], [])
        del images
    run_ids = np.array(a_ids, np.int64)
    image_ids = np.array(i_ids, np.int64)
    pos = np.searchsorted(run_ids, image_ids).clip(0, max(len(run_ids) - 1, 0))
    inside = (run_ids[pos] == image_ids) if len(run_ids) else np.zeros(len(image_ids), bool)
    if store.outside:  # a key naming a file outside the folder is no image of the run (core.store.identity.outside_root)
        inside &= np.array([k not in store.outside for k in i_keys], bool)
    rows = pos[inside]  # for each image of the run, in key order: its row in the numbers
    keys = list(compress(i_keys, inside.tolist()))
    coords = np.empty((len(rows), 2), np.float32)
    coords[:, 0] = np.array(a_x, np.float32)[rows]  # None (no map yet) becomes NaN
    coords[:, 1] = np.array(a_y, np.float32)[rows]
    return RunArrays(ids=image_ids[inside], keys=keys, paths=paths_of(store, keys),
                     clusters=np.array(a_clusters, np.int64)[rows],
                     confidence=np.array(a_conf, np.float32)[rows], coords=coords)


class ImageIds(dict):  # type: ignore[type-arg]
    """path -> image id, looked up by any spelling of the path (through :meth:`ProjectStore.key_of`)."""

    def __init__(self, store: ProjectStore, ids: dict[str, int]) -> None:
        super().__init__(ids)
        self._store = store

    def _key(self, path: object) -> object:
        if isinstance(path, (str, os.PathLike)) and not dict.__contains__(self, path):
            return self._store.key_of(path)
        return path

    def __getitem__(self, path: object) -> int:
        return dict.__getitem__(self, self._key(path))

    def __contains__(self, path: object) -> bool:
        return dict.__contains__(self, self._key(path))

    def get(self, path: object, default: object = None) -> object:
        return dict.get(self, self._key(path), default)
