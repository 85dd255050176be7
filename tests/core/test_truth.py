"""Truth files: plain labels CSV and the Kaggle solutions layout."""

from __future__ import annotations

import pytest

from core.catalog.truth import load_truth


def test_plain_csv_second_column_or_named(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("GalaxyID,morphology,top_answer\n1,spiral,features_or_disk\n2,elliptical,smooth\n3,,other\n")
    assert load_truth(p) == {"1": "spiral", "2": "elliptical"}
    assert load_truth(p, "top_answer") == {"1": "features_or_disk", "2": "smooth", "3": "other"}
    with pytest.raises(ValueError, match="no column"):
        load_truth(p, "nope")


def test_kaggle_solutions_give_question_one_answers(tmp_path):
    cols = ["GalaxyID"] + [f"Class{q}.{a}" for q, n in [(1, 3), (2, 2), (3, 2)] for a in range(1, n + 1)]
    p = tmp_path / "solutions_training_rev1.csv"
    p.write_text(",".join(cols) + "\n100008,0.38,0.62,0.0,0.1,0.5,0.2,0.3\n100023,0.9,0.1,0.0,0,0,0,0\n")
    assert load_truth(p) == {"100008": "features_or_disk", "100023": "smooth"}
