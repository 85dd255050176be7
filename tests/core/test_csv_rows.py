"""A table's rows are read with no object per row left for the garbage collector (core/catalog/bounded.py CsvRows).

The app collects garbage on the GUI thread only (app/collector.py): the rows a job read, two tracked objects a
row, were visited there while young (gen1 collections of 140 ms at 200,000 rows, the longest stall of Join a
catalogue and Load a truth file)."""

from __future__ import annotations

import gc

from core.catalog.bounded import CsvRows, csv_rows
from core.catalog.join import load_catalog
from core.catalog.truth import load_truth


def _tracked_after(read) -> int:
    """How many more objects the garbage collector tracks while what ``read()`` returns is kept."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        kept = read()
        after = len(gc.get_objects())
    finally:
        if enabled:
            gc.enable()
    del kept
    return after - before


def test_reading_a_table_leaves_no_object_per_row_for_the_garbage_collector(tmp_path):
    table = tmp_path / "cat.csv"
    table.write_text("id,mass,z,kind\n" + "".join(f"g{i},{i / 7:.3f},{i % 10 / 10},{'ESI'[i % 3]}\n"
                                                  for i in range(10_000)))
    truth = tmp_path / "truth.csv"
    truth.write_text("id,class\n" + "".join(f"g{i},{'ESI'[i % 3]}\n" for i in range(10_000)))
    assert _tracked_after(lambda: csv_rows(table)) < 500  # (line, list) a row: 20,000
    assert _tracked_after(lambda: load_catalog(table)) < 500
    assert _tracked_after(lambda: load_truth(truth)) < 500


def test_the_rows_read_as_a_list_of_line_and_cells(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text('a,b,c\n1,2,3\n\n4,"xy",6\n7,8\n9,10,11,12\n')
    header, rows = csv_rows(table)
    listed = [(2, ["1", "2", "3"]), (3, []), (4, ["4", "xy", "6"]), (5, ["7", "8"]), (6, ["9", "10", "11", "12"])]
    assert header == ["a", "b", "c"] and list(rows) == listed and len(rows) == 5
    assert [rows[i] for i in range(5)] == listed and rows[-1] == listed[-1] and rows[1:4] == listed[1:4]
    empty = CsvRows()
    empty.append(7, [])
    assert list(empty) == [(7, [])] and empty[0] == (7, [])
    cat = load_catalog(table)
    assert cat.columns == {"a": ["1", "4", "7", "9"], "b": ["2", "xy", "8", "10"], "c": ["3", "6", "", "11"]}
    assert cat.lines == [2, 4, 5, 6]
