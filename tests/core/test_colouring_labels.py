"""A label updates the map's colouring from the one drawn, and equals recomputing it whole (issue 22).

At 10^6 galaxies recomputing "colour by label" takes seconds a key; ``after_labels`` gives the
same colouring from the rows the label changed, or None where it cannot (then the map recomputes).
"""

from __future__ import annotations

import numpy as np

from core.colouring import after_labels, colouring
from core.vocabulary import LabelClass


def _project(tmp_path):
    from tests.helpers import fake_project

    p = fake_project(tmp_path)
    p.name_cluster(1, "spiral")
    return p


def test_after_labels_equals_the_colouring_recomputed(tmp_path):
    p = _project(tmp_path)
    rng = np.random.default_rng(0)
    drawn = colouring(p, "label")
    choices = ["spiral", "elliptical", None, "irregular", "merger"]
    fast = 0
    for _ in range(30):
        rows = rng.choice(len(p), int(rng.integers(1, 3)), replace=False)
        p.set_labels(rows, choices[int(rng.integers(len(choices)))])
        updated = after_labels(p, "label", drawn, rows)
        whole = colouring(p, "label")
        if updated is None:
            drawn = whole
            continue
        fast += 1
        np.testing.assert_array_equal(updated.groups, whole.groups)
        assert {k: updated.colors[k] for k in set(whole.groups)} == {k: whole.colors[k] for k in set(whole.groups)}
        assert {k: updated.names[k] for k in set(whole.groups)} == {k: whole.names[k] for k in set(whole.groups)}
        drawn = updated
    assert fast >= 20  # most labels take the O(rows) update (a longer label than drawn recomputes)
    p.close()


def test_a_label_like_an_unnamed_clusters_name_recomputes_and_others_ignore_labels(tmp_path):
    p = _project(tmp_path)
    drawn = colouring(p, "label")
    p.classes.append(LabelClass("cluster 2", "#123456"))  # a store of before such names were refused (859cdfe)
    p.set_labels([0], "cluster 2")  # colours every unlabelled galaxy of cluster 2 too: only a whole recount knows
    assert after_labels(p, "label", drawn, np.array([0])) is None
    by_cluster = colouring(p, "cluster")
    p.set_labels([1], "spiral")
    assert after_labels(p, "cluster", by_cluster, np.array([1])) is by_cluster  # a label changes no cluster colour
    p.close()


def test_colour_by_labels_grouping_is_what_sorting_every_key_gives(tmp_path):
    """by_label hands the map its keys, each galaxy's index into them and their counts (sorting its short table of
    keys, not 200,000 label texts): the same as np.unique of its groups, through labels, named clusters, a label
    like a cluster's name and one shared by a cluster's name and a label."""
    p = _project(tmp_path)
    p.classes.append(LabelClass("cluster 2", "#123456"))  # a store of before such names were refused (859cdfe)
    rng = np.random.default_rng(1)
    for step in range(12):
        rows = rng.choice(len(p), int(rng.integers(1, 4)), replace=False)
        p.set_labels(rows, ["spiral", "elliptical", None, "merger", "cluster 2"][step % 5])
        c = colouring(p, "label")
        assert c.grouping is not None
        keys, inverse, counts = np.unique(c.groups, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(c.grouping[0], keys)
        np.testing.assert_array_equal(c.grouping[1], inverse.ravel())
        np.testing.assert_array_equal(c.grouping[2], counts)
    p.close()
