"""Catalogue > Send to TOPCAT/Aladin (SAMP) against a real astropy hub on 127.0.0.1, a second client as TOPCAT."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from tests.helpers import Topcat, open_and_cluster, write_wcs_galaxies


def test_samp_sends_the_table_and_selections_both_ways_and_survives_the_hub(qtbot, window, folder, hub):
    p = open_and_cluster(qtbot, window, folder)
    samp = window.catalogue.samp
    samp.hub_params = hub.params
    topcat = Topcat(hub)
    try:
        window.catalogue.menu.aboutToShow.emit()
        assert samp.send_action.isEnabled()
        samp.send_action.trigger()  # Catalogue > Send to TOPCAT/Aladin (SAMP)
        qtbot.waitUntil(lambda: topcat.last("table.load.votable") is not None, timeout=10_000)
        qtbot.waitUntil(lambda: "sent 30 rows" in window.stage_label.text(), timeout=10_000)
        load = topcat.last("table.load.votable")
        table = Table.read(load["url"].replace("file://", ""), format="votable")
        assert len(table) == len(p) and ".galaxy-sorter" in load["url"]  # never in the scanned image folder
        # app -> hub -> TOPCAT: a selection made on the map (what the lasso emits)
        picked = np.flatnonzero(p.clusters == p.clusters[0])[:4]
        window.map.selection_requested.emit(picked, False)
        qtbot.waitUntil(lambda: topcat.last("table.select.rowList") is not None, timeout=10_000)
        rows = [int(r) for r in topcat.last("table.select.rowList")["row-list"]]
        assert sorted(str(table["path"][r]) for r in rows) == sorted(p.paths[i] for i in picked)
        # TOPCAT -> hub -> app: rows selected there select the same galaxies in the map and the strip
        chosen = [2, 7, 11]
        topcat.client.notify_all({"samp.mtype": "table.select.rowList",
                                  "samp.params": {"table-id": load["table-id"], "url": load["url"],
                                                  "row-list": [str(r) for r in chosen]}})
        want = sorted(p.paths.index(str(table["path"][r])) for r in chosen)
        qtbot.waitUntil(lambda: list(p.selection.indices) == want, timeout=10_000)
        assert list(window.map.selected) == want
        assert sorted(int(r) for r in window.grid.rows()) == want
        assert "3 galaxies selected in another tool" in window.stage_label.text()
        sent_before = len([m for m, _ in topcat.received if m == "table.select.rowList"])
        assert sent_before == 1  # the selection that came from TOPCAT is not echoed back to it
        # the hub dies: the window stays responsive and says so
        topcat.close()
        hub.stop()
        window.map.selection_requested.emit(picked[:2], False)
        qtbot.waitUntil(lambda: "stopped answering" in window.stage_label.text(), timeout=10_000)
        assert list(p.selection.indices) == sorted(picked[:2].tolist())
    finally:
        topcat.close()
        samp.close()


def test_the_hovered_galaxy_points_sky_viewers_at_it(qtbot, window, tmp_path, hub):
    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 6)
    p = open_and_cluster(qtbot, window, folder, k=2)
    samp = window.catalogue.samp
    samp.hub_params = hub.params
    topcat = Topcat(hub)
    try:
        samp.send_action.trigger()
        qtbot.waitUntil(lambda: "sent 6 rows" in window.stage_label.text(), timeout=10_000)
        row = p.names.index("g4")
        window.map.hovered.emit(row)  # what the map emits when the cursor is over a galaxy
        qtbot.waitUntil(lambda: topcat.last("coord.pointAt.sky") is not None, timeout=10_000)
        where = topcat.last("coord.pointAt.sky")
        assert abs(float(where["ra"]) - 154.0) < 1e-6 and abs(float(where["dec"]) + 2.0) < 1e-6
    finally:
        topcat.close()
        samp.close()


def test_send_to_samp_writes_the_table_off_the_gui_thread_and_says_when_it_cannot(qtbot, window, folder, hub,
                                                                                 monkeypatch):
    """The VOTable used to be written on the GUI thread (seconds at survey scale, as Export was): while it
    is written the window keeps answering; a table that cannot be written is an error box, nothing sent."""
    import threading

    from PySide6.QtCore import QTimer

    from core.project import Project

    p = open_and_cluster(qtbot, window, folder)
    samp = window.catalogue.samp
    samp.hub_params = hub.params
    topcat = Topcat(hub)
    release, writing = threading.Event(), threading.Event()
    real_export = Project.export

    def slow_export(self, *args, **kwargs):
        writing.set()
        release.wait(30)  # a big table being written
        return real_export(self, *args, **kwargs)

    monkeypatch.setattr(Project, "export", slow_export)
    try:
        samp.send_action.trigger()  # Catalogue > Send to TOPCAT/Aladin (SAMP): returns while the table is written
        assert writing.wait(10) and "writing and sending" in window.stage_label.text()
        ticks: list[int] = []
        QTimer.singleShot(10, lambda: ticks.append(1))
        qtbot.waitUntil(lambda: ticks == [1], timeout=5_000)  # the GUI thread answers during the write
        assert topcat.last("table.load.votable") is None
        release.set()
        qtbot.waitUntil(lambda: "sent 30 rows" in window.stage_label.text(), timeout=20_000)
        qtbot.waitUntil(lambda: topcat.last("table.load.votable") is not None, timeout=10_000)

        def refused(self, *args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Project, "export", refused)
        topcat.received.clear()
        samp.send_action.trigger()
        qtbot.waitUntil(lambda: "Cannot write the table for SAMP" in (getattr(window, "last_error", "") or ""),
                        timeout=10_000)
        assert "No space left on device" in window.last_error and "Cannot write" in window.stage_label.text()
        assert topcat.last("table.load.votable") is None and len(p) == 30
    finally:
        release.set()
        topcat.close()
        samp.close()


def test_send_to_samp_with_no_hub_says_so_without_writing_the_table(qtbot, window, folder, tmp_path, monkeypatch):
    """A GUI audit: with no hub running, Send to TOPCAT/Aladin wrote the whole VOTable first (over a minute for a
    million rows, 'writing and sending' all the while) and only then found there was no hub to send it to."""
    from core.project import Project

    p = open_and_cluster(qtbot, window, folder)
    samp = window.catalogue.samp
    samp.hub_params = None
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'no-hub').as_uri()}")  # no lockfile: no hub
    monkeypatch.setenv("HOME", str(tmp_path))
    written = []
    real_export = Project.export
    monkeypatch.setattr(Project, "export", lambda self, *a, **k: written.append(1) or real_export(self, *a, **k))
    samp.send_action.trigger()
    qtbot.waitUntil(lambda: "no SAMP hub is running" in window.stage_label.text(), timeout=20_000)
    assert written == [] and not (p.store.folder / "samp" / "catalogue.vot").exists()
