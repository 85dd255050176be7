"""Which joined columns the Cluster x label table offers as classes, and each galaxy's class in one
(core/catalog/classes.py: data logic, no Qt; it lived in the table's widget)."""

from __future__ import annotations

import numpy as np

from core.catalog.classes import MAX_CLASSES, class_like, class_of, column_codes
from core.catalog.montage import class_codes
from tests.helpers import python_calls


def _text(values) -> np.ndarray:
    return np.array(values, dtype=object)


def test_classes_are_text_or_whole_numbers_of_few_values_a_magnitude_or_an_id_is_not():
    n = 3_000
    assert class_like(_text(["E", "S", "Irr", ""] * (n // 4)))  # a morphology column, unmatched rows empty
    assert class_like(np.arange(n) % 7 - 3.0)  # a T-type
    assert class_like(np.where(np.arange(n) % 5 == 0, np.nan, np.arange(n) % 3.0))  # NaN: unmatched
    assert not class_like(np.linspace(12, 24, n))  # a magnitude
    assert not class_like(_text([f"obj{i}" for i in range(n)]))  # an id
    assert not class_like(np.arange(n, dtype=np.float64))  # a numeric id
    assert not class_like(np.arange(MAX_CLASSES + 1.0).repeat(3))  # whole numbers, but too many values
    assert class_like(np.arange(float(MAX_CLASSES)).repeat(3))
    assert not class_like(_text(["a", "b", "c"]))  # as many values as galaxies given one: names, not classes
    assert not class_like(_text(["", ""])) and not class_like(np.full(4, np.nan)) and not class_like(_text([]))
    assert class_like(_text(["a", ""] * 2 + ["b"])) and not class_like(_text(["a", "", "b"]))


def test_a_text_column_is_looked_at_a_chunk_at_a_time_not_a_cell_at_a_time():
    """A join's result, shown on the GUI thread, asked class_like of every joined column: a class column of
    200,000 rows went through Python cell by cell (69 ms for four columns); now a few calls per 65,536 cells."""
    column = _text(["E", "S", "Irr"] * 70_000)
    ids = _text([f"obj{i}" for i in range(210_000)])
    assert python_calls(lambda: class_like(column), c_functions=True) < 100  # cell by cell: 210,000 set.add
    assert python_calls(lambda: class_like(ids), c_functions=True) < 20  # past 50 values in the first chunk


def test_a_cell_is_a_class_as_the_table_names_it():
    assert class_of("Sb") == "Sb" and class_of("") is None and class_of(float("nan")) is None
    assert class_of(3.0) == "3" and class_of(-1.0) == "-1" and class_of(2.5) == "2.5" and class_of(np.int64(4)) == "4"
    assert class_of(float("inf")) == "inf"


def test_a_column_is_numbered_as_its_cells_made_classes_one_by_one():
    rng = np.random.default_rng(5)
    for trial in range(30):
        n = int(rng.integers(0, 400))
        numbers = rng.choice([-2.0, 0.0, 1.0, 3.0, 10.0, 2.5, 1e-20, 1.000000001e-20, np.inf, -np.inf, np.nan],
                             size=n)
        text = _text(rng.choice(["E", "S0", "Sa", "", "10", "2"], size=n))
        for values in (numbers, numbers.astype(np.float32), (numbers[np.isfinite(numbers)] * 2).astype(np.int64), text):
            codes, classes = column_codes(values)
            want_codes, want_classes = class_codes([class_of(v) for v in values])
            assert classes == want_classes, trial
            np.testing.assert_array_equal(codes, want_codes)
