"""An export's catalogue rows are never walked by the GUI thread's garbage collector, and go when written.

A catalogue row per image (an object and its dict of extra columns) lives until
the file is written; the app's collector, which collects on the GUI thread
whatever thread allocates (app.collector), walked them while the export job
built them (a collection of 122 ms during a Parquet export of 200,000
galaxies).  And astropy's FITS writer keeps its callers' frames in cycles of
caught exceptions, so the rows outlived the export until a collection found
them (280,000 objects for one collection to walk).
"""

from __future__ import annotations

import weakref

import pytest

from tests.helpers import export_catalogue


@pytest.mark.parametrize("fmt", ["fits", "csv"])
def test_an_exports_rows_are_built_with_the_collector_paused_and_go_when_written(qtbot, clustered, tmp_path,
                                                                                 monkeypatch, fmt):
    import core.catalog.export as export
    from core.store.rows import collection_paused

    window = clustered
    seen: list[tuple[bool, weakref.ref]] = []
    real = export.catalogue_rows

    def rows(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append((collection_paused(), weakref.ref(out[0])))
        return out

    monkeypatch.setattr(export, "catalogue_rows", rows)
    window.collector.timer.stop()  # nothing collected: the rows go by reference counting or not at all
    try:
        export_catalogue(qtbot, window, tmp_path / f"catalogue.{fmt}", fmt)
        assert len(seen) == 1
        paused, row = seen[0]
        assert paused  # the GUI thread's collector waited while the job built and wrote them
        qtbot.waitUntil(lambda: row() is None, timeout=5_000)  # the job's thread let them go when written
        assert not collection_paused()
    finally:
        window.collector.timer.start()
