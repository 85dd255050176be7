"""core.pieces: the same dict and the same VOTable as the one-call way, made of pieces of PIECE_ROWS rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import pieces
from core.catalog import tables
from core.catalog.export import CatalogueRow


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(pieces, "PIECE_ROWS", 7)
    monkeypatch.setattr(pieces, "stats", {"largest": 0, "pieces": 0})


def test_a_dict_in_pieces_is_the_dict_of_one_zip(small_pieces):
    keys = [f"/data/g{i}.fits" for i in range(50)]
    values = np.array([str(i) if i % 2 else np.nan for i in range(50)], dtype=object)
    made = pieces.dict_in_pieces(keys, values)
    assert made == dict(zip(keys, values)) and list(made) == keys
    assert pieces.stats == {"largest": 7, "pieces": 8}
    numbers = np.arange(50, dtype=float)
    assert pieces.dict_in_pieces(keys, numbers) == dict(zip(keys, numbers))
    assert pieces.dict_in_pieces([], numbers[:0]) == {}


def _rows(n: int) -> list[CatalogueRow]:
    """Rows with text of varying width (non-ASCII too), NaN, and joined number and text columns."""
    rng = np.random.default_rng(3)
    return [CatalogueRow(path=f"/data/gé{'x' * (i % 9)}{i}.fits", id=f"g{i}", cluster=i % 3,
                         cluster_name=f"cluster {i % 3}", label=["Spiral", "édge-on ✓", "", "=1+1"][i % 4],
                         label_source="user" if i % 4 == 0 else "model",
                         confidence=math.nan if i == 5 else float(rng.random()), x=float(rng.normal()),
                         y=float(rng.normal()),
                         extra={"cat_mass": math.nan if i % 6 == 0 else float(rng.normal()), "cat_kind": "ESI"[i % 3]})
            for i in range(n)]


def test_the_votable_in_pieces_is_astropys_byte_for_byte(tmp_path, small_pieces):
    """The file astropy's from_table(table) writes, with the same fields, INFOs and TABLEDATA."""
    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Info

    table = tables.catalogue_table(_rows(50), {"run": {"id": 4}, "method": "kmeans"})
    ours = tmp_path / "ours.vot"
    tables._write_votable(table, ours)
    assert pieces.stats["largest"] == 7 and pieces.stats["pieces"] == 8
    votable = from_table(table)  # what _write_votable did before it copied the rows in pieces
    vt = votable.get_first_table()
    vt.name = "galaxy_sorter_catalogue"
    vt.description = "Galaxy Sorter catalogue: one row per image, its cluster and label"
    for key, value in table.meta.items():
        vt.infos.append(Info(name=str(key), value=str(value)))
    votable.to_xml(str(tmp_path / "astropy.vot"))
    assert ours.read_bytes() == (tmp_path / "astropy.vot").read_bytes()
    copied, theirs = pieces.table_as_array(table), table.as_array()
    assert copied.dtype == theirs.dtype and copied.tobytes() == theirs.tobytes()  # NaN where NaN


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("labelled", [200, 12])
def test_the_lda_map_separates_the_labelled_classes_even_from_a_few_answers(k, labelled):
    """core.clustering.projection's LDA (scikit-learn's eigen solver with Ledoit-Wolf shrinkage: its default SVD
    solver kept the interpreter lock for the SVD of every labelled row) puts each class apart on the map, from 200
    answers and from 12 in 20 dimensions (where the within-class scatter is singular and the plain eigen solver fails)."""
    from core.clustering.projection import _lda_map

    rng = np.random.default_rng(k)
    n = 600
    clusters = rng.integers(0, k, n)
    Z = (rng.normal(scale=3, size=(k, 20))[clusters] + rng.normal(size=(n, 20))).astype(np.float32)
    asked = rng.permutation(n)[:labelled]
    labels = [None] * n
    for i in asked:
        labels[i] = f"class {clusters[i]}"
    for c in range(k):  # every class answered at least once
        labels[int(np.flatnonzero(clusters == c)[0])] = f"class {c}"
    xy = _lda_map(Z, labels, 0)
    assert xy.shape == (n, 2) and np.isfinite(xy).all()
    centres = np.array([xy[clusters == c].mean(0) for c in range(k)])
    spread = max(float(np.sqrt(((xy[clusters == c] - centres[c]) ** 2).sum(1).mean())) for c in range(k))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(k) for b in range(a + 1, k)]
    assert min(gaps) > 2 * spread, (gaps, spread)  # every galaxy, not only the answered ones

def test_json_decoded_in_pieces_is_json_loads(monkeypatch):
    """core.project_join.json_loads_in_pieces: the value json.loads gives, from runs of entries of about
    JSON_PIECE_CHARS characters, texts that end in ', ' (a cut there falls inside a string) and nesting included."""
    import json

    from core import project_join

    monkeypatch.setattr(project_join, "JSON_PIECE_CHARS", 60)
    monkeypatch.setattr(project_join, "decoded", {"calls": 0, "largest": 0})
    texts = ["E, ", 'é, "', "a\\", "x}, {", ""]
    rng = np.random.default_rng(5)
    value = {"version": 1, "join": {"catalogue": "c, d.csv", "columns": ["a", "b"], "skipped": [[1, 'x, "y'], {}],
                                    "n": {}, "r": None},
             "values": {"cat_mass": {f"k{i}, \"{i}\"": float(rng.normal()) for i in range(400)},
                        "cat_kind": {f"images/g{i}.fits": texts[i % len(texts)] for i in range(400)},
                        "cat_empty": {}, "cat_int": {f"k{i}": i for i in range(50)}}}
    text = project_join.json_in_pieces(value)
    assert project_join.json_loads_in_pieces(text) == json.loads(text) == value
    longest_entry = max(len(json.dumps({k: v})) for d in value["values"].values() for k, v in d.items())
    assert project_join.decoded["calls"] > 30 and project_join.decoded["largest"] <= 60 + 2 * longest_entry
    for small in ["{}", "[]", "1", '"a"', '{"a": {}}', '{"a": [1, {"b": 2}], "c": null}', ' { "a" : 1 , "b":2 } ']:
        assert project_join.json_loads_in_pieces(small) == json.loads(small), small
    for broken in ['{"a": 1', '{"a" 1}', '{a: 1}', '{"a": 1,}']:
        with pytest.raises(ValueError):
            project_join.json_loads_in_pieces(broken)


def test_a_joins_record_is_one_join_of_texts_no_longer_than_a_piece():
    """json_in_pieces joins its pieces' texts once: the old code copied the whole text at each level of nesting
    (braces, a key before it), each copy one call of the lock (29 MB at 200,000 galaxies, 106 ms)."""
    import json

    from core import project_join

    rng = np.random.default_rng(9)
    value = {"version": 1, "join": {"catalogue": "c.csv", "columns": ["a"], "n": {}},
             "values": {"cat_a": {f"k{i}": float(rng.normal()) for i in range(2_500)},
                        "cat_b": {f"k{i}": "E" for i in range(0, 2_500, 2)}, "cat_c": {}}}
    parts = project_join.json_parts(value, piece=100)
    longest_piece = max(len(json.dumps(dict(list(d.items())[a:a + 100])))
                        for d in value["values"].values() for a in range(0, len(d), 100))
    assert len(parts) > 30 and max(map(len, parts)) <= longest_piece  # the old code: the whole text, 3 times over
    assert "".join(parts) == project_join.json_in_pieces(value, piece=100) == json.dumps(value)
