"""Catalogue > Send to TOPCAT/Aladin (SAMP): the table, the selection and the hovered galaxy, both ways.

:class:`SampTools` renders nothing of its own: it adds the menu entry, sends
the catalogue (a VOTable written by the one catalogue path into the project
store's ``samp/`` folder) through :class:`core.catalog.samp.SampLink`, then
follows the project's shared selection (sent as ``table.select.rowList``) and
the map's hovered galaxy (``coord.pointAt.sky`` when it has a position).  A
row selection made in TOPCAT arrives on the SAMP thread, crosses to the GUI
thread by a queued signal and becomes the shared selection, so the map and
the strip show the same galaxies.  Every message to the hub runs on
:class:`app.workers.SerialCalls`' thread: a hub that died or hangs never
freezes the window; the status line says what happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.workers import SerialCalls
from core.catalog.samp import SampLink
from core.project import Project

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow, QMenu


class _Relay(QObject):
    """Carries a selection from the SAMP receiving thread to the GUI thread (queued connection)."""

    selected = Signal(object)


class SampTools:
    """The SAMP entry of the *Catalogue* menu and the selection's two-way link.

    Parameters
    ----------
    window : QMainWindow
        The main window: its ``project``, ``map`` (hover), ``stage_label`` and
        ``show_error`` are used (typed as a QMainWindow so this module never
        imports the window, which imports it).
    menu : QMenu
        Where the *Send to TOPCAT/Aladin (SAMP)* action goes.
    hub_params : dict, optional
        A hub's lockfile parameters (tests); by default the standard local hub.
    """

    def __init__(self, window: QMainWindow, menu: QMenu, hub_params: dict | None = None) -> None:
        self.window = window
        self.hub_params = hub_params
        self.link: SampLink | None = None
        self.calls = SerialCalls(window)
        self.relay = _Relay()
        self.relay.selected.connect(self._on_remote_selection)
        self.send_action = menu.addAction("Send to &TOPCAT/Aladin (SAMP)", self.send_table)
        self.send_action.setToolTip("Send the catalogue as a VOTable to the tools on the local SAMP hub; "
                                    "selections then follow both ways")
        self._sent = False
        self._project: Project | None = None
        window.map.hovered.connect(self._on_hover)
        window.destroyed.connect(lambda *_: self.close())

    @property
    def project(self) -> Project | None:
        """The window's open project."""
        return self.window.project

    def set_project(self, project: Project) -> None:
        """A new project: its table is not sent yet; follow its selection."""
        self._sent = False
        self._project = project
        project.selection.changed.connect(lambda indices, source, p=project: self._on_selection(p, indices, source))

    def update(self, has_run: bool) -> None:
        """Enabled when there is a run to send."""
        self.send_action.setEnabled(has_run)

    def _say(self, text: str) -> None:
        self.window.stage_label.setText(text)

    # ------------------------------------------------------------------ sending
    def send_table(self) -> None:
        """Write the catalogue as a VOTable and offer it to the hub's tools (off the GUI thread)."""
        p = self.project
        if p is None or p.run_id is None:
            return
        folder = Path(p.store.folder) / "samp"
        if self.link is None:
            self.link = SampLink(on_select=self.relay.selected.emit, hub_params=self.hub_params)
        link, paths = self.link, list(p.paths)

        def connect_and_send() -> int | str:
            # The hub first: with none running this says so at once, not after writing a survey's VOTable
            # (a million rows: over a minute).  The table is written here, off the GUI thread.
            link.connect()
            try:
                folder.mkdir(exist_ok=True)
                path, _ = p.export(folder / "catalogue.vot", "votable")
            except (OSError, ValueError) as exc:
                return f"Cannot write the table for SAMP: {exc}"
            link.send_table(path, paths, name=f"Galaxy Sorter: {p.folder.name}")
            return len(paths)

        self._say(f"SAMP: writing and sending the catalogue ({len(paths):,} rows)…")
        self.calls.call(connect_and_send, on_done=self._on_sent, on_error=self._on_error)

    def _on_sent(self, n: int | str) -> None:
        if isinstance(n, str):  # the table could not be written: nothing was sent
            self._say(f"SAMP: {n}")
            self.window.show_error(n)
            return
        self._sent = True
        self._say(f"SAMP: sent {n} rows (table.load.votable); selections now follow both ways")
        p = self.project
        if p is not None and len(p.selection.indices):
            self._on_selection(p, p.selection.indices, None)

    def _on_error(self, message: str) -> None:
        self._sent = bool(self.link is not None and self.link.connected and self._sent)
        self._say(f"SAMP: {message}")

    def _on_selection(self, project: Project, indices: np.ndarray, source: object) -> None:
        # A selection that came from SAMP is not echoed back; one of a replaced project is not ours.
        if source is self or project is not self.project or not self._sent or self.link is None:
            return
        self.calls.call(self.link.send_selection, [int(i) for i in indices], on_error=self._on_error)

    def _on_hover(self, row: int) -> None:
        link = self.link
        if not self._sent or link is None or row < 0 or row >= len(link.sky) or link.sky[row] is None:
            return
        self.calls.call(link.point_at_image, int(row), on_error=self._on_error)

    # ------------------------------------------------------------------ receiving
    def _on_remote_selection(self, indices: object) -> None:
        p = self.project
        if p is None:
            return
        rows = [int(i) for i in indices if 0 <= int(i) < len(p)]  # type: ignore[union-attr]
        p.selection.set(rows, self)
        self._say(f"SAMP: {len(rows)} galaxies selected in another tool")

    def close(self) -> None:
        """Unregister from the hub (the window is closing)."""
        link, self.link = self.link, None
        if link is not None:
            link.disconnect()
