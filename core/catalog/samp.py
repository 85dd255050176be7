"""SAMP, the Virtual Observatory's messaging: tables and selections to and from TOPCAT, Aladin, ds9, glue.

:class:`SampLink` is the program's SAMP client (``astropy.samp``).  It sends
the catalogue as a VOTable (``table.load.votable``), the selected galaxies as
a row list of that table (``table.select.rowList``) and a galaxy's position
(``coord.pointAt.sky``); it receives ``table.select.rowList`` for its table
and hands the rows, as indices of the project's images, to ``on_select``.

Only a hub on the loopback interface is used (``127.0.0.1``/``localhost``):
the hub's address comes from its lockfile, and a hub elsewhere is refused
rather than contacted.  Every call here is a blocking XML-RPC request to the
hub: callers with a user interface make them off the GUI thread (a hub that
died refuses the connection at once; :class:`SampError` says so and the link
disconnects).  ``on_select`` is
called on the SAMP client's own receiving thread.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

#: SAMP message types this program speaks.
LOAD_VOTABLE = "table.load.votable"
SELECT_ROWS = "table.select.rowList"
POINT_AT = "coord.pointAt.sky"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SampError(RuntimeError):
    """No usable hub, a hub that is not local, or a hub that stopped answering."""


def _samp():  # -> module
    with warnings.catch_warnings():
        # astropy 8 deprecates astropy.samp for pyvo.samp (the same code); the brief and TOPCAT's docs name astropy's.
        warnings.simplefilter("ignore")
        import astropy.samp as samp
    return samp


def _check_local(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise SampError(f"the SAMP hub at {url} is not on this computer; only a local hub (127.0.0.1) is used")


class SampLink:
    """One SAMP client: send the catalogue, the selection and a position; receive row selections.

    Parameters
    ----------
    on_select : callable, optional
        ``on_select(indices)`` with project image indices, when another tool
        selects rows of the table sent by :meth:`send_table`; called on the
        SAMP receiving thread.
    hub_params : dict, optional
        A hub's lockfile parameters (tests pass a hub's ``params``); by default
        the hub is found the standard way (``SAMP_HUB``, else ``~/.samp``).
    name : str
        How the other tools list this program.
    """

    def __init__(self, on_select: Callable[[list[int]], None] | None = None, hub_params: dict | None = None,
                 name: str = "Galaxy Sorter") -> None:
        self.on_select = on_select
        self.hub_params = hub_params
        self.name = name
        self.client = None
        self.table_url = ""
        self.table_id = ""
        self._row_of_path: dict[str, int] = {}  # image path -> row of the sent table
        self._paths: list[str] = []  # project image index -> path
        self._table_paths: list[str] = []  # table row -> path
        self.sky: list[tuple[float, float] | None] = []  # project index -> (ra, dec) when the image has a WCS

    # ------------------------------------------------------------------ connection
    @property
    def connected(self) -> bool:
        """Whether registered with a hub (as far as this client knows)."""
        return self.client is not None and bool(self.client.is_connected)

    def connect(self) -> None:
        """Register with the local hub and listen for row selections; raises :class:`SampError`."""
        if self.connected:
            return
        samp = _samp()
        params = self.hub_params
        if params is None:
            try:
                params = samp.lockfile_helpers.get_main_running_hub()
            except Exception as exc:  # SAMPHubError: no lockfile, or a stale one
                raise SampError("no SAMP hub is running: start TOPCAT or Aladin (they start one), then try "
                                "again") from exc
        _check_local(str(params.get("samp.hub.xmlrpc.url", "")))
        client = samp.SAMPIntegratedClient(name=self.name, description="Galaxy Sorter: clusters of galaxy images",
                                           addr="127.0.0.1")
        try:
            client.connect(hub_params=params)
            client.bind_receive_notification(SELECT_ROWS, self._on_notification)
            client.bind_receive_call(SELECT_ROWS, self._on_call)
        except Exception as exc:
            raise SampError(f"cannot register with the SAMP hub ({exc})") from exc
        self.client = client

    def disconnect(self) -> None:
        """Unregister (quietly: the hub may be gone already)."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - a dead hub cannot be told goodbye; the receiver still stops
            try:
                client.client.stop()
            except Exception:  # noqa: BLE001
                pass

    def _notify(self, mtype: str, params: dict[str, object]) -> None:
        if not self.connected:
            raise SampError("not connected to a SAMP hub")
        try:
            self.client.notify_all({"samp.mtype": mtype, "samp.params": params})
        except Exception as exc:
            self.disconnect()
            raise SampError(f"the SAMP hub stopped answering ({exc}); disconnected") from exc

    # ------------------------------------------------------------------ sending
    def send_table(self, votable: str | os.PathLike[str], paths: Sequence[str], name: str = "Galaxy Sorter") -> None:
        """Offer a VOTable written by :func:`core.catalog.export.export_catalogue` to every tool (``table.load.votable``).

        ``paths`` are the project's images in project order; the table's
        ``path`` column says which row is which, so selections map both ways
        whatever the order of its rows.  Its ``ra``/``dec`` columns, when
        present, are what :meth:`point_at_image` sends.
        """
        import numpy as np
        from astropy.io.votable import parse_single_table

        table = parse_single_table(str(votable)).to_table()
        self._table_paths = [str(p) for p in table["path"]]
        self._paths = [str(p) for p in paths]
        self._row_of_path = {p: i for i, p in enumerate(self._table_paths)}
        where = {p: i for i, p in enumerate(self._paths)}
        self.sky = [None] * len(self._paths)
        if "ra" in table.colnames and "dec" in table.colnames:
            ra, dec = np.ma.filled(table["ra"], np.nan), np.ma.filled(table["dec"], np.nan)
            for row, p in enumerate(self._table_paths):
                if p in where and np.isfinite(ra[row]) and np.isfinite(dec[row]):
                    self.sky[where[p]] = (float(ra[row]), float(dec[row]))
        self.table_url = Path(votable).resolve().as_uri()
        self.table_id = f"galaxy-sorter-{abs(hash(self.table_url)) % 10**8}"
        self._notify(LOAD_VOTABLE, {"url": self.table_url, "table-id": self.table_id, "name": name})

    def table_rows(self, indices: Sequence[int]) -> list[int]:
        """Rows of the sent table for project image indices (images not in it are left out)."""
        return [self._row_of_path[self._paths[i]] for i in indices
                if 0 <= i < len(self._paths) and self._paths[i] in self._row_of_path]

    def project_indices(self, rows: Sequence[int]) -> list[int]:
        """Project image indices for rows of the sent table (rows out of range are left out)."""
        where = {p: i for i, p in enumerate(self._paths)}
        return [where[self._table_paths[r]] for r in rows
                if 0 <= r < len(self._table_paths) and self._table_paths[r] in where]

    def send_selection(self, indices: Sequence[int]) -> None:
        """Select these project images in the other tools (``table.select.rowList`` of the sent table)."""
        if not self.table_url:
            raise SampError("send the catalogue first")
        rows = [str(r) for r in self.table_rows(indices)]
        self._notify(SELECT_ROWS, {"table-id": self.table_id, "url": self.table_url, "row-list": rows})

    def point_at(self, ra: float, dec: float) -> None:
        """Point sky viewers (Aladin, ds9) at a position in degrees (``coord.pointAt.sky``)."""
        self._notify(POINT_AT, {"ra": repr(float(ra)), "dec": repr(float(dec))})

    def point_at_image(self, index: int) -> bool:
        """Point at a project image's centre when it has sky coordinates; returns whether it had."""
        where = self.sky[index] if 0 <= index < len(self.sky) else None
        if where is None:
            return False
        self.point_at(*where)
        return True

    # ------------------------------------------------------------------ receiving
    def _rows_for_us(self, params: dict) -> list[int] | None:
        if params.get("table-id") != self.table_id and params.get("url") != self.table_url:
            return None  # a selection of another table
        rows = []
        for r in params.get("row-list", []):
            try:
                rows.append(int(r))
            except (TypeError, ValueError):
                continue
        return self.project_indices(rows)

    def _on_notification(self, private_key: str, sender_id: str, mtype: str, params: dict, extra: dict) -> None:
        indices = self._rows_for_us(params)
        if indices is not None and self.on_select is not None:
            self.on_select(indices)

    def _on_call(self, private_key: str, sender_id: str, msg_id: str, mtype: str, params: dict, extra: dict) -> None:
        indices = self._rows_for_us(params)
        ok = indices is not None
        try:
            self.client.reply(msg_id, {"samp.status": "samp.ok" if ok else "samp.warning",
                                       "samp.result": {}, **({} if ok else {"samp.error": {"samp.errortxt":
                                                                                          "not our table"}})})
        except Exception:  # noqa: BLE001 - the caller may be gone; the selection still applies
            pass
        if ok and self.on_select is not None:
            self.on_select(indices)
