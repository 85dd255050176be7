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
