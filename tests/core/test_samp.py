"""SAMP against a real astropy SAMPHubServer on 127.0.0.1 (no mock), with a second client playing TOPCAT."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # astropy 8 deprecates astropy.samp in favour of pyvo.samp (same code)
    from astropy.samp import SAMPHubServer, SAMPIntegratedClient

from core.catalog.export import export_catalogue
from core.catalog.samp import SampError, SampLink


def wait_for(condition, timeout: float = 10.0) -> None:
    """Poll until ``condition()`` (SAMP delivers on the hub's and the clients' own threads)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("no SAMP message arrived")
        time.sleep(0.02)


@pytest.fixture
def hub(tmp_path):
    """A SAMP hub on the loopback interface only, its lockfile in the test's folder."""
    server = SAMPHubServer(web_profile=False, addr="127.0.0.1", lockfile=str(tmp_path / "samp.lock"))
    server.start()
    yield server
    if server.is_running:
        server.stop()


class Topcat:
    """A second SAMP client that receives what TOPCAT would and can select rows."""

    def __init__(self, hub) -> None:
        self.client = SAMPIntegratedClient(name="fake TOPCAT", addr="127.0.0.1")
        self.client.connect(hub_params=hub.params)
        self.received: list[tuple[str, dict]] = []
        for mtype in ("table.load.votable", "table.select.rowList", "coord.pointAt.sky"):
            self.client.bind_receive_notification(mtype, self._on)

    def _on(self, private_key, sender_id, mtype, params, extra) -> None:
        self.received.append((mtype, params))

    def last(self, mtype: str) -> dict | None:
        found = [p for m, p in self.received if m == mtype]
        return found[-1] if found else None

    def close(self) -> None:
        if self.client.is_connected:
            self.client.disconnect()


@pytest.fixture
def votable(tmp_path):
    """A stored run of four images exported as a VOTable (rows in store order); the project's paths reversed."""
    from core.store.database import ProjectStore

    images = [tmp_path / f"g{i}.png" for i in range(4)]
    store = ProjectStore(tmp_path / "store")
    ids = store.add_images(images)
    run = store.save_run("kmeans", "galaxy_cnn", 2, {"seed": 0}, [], [ids[str(p)] for p in images],
                         np.array([0, 1, 0, 1]), np.full(4, 0.9), np.zeros((4, 2)))
    out, _ = export_catalogue(store, run, tmp_path / "cat.vot", "votable")
    store.close()
    return out, [str(p) for p in reversed(images)]  # a project order different from the table's


def test_table_and_selection_round_trip_through_a_real_hub(hub, votable):
    from astropy.table import Table

    path, project_paths = votable
    selected: list[list[int]] = []
    link = SampLink(on_select=selected.append, hub_params=hub.params)
    topcat = Topcat(hub)
    try:
        link.connect()
        link.send_table(path, project_paths)
        wait_for(lambda: topcat.last("table.load.votable"))
        load = topcat.last("table.load.votable")
        table = Table.read(load["url"].replace("file://", ""), format="votable")  # TOPCAT loads the file
        assert len(table) == 4 and load["table-id"] == link.table_id
        # app -> hub -> TOPCAT: project images 0 and 3 are table rows 3 and 0
        link.send_selection([0, 3])
        wait_for(lambda: topcat.last("table.select.rowList"))
        rows = sorted(int(r) for r in topcat.last("table.select.rowList")["row-list"])
        assert rows == [0, 3] and sorted(str(table["path"][r]) for r in rows) == sorted(
            [project_paths[0], project_paths[3]])
        # TOPCAT -> hub -> app: rows 1 and 2 of the table are project images 2 and 1
        topcat.client.notify_all({"samp.mtype": "table.select.rowList",
                                  "samp.params": {"table-id": load["table-id"], "url": load["url"],
                                                  "row-list": ["1", "2"]}})
        wait_for(lambda: selected)
        assert sorted(selected[-1]) == [1, 2]
        # a selection of some other table is not ours
        topcat.client.notify_all({"samp.mtype": "table.select.rowList",
                                  "samp.params": {"table-id": "other", "url": "file:///x.vot", "row-list": ["0"]}})
        link.point_at(150.5, -2.25)
        wait_for(lambda: topcat.last("coord.pointAt.sky"))
        assert topcat.last("coord.pointAt.sky") == {"ra": "150.5", "dec": "-2.25"} and len(selected) == 1
    finally:
        topcat.close()
        link.disconnect()


def test_a_hub_that_dies_gives_an_error_not_a_hang(hub, votable):
    path, project_paths = votable
    link = SampLink(hub_params=hub.params)
    link.connect()
    link.send_table(path, project_paths)
    hub.stop()
    start = time.monotonic()
    with pytest.raises(SampError, match="stopped answering"):
        link.send_selection([1])
    assert time.monotonic() - start < 5 and not link.connected
    with pytest.raises(SampError, match="not connected"):
        link.point_at(1.0, 2.0)


def test_a_hub_elsewhere_is_refused_without_contacting_it():
    link = SampLink(hub_params={"samp.hub.xmlrpc.url": "http://192.0.2.1:21012/", "samp.secret": "x"})
    with pytest.raises(SampError, match="not on this computer"):
        link.connect()
