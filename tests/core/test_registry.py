"""One registry per extension point: a toy method, format or colouring is one entry, and every list sees it."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np
import pytest

from core.catalog.export import EXPORT_FORMATS, atomic_write_text
from core.clustering.methods import CLUSTER_METHODS, cluster_features
from core.clustering.projection import PROJECTION_METHODS, project
from core.colouring import COLOURINGS, Colouring, colouring
from core.features.extract import FEATURE_MODELS
from core.registry import Registry
from tests.helpers import halves as _halves


@pytest.fixture
def toy_method():
    CLUSTER_METHODS.add("halves", _halves)
    yield "halves"
    CLUSTER_METHODS.remove("halves")


@dataclass(frozen=True)
class _WidgetOptions:
    uses_k: bool = True


def test_registry_defaults_and_errors():
    reg = Registry("widget", options_type=_WidgetOptions)
    entry = reg.add("plain", lambda: 1)
    assert reg.default == "plain" and entry.label == "plain" and entry.options.uses_k is True
    reg.add("fancy", lambda: 2, "Fancy one", uses_k=False)
    assert reg.names() == ("plain", "fancy") and reg.get("fancy").label == "Fancy one"
    assert reg.get("fancy").options == _WidgetOptions(uses_k=False)
    assert reg.add("typed", lambda: 3, options=_WidgetOptions(False)).options.uses_k is False
    with pytest.raises(ValueError, match=r"unknown widget 'nope'; choose one of \('plain', 'fancy', 'typed'\)"):
        reg.get("nope")
    # A misspelt option is refused when the entry is added, never read back as a silent default.
    with pytest.raises(TypeError, match="widget 'oops'.*uses_kk.*_WidgetOptions"):
        reg.add("oops", lambda: 4, uses_kk=False)
    with pytest.raises(AttributeError, match="no option 'usesk'"):
        entry.option("usesk")
    with pytest.raises(TypeError, match="must be a dataclass"):
        Registry("gadget", options_type=dict)
    assert "oops" not in reg


def test_every_registry_declares_frozen_typed_options():
    from dataclasses import FrozenInstanceError

    from core.images.io import IMAGE_READERS

    for registry in (CLUSTER_METHODS, FEATURE_MODELS, PROJECTION_METHODS, COLOURINGS, EXPORT_FORMATS, IMAGE_READERS):
        for entry in registry:
            assert isinstance(entry.options, registry.options_type), (registry.kind, entry.name)
        if len(registry) and dataclass_fields(registry.options_type):
            first = next(iter(registry))
            with pytest.raises(FrozenInstanceError):
                setattr(first.options, dataclass_fields(first.options)[0].name, None)


def test_every_extension_point_lists_what_it_had():
    # (at least: new entries may follow without touching this test)
    assert CLUSTER_METHODS.names()[:6] == ("dec", "kmeans", "pca-kmeans", "agglomerative", "dbscan", "dec-raw")
    assert CLUSTER_METHODS.default == "dec"
    assert {"xception", "efficientnet_lite0"} <= set(FEATURE_MODELS.names()) and FEATURE_MODELS.default == "galaxy_duo"
    assert PROJECTION_METHODS.names()[:3] == ("pca", "tsne", "lda")
    assert COLOURINGS.names()[:3] == ("cluster", "label", "confidence")
    assert EXPORT_FORMATS.names()[0] == "csv"
    for entry in FEATURE_MODELS:  # what build.spec and build_models.py read
        assert entry.options.file == f"{entry.name}.onnx"
        if entry.options.exporter is None:  # trained here and committed (models/train_galaxy_net.py)
            assert (Path(__file__).resolve().parents[2] / "models" / entry.options.file).is_file()
        else:
            assert entry.options.exporter == f"export_{entry.name}"


def test_a_toy_method_is_offered_by_the_cli_and_runs_through_it(toy_method, tmp_path, sample_folder, capsys):
    from core.cli import _parser, main

    assert _parser().parse_args(["cluster", "x", "--method", toy_method]).method == toy_method
    CLUSTER_METHODS.remove(toy_method)
    with pytest.raises(SystemExit):  # argparse refuses a method the registry does not hold
        _parser().parse_args(["cluster", "x", "--method", toy_method])
    CLUSTER_METHODS.add(toy_method, _halves)
    folder = shutil.copytree(sample_folder, tmp_path / "imgs")
    out = tmp_path / "toy.csv"
    code = main(["cluster", str(folder), "--model", "efficientnet_lite0", "--method", toy_method, "--out", str(out),
                 "--quiet"])
    assert code == 0, capsys.readouterr()
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 30 and {r["cluster"] for r in rows} == {"0", "1"}
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["method"] == toy_method and side["k_used"] == 2


def test_cluster_features_records_the_k_really_used():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (40, 5)), rng.normal(5, 0.1, (40, 5))]).astype(np.float32)
    res = cluster_features(X, "dbscan", 7)
    assert res.params["n_clusters"] == 7  # asked for
    assert res.params["k_used"] == len(set(res.labels.tolist()) - {-1}) == 2  # found
    small = cluster_features(X[:4], "kmeans", 10)
    assert small.params["k_used"] == 4


def test_projection_registry_drives_project():
    X = np.random.default_rng(0).normal(size=(20, 6))
    PROJECTION_METHODS.add("first-two", lambda Z, labels, random_state: Z[:, :2])
    try:
        out = project(X, "first-two")
    finally:
        PROJECTION_METHODS.remove("first-two")
    assert out.shape == (20, 2) and out.dtype == np.float32
    with pytest.raises(ValueError, match="unknown projection"):
        project(X, "first-two")


def test_a_toy_export_format_is_one_entry(tmp_path):
    from core.catalog.export import export_catalogue
    from core.store.database import ProjectStore

    def write_tsv(rows, path):
        return atomic_write_text(path, "".join(f"{r.id}\t{r.label}\n" for r in rows))

    store = ProjectStore(tmp_path / "store")
    ids = store.add_images([tmp_path / "a.png", tmp_path / "b.png"])
    run = store.save_run("kmeans", "efficientnet_lite0", 2, {"seed": 0}, [], list(ids.values()), np.array([0, 1]),
                         np.array([0.9, 0.8]), np.zeros((2, 2)))
    store.set_labels([ids[str(tmp_path / "a.png")]], "spiral")
    EXPORT_FORMATS.add("tsv", write_tsv, "Table (TSV)", suffix=".tsv")
    try:
        from core.cli import _parser

        assert _parser().parse_args(["cluster", "x", "--format", "tsv"]).format == "tsv"
        path, sidecar = export_catalogue(store, run, tmp_path / "cat.tsv", "tsv")
    finally:
        EXPORT_FORMATS.remove("tsv")
        store.close()
    assert path.read_text().splitlines() == ["a\tspiral", "b\tcluster 1"]
    assert json.loads(sidecar.read_text())["user_labels"] == 1


def test_colourings_are_qt_free_and_one_entry_adds_one(tmp_path):
    from tests.helpers import fake_project

    p = fake_project(tmp_path)
    p.name_cluster(1, "spiral")
    p.set_labels([0], "irregular")
    by_cluster = colouring(p, "cluster")
    assert by_cluster.names == {0: "cluster 0", 1: "spiral", 2: "cluster 2"}
    assert by_cluster.colors[1] == p.color_of("spiral") and not by_cluster.continuous
    by_label = colouring(p, "label")
    assert by_label.groups[0] == "irregular" and by_label.groups[1] == "spiral" and by_label.groups[2] == "(no label)"
    assert colouring(p, "confidence").continuous
    COLOURINGS.add("first half", lambda proj: Colouring(np.arange(len(proj)) < len(proj) // 2, {True: "#000000",
                                                                                               False: "#ffffff"}))
    try:
        assert colouring(p, "first half").groups.sum() == 6
    finally:
        COLOURINGS.remove("first half")
    p.close()
