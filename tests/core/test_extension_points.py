"""docs/ARCHITECTURE.md's file counts, proven: a feature model, a clustering method, an export format and an
image reader are each one registry entry (plus the code that does the work), and the CLI, the pipeline and
the catalogue take them with nothing else edited."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.catalog.export import EXPORT_FORMATS, atomic_write_text
from core.cli import _parser, main
from core.clustering.methods import CLUSTER_METHODS, ClusterResult
from core.features.extract import FEATURE_MODELS, FeatureModel
from core.images.io import IMAGE_READERS, ImageReadError, image_id, is_image_name, read_image, scan_images

ROOT = Path(__file__).resolve().parents[2]


def _toy_hdbscan(X, n_clusters, *, random_state, **_):
    """A toy HDBSCAN entry: finds its own number of clusters, leaves noise as -1."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    Z = PCA(min(5, X.shape[1]), random_state=random_state).fit_transform(X)
    labels = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(Z).astype(np.int64)
    k = max(1, int(labels.max()) + 1)
    soft = np.zeros((len(X), k))
    soft[labels >= 0, labels[labels >= 0]] = 1.0
    return ClusterResult("toy-hdbscan", labels, soft.max(1), soft, params={"min_cluster_size": 5})


def _read_npy(path: Path) -> np.ndarray:
    """A toy reader: an RGB uint8 array saved with numpy."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"not a readable .npy image ({exc})") from exc
    return np.ascontiguousarray(data, dtype=np.uint8)


def _write_tsv(rows, path):
    return atomic_write_text(path, "".join(f"{r.id}\t{r.cluster}\t{r.label}\n" for r in rows))


@pytest.fixture
def toy_entries(tmp_path, monkeypatch):
    """One entry per extension point, added through the registries alone; removed afterwards."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "toy_net.onnx").symlink_to(ROOT / "models" / "galaxy_cnn.onnx")  # "write models/toy_net.onnx"
    monkeypatch.setenv("GALAXY_SORTER_MODELS", str(models))
    FEATURE_MODELS.add("toy_net", FeatureModel, "Toy net", "a model file dropped into models/", file="toy_net.onnx")
    CLUSTER_METHODS.add("toy-hdbscan", _toy_hdbscan, "Toy HDBSCAN", "density clusters", uses_k=False)
    EXPORT_FORMATS.add("toy-tsv", _write_tsv, "Table (TSV)", suffix=".tsv", filter="TSV files (*.tsv)")
    IMAGE_READERS.add("npy", _read_npy, "NumPy arrays", suffixes=(".npy",))
    yield
    FEATURE_MODELS.remove("toy_net")
    CLUSTER_METHODS.remove("toy-hdbscan")
    EXPORT_FORMATS.remove("toy-tsv")
    IMAGE_READERS.remove("npy")


def _npy_folder(sample_folder: Path, dest: Path) -> Path:
    """The sample's PNGs saved as .npy arrays (only the toy reader can read them)."""
    import cv2

    dest.mkdir()
    for png in sorted(sample_folder.glob("*.png")):
        rgb = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        np.save(dest / f"{png.stem}.npy", rgb)
    return dest


def test_the_cli_offers_every_toy_entry(toy_entries):
    args = _parser().parse_args(["cluster", "x", "--model", "toy_net", "--method", "toy-hdbscan",
                                 "--format", "toy-tsv"])
    assert (args.model, args.method, args.format) == ("toy_net", "toy-hdbscan", "toy-tsv")


def test_four_toy_entries_run_end_to_end_through_the_cli(toy_entries, sample_folder, tmp_path, capsys):
    folder = _npy_folder(sample_folder, tmp_path / "arrays")
    found, skipped = scan_images(folder)
    assert len(found) == 30 and not skipped and is_image_name("a.NPY") and image_id(found[0]) == found[0].stem
    out = tmp_path / "cat.tsv"
    # k = 1 is refused for a method that uses k; the toy declares uses_k=False, so the pipeline takes it as given.
    code = main(["cluster", str(folder), "--model", "toy_net", "--method", "toy-hdbscan", "--clusters", "1",
                 "--format", "toy-tsv", "--out", str(out), "--quiet", "--cpu"])
    printed = capsys.readouterr()
    assert code == 0, printed
    assert "note:" not in printed.out  # no "k used differs" note for a method that finds its own k
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert sorted(r[0] for r in rows) == sorted(p.stem for p in found)
    names = {r[2] for r in rows}
    assert names <= {"noise"} | {f"cluster {c}" for c in range(30)} and len(names) >= 2
    side = json.loads(out.with_name(out.name + ".json").read_text())
    from core.features.extract import file_sha256

    assert side["method"] == "toy-hdbscan" and side["model"]["name"] == "toy_net"
    assert side["model"]["sha256"] == file_sha256(ROOT / "models" / "galaxy_cnn.onnx")  # the entry's file was run
    assert side["k_used"] == len({r[1] for r in rows} - {"-1"})


def test_a_toy_reader_serves_features_and_display(toy_entries, sample_folder, tmp_path):
    from core.images.display import Stretch, read_raw, render

    folder = _npy_folder(sample_folder, tmp_path / "arrays")
    path = sorted(folder.iterdir())[0]
    rgb = read_image(path)
    assert rgb.shape[2] == 3 and rgb.dtype == np.uint8
    raw = read_raw(path)  # no read_raw option: the display stretches the reader's RGB
    assert raw.dtype == np.float32 and np.array_equal(raw, rgb.astype(np.float32))
    assert render(path, Stretch("asinh"), size=32).shape[2] == 3
    (folder / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(ImageReadError, match="not a readable .npy image"):
        read_image(folder / "broken.npy")


def test_without_the_entry_the_toy_reader_files_are_not_images(sample_folder, tmp_path):
    folder = _npy_folder(sample_folder, tmp_path / "arrays")
    assert "npy" not in IMAGE_READERS
    assert scan_images(folder) == ([], [])
    shutil.rmtree(folder)
