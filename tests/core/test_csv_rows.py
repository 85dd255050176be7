"""A table's rows are read with no object per row, nor a list of every cell, left for the garbage collector to visit
(core/catalog/bounded.py CsvRows; a catalogue's columns as arrays).

The app collects garbage on the GUI thread only (app/collector.py): the rows a job read, two tracked objects a
row, were visited there while young (gen1 collections of 140 ms at 200,000 rows, the longest stall of Join a
catalogue and Load a truth file)."""

from __future__ import annotations

import gc

from core.catalog.bounded import CsvRows, csv_rows
from core.catalog.join import load_catalog
from core.catalog.truth import load_truth


def _tracked_after(read) -> tuple[int, int]:
    """How many more objects the garbage collector tracks while what ``read()`` returns is kept, and how many
    references a collection visits in them."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = {id(o) for o in gc.get_objects()}
        kept = read()
        every = gc.get_objects()
        new = [o for o in every if id(o) not in before and o is not before and o is not every]
        visits = sum(len(gc.get_referents(o)) for o in new)
    finally:
        if enabled:
            gc.enable()
    del kept
    return len(new), visits


def test_reading_a_table_leaves_no_object_per_row_for_the_garbage_collector(tmp_path):
    table = tmp_path / "cat.csv"
    table.write_text("id,mass,z,kind\n" + "".join(f"g{i},{i / 7:.3f},{i % 10 / 10},{'ESI'[i % 3]}\n"
                                                  for i in range(10_000)))
    truth = tmp_path / "truth.csv"
    truth.write_text("id,class\n" + "".join(f"g{i},{'ESI'[i % 3]}\n" for i in range(10_000)))
    tracked, visits = _tracked_after(lambda: csv_rows(table))
    assert tracked < 500 and visits < 2_000  # (line, list) a row: 20,000 objects, 60,000 references
    tracked, visits = _tracked_after(lambda: load_catalog(table))
    assert tracked < 500 and visits < 2_000  # a list per column: 40,000 references (the table kept by a join job)
    assert _tracked_after(lambda: load_truth(truth))[0] < 500


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
    many = CsvRows()  # rows kept in blocks of whole rows: a row is read back whole from any block
    made = [(i + 2, [f"c{i}_{j}" for j in range(i % 5)]) for i in range(60_000)]
    for line, row in made:
        many.append(line, list(row))
    assert list(many) == made and many[35_001] == made[35_001] and many[-1] == made[-1] and len(many._blocks) >= 1
    cat = load_catalog(table)
    assert {k: list(v) for k, v in cat.columns.items()} == {"a": ["1", "4", "7", "9"], "b": ["2", "xy", "8", "10"],
                                                            "c": ["3", "6", "", "11"]}
    assert list(cat.lines) == [2, 4, 5, 6]
