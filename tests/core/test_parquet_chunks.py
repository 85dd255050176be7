"""Parquet written in short conversions (issue 22): the file astropy writes, with no long GIL hold.

``Table.write(format="parquet")`` converted each column to Arrow in one call that
held the GIL for 100-200 ms at 10^5 rows, so the app's window froze while the
export job ran.  :func:`core.catalog.tables.write_parquet` converts the rows
``CHUNK_ROWS`` at a time; these tests hold it to astropy's file (schema and
metadata byte for byte, the same values, one row group, the same table read
back) and check that no conversion covers more than ``CHUNK_ROWS`` rows.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from core.catalog import tables
from core.catalog.export import CatalogueRow
from core.catalog.survey import write_parquet_dataset

LABELS = ["elliptical", "spiral", "édge-on ✓", "=1+1", ""]


def _rows(n: int) -> list[CatalogueRow]:
    """``n`` rows with text of varying length (non-ASCII too), NaN, and extra number and text columns."""
    rng = np.random.default_rng(7)
    return [CatalogueRow(path=f"/data/g{'x' * (i % 11)}{i}.fits", id=f"g{i}", cluster=i % 3,
                         cluster_name=f"cluster {i % 3}", label=LABELS[i % len(LABELS)],
                         label_source="user" if i % 4 == 0 else "model",
                         confidence=math.nan if i == 5 else float(rng.random()),
                         x=float(rng.normal()), y=float(rng.normal()),
                         extra={"ra": 150.0 + i / 100, "cat_objid": str(1237648720693755918 + i)})
            for i in range(n)]


RECORD = {"run": {"id": 4}, "method": "kmeans", "seed": 0}


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 rows, so a 50-row table is converted in 8 pieces, the last a short one."""
    monkeypatch.setattr(tables, "CHUNK_ROWS", 7)


def test_the_chunked_file_is_the_file_astropy_writes(tmp_path, small_chunks):
    table = tables.catalogue_table(_rows(50), RECORD)
    ours = tables.write_parquet(table, tmp_path / "ours.parquet")
    table.write(tmp_path / "astropy.parquet", format="parquet")
    theirs = tmp_path / "astropy.parquet"
    assert pq.read_schema(ours).equals(pq.read_schema(theirs), check_metadata=True)
    assert pq.read_table(ours).to_pandas().equals(pq.read_table(theirs).to_pandas())  # NaN where NaN
    assert pq.ParquetFile(ours).metadata.num_row_groups == pq.ParquetFile(theirs).metadata.num_row_groups == 1
    back, want = Table.read(ours), Table.read(theirs)
    assert back.colnames == want.colnames == table.colnames
    for name in table.colnames:
        assert back[name].dtype == want[name].dtype, name
        assert back[name].unit == want[name].unit, name
        assert back[name].meta == want[name].meta, name
        assert back[name].description == want[name].description, name
        np.testing.assert_array_equal(np.asarray(back[name]), np.asarray(table[name]), err_msg=name)
    assert back.meta == want.meta
    assert back["label"][2] == "édge-on ✓" and back["cat_objid"][0] == "1237648720693755918"


def test_text_columns_built_in_chunks_equal_the_one_call_conversion(small_chunks, monkeypatch):
    rows = _rows(50)
    chunked = tables.catalogue_table(rows, RECORD)
    monkeypatch.setattr(tables, "CHUNK_ROWS", 10_000)
    whole = tables.catalogue_table(rows, RECORD)
    for name in whole.colnames:
        assert chunked[name].dtype == whole[name].dtype, name  # the longest text sets the width, as before
        np.testing.assert_array_equal(np.asarray(chunked[name]), np.asarray(whole[name]), err_msg=name)


def test_no_conversion_to_arrow_covers_more_than_chunk_rows(tmp_path, small_chunks, monkeypatch):
    seen: list[int] = []
    real = pa.array

    def counting(obj, *args, **kwargs):
        seen.append(len(obj))
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(pa, "array", counting)
    table = tables.catalogue_table(_rows(50), RECORD)
    tables.write_parquet(table, tmp_path / "t.parquet")
    assert max(seen) == 7  # every column of all 50 rows went through, none in one piece
    assert sum(seen) == 50 * len(table.colnames)
    seen.clear()
    out = write_parquet_dataset(_rows(50), tmp_path / "folder.parquet", RECORD, rows_per_file=20)
    assert max(seen) == 7 and sum(seen) == 50 * len(table.colnames)
    assert pq.read_table(out).num_rows == 50


def test_tables_astropy_serialises_otherwise_are_written_by_astropy(tmp_path, small_chunks):
    table = Table({"a": np.ma.MaskedArray(np.arange(20.0), mask=np.arange(20) % 3 == 0),
                   "v": np.arange(40.0).reshape(20, 2)})
    out = tables.write_parquet(table, tmp_path / "masked.parquet")
    back = Table.read(out)
    assert back["a"].mask.tolist() == table["a"].mask.tolist()
    np.testing.assert_array_equal(np.asarray(back["v"]), table["v"])
