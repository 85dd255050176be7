"""A catalogue joined to the images: made and recorded off the GUI thread, then kept; part of :class:`core.project.Project`.

:class:`CatalogueJoins` is a mixin of ``Project``: its methods use the
project's paths, store, ``catalog_columns``, ``join`` and events.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from core.catalog.join import JOIN_SETTING
from core.progress import Cancelled
from core.store.database import ProjectStore

if TYPE_CHECKING:
    from core.catalog.join import Join


class CatalogueJoins:
    """Join a CSV catalogue by id or sky position, keep it, restore it on reopen (mixed into ``Project``)."""

    def prepare_join(self, catalogue: str | os.PathLike[str], by: str = "id", *, id_column: str | None = None,
                     ra_column: str | None = None, dec_column: str | None = None, radius_arcsec: float = 2.0,
                     record: bool = False, progress: Callable[[float, str], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> tuple[Join, dict[str, np.ndarray], str]:
        """Join a CSV catalogue to the images, off the GUI thread; :meth:`set_join` then keeps it.

        Everything that grows with the folder or the table runs here: every FITS
        header of a sky join (remembered for these paths: a second radius reads
        none), the strict reading of the table, the match, and the store's record
        of every matched image (a million image keys took 14 s).  The arguments
        are :func:`core.catalog.join.join_catalogue`'s, with the header reading's
        ``progress`` and cancel (``should_stop``: raises ``Cancelled``).

        With ``record``, the record is also written into the store here, through
        a connection of this thread's own (as :meth:`reload_features` reads), and
        :meth:`set_join` is then told ``recorded=True``: the app's job writes it,
        since writing it on the GUI thread took 133 ms at 200,000 galaxies (the
        JSON of every matched value, 0.6 s at a million).  The last cancel is
        asked just before that write; a cancel that comes during it is too late,
        and the join is kept in the store (shown when the folder reopens).  The
        JSON is encoded in pieces (:func:`json_in_pieces`), so the window gets
        its turn between them.

        Returns the join, its ``cat_*`` columns in image order and what the store
        keeps (:func:`core.catalog.join.join_to_setting`, as JSON text); raises
        ``ValueError`` for an unreadable table, a join of no image
        (``NoMatchError``) or no position.
        """
        from core.catalog.join import join_catalogue, join_to_setting, sky_positions

        paths = self.paths
        positions = None
        if by == "sky":
            cached_paths, positions = self._sky if self._sky is not None else (None, None)
            if cached_paths is not paths:
                positions = sky_positions(paths, progress, should_stop)
                self._sky = (paths, positions)
        join, columns = join_catalogue(paths, catalogue, by, id_column=id_column, ra_column=ra_column,
                                       dec_column=dec_column, radius_arcsec=radius_arcsec, positions=positions)
        keys = np.empty(len(paths), dtype=object)  # an array: no list of a million keys for the collector to visit
        keys[:] = [self.store.key_of(p) for p in paths]
        setting = json_in_pieces(join_to_setting(join, keys, columns))
        if record and not self.store.read_only:
            if (should_stop is not None and should_stop()) or self.closed:
                raise Cancelled()
            own = ProjectStore(self.store.folder)
            try:
                own.set_setting(JOIN_SETTING, text=setting)
            finally:
                own.close()
        return join, columns, setting

    def set_join(self, join: Join, columns: dict[str, np.ndarray], setting: str | None = None, *,
                 recorded: bool = False) -> None:
        """Keep a catalogue join (:meth:`prepare_join`): its ``cat_*`` columns and, in the store, both.

        The store keeps the join and the matched values (``setting``, the JSON
        :meth:`prepare_join` made off the GUI thread; made here when not given;
        not written again when ``recorded``: ``prepare_join(record=True)`` wrote
        it), so the project reopens with them; every export's sidecar names the
        catalogue, its checksum, the key or radius and the columns taken.  Not
        undoable (it labels nothing; joining again replaces it).
        """
        from core.catalog.join import join_to_setting

        self.join, self.catalog_columns = join, dict(columns)
        if not self.store.read_only and not recorded:
            value = None if setting is not None else join_to_setting(join, [self.store.key_of(p) for p in self.paths], columns)
            self.store.set_setting(JOIN_SETTING, value, text=setting)
        self.events.columns_changed.emit()  # the map and the "colour by" box follow

    def _restore_join(self, keys: list[str] | None = None) -> None:
        from core.catalog.join import join_from_setting

        setting = self.store.setting(JOIN_SETTING, loads=json_loads_in_pieces)  # (on the opening's thread)
        if setting is None:  # no join: no key per image to compute (a million of them took 14 s)
            return
        restored = join_from_setting(setting, keys if keys is not None else [self.store.key_of(p) for p in self.paths])
        if restored is not None:
            self.join, self.catalog_columns = restored


#: Most entries of one dict encoded in one call by :func:`json_in_pieces` (about 10 ms of the lock each).
JSON_PIECE = 4_000


def json_in_pieces(value: object, piece: int = JSON_PIECE) -> str:
    """``json.dumps(value)``, to the character, made of calls that each encode at most ``piece`` entries of a dict.

    The JSON encoder holds the GIL for the whole of one call: a join's record of
    a million galaxies (every matched value by image key, 140 MB of text) was one
    call of 3.2 s, and no other thread could run Python meanwhile: the window,
    though the job ran on a thread of its own, did not answer for 3 s (0.5 s at
    200,000 galaxies).  A dict that holds dicts is written item by item, a dict
    of more than ``piece`` values in pieces; the keys of those dicts must be text.
    The texts of the pieces (:func:`json_parts`) are joined once, at the end.
    """
    return "".join(json_parts(value, piece))


def json_parts(value: object, piece: int = JSON_PIECE, out: list[str] | None = None) -> list[str]:
    """The texts whose concatenation is :func:`json_in_pieces`'s, none longer than one piece's (appended to ``out``).

    Each level of nesting used to copy the whole text below it (its braces
    added, its key put before it): 29 MB a copy for a join's record of 200,000
    galaxies, each copy one call that kept the lock (106 ms, the longest of
    Catalogue > Join's job).
    """
    out = [] if out is None else out
    if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
        for i, (k, v) in enumerate(value.items()):
            out.append(("{" if i == 0 else ", ") + json.dumps(k) + ": ")
            json_parts(v, piece, out)
        out.append("}")
    elif isinstance(value, dict) and len(value) > piece:
        items = iter(value.items())  # taken a piece at a time: no list of a million pairs to collect
        out.append("{")
        while chunk := dict(itertools.islice(items, piece)):
            if out[-1] != "{":
                out.append(", ")
            out.append(json.dumps(chunk)[1:-1])
        out.append("}")
    else:
        out.append(json.dumps(value))
    return out


#: About how many characters of JSON one call of :func:`json_loads_in_pieces` decodes (2-4 ms of the lock).
JSON_PIECE_CHARS = 1 << 18
#: What :func:`json_loads_in_pieces` decoded: calls of the C decoder and the most characters one was given.
decoded = {"calls": 0, "largest": 0}


def json_loads_in_pieces(text: str) -> object:
    """``json.loads(text)``, the same value, made of decoder calls of about :data:`JSON_PIECE_CHARS` characters each.

    The inverse of :func:`json_in_pieces`, and like it for the lock: a join's
    record (every matched value by image key, 29 MB at 200,000 galaxies with
    three columns) was one call of 0.4 s when the folder reopened, and the
    window froze though the project was read on a thread of its own.  A dict
    is read a run of entries at a time: its text from an entry up to a ``, "``
    about :data:`JSON_PIECE_CHARS` later, closed by a brace, is decoded as a
    dict of those entries.  That text is the dict's next entries exactly when it
    decodes whole (a cut inside a string leaves it unterminated; a cut in a
    nested value or past the dict's end leaves a brace unmatched or text after
    it); the decoder also says where the dict ended inside a run.  Otherwise
    one entry is read, its value the same way, and the next run tried.
    """
    return _json_value(json.JSONDecoder(), text, _json_space(text, 0))[0]


def _json_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


def _json_expect(text: str, at: int, what: str) -> int:
    """The index after ``what`` at ``at`` (spaces skipped on both sides), or the decoder's error."""
    at = _json_space(text, at)
    if not text.startswith(what, at):
        raise json.JSONDecodeError(f"Expecting {what!r}", text, at)
    return _json_space(text, at + 1)


def _json_value(decoder: json.JSONDecoder, text: str, at: int) -> tuple[object, int]:
    """The JSON value starting at ``at`` and the index just after it: a dict in runs, anything else in one call."""
    if text.startswith("{", at):
        return _json_dict(decoder, text, at)
    value, end = decoder.raw_decode(text, at)  # decodes the value at ``at`` only: a scalar, or a (short) list
    decoded["calls"] += 1
    decoded["largest"] = max(decoded["largest"], end - at)
    return value, end


def _json_dict(decoder: json.JSONDecoder, text: str, at: int) -> tuple[dict, int]:
    """The dict whose ``{`` is at ``at`` and the index just after its ``}``, a run of entries a call."""
    out: dict = {}
    at = _json_space(text, at + 1)
    if text.startswith("}", at):
        return out, at + 1
    while True:
        cut = text.find(', "', at + JSON_PIECE_CHARS)
        if cut != -1:
            piece = "{" + text[at:cut] + "}"
            decoded["calls"] += 1
            decoded["largest"] = max(decoded["largest"], len(piece))
            try:
                entries, used = decoder.raw_decode(piece)
            except ValueError:  # cut inside a string or a nested value: this entry alone, then another run
                entries, used = None, 0
            if entries is not None:
                out.update(entries)
                if used < len(piece):  # the dict ended inside the run
                    return out, at - 1 + used
                at = cut + 2
                continue
        if not text.startswith('"', at):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        key, at = json.decoder.scanstring(text, at + 1)
        out[key], at = _json_value(decoder, text, _json_expect(text, at, ":"))
        at = _json_space(text, at)
        if text.startswith("}", at):
            return out, at + 1
        at = _json_expect(text, at, ",")
