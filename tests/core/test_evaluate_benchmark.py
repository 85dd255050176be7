"""benchmarks/evaluate.py runs on any labelled folder (--data, --truth, --label-column)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import evaluate as bench  # noqa: E402


def test_evaluate_on_any_folder(tmp_path, capsys):
    folder = tmp_path / "survey"
    folder.mkdir()
    rng = np.random.default_rng(0)
    ids = [f"obj{i:03d}" for i in range(60)]
    labels = ["a"] * 45 + ["b"] * 15
    for i in ids:
        (folder / f"{i}.jpg").write_bytes(b"")  # listed only: features come from the npz
    truth = tmp_path / "truth.csv"
    truth.write_text("id,ra,kind\n" + "".join(f"{i},0.0,{lab}\n" for i, lab in zip(ids, labels)))
    feats = rng.normal(size=(60, 5)).astype(np.float32)
    feats[45:, 0] += 6.0
    np.savez(tmp_path / "fake.npz", ids=np.array(ids), features=feats)
    code = bench.main(["--data", str(folder), "--truth", str(truth), "--label-column", "kind", "--subset", "all",
                       "--models", "fake", "--methods", "kmeans,gmm", "--precomputed", str(tmp_path / "{model}.npz")])
    assert code == 0
    out = capsys.readouterr().out
    for method in ("kmeans", "gmm"):
        rows = {line for line in out.splitlines() if line.startswith(f"| survey | 60 | 2 | fake | {method} |")}
        assert len(rows) == 1  # printed as it runs and again in the final table
    rows = {line for line in out.splitlines() if line.startswith("| survey | 60 | 2 | fake | kmeans |")}
    assert float(sorted(rows)[0].split("|")[8]) > 0.9  # ARI column: the two groups are far apart
    assert "logistic regression" in out


def test_kaggle_split_matches_training_script():
    sys.path.insert(0, str(ROOT / "models"))
    from train_galaxy_net import split_of

    ids = [str(100000 + i) for i in range(50)]
    assert bench.kaggle_split(ids) == [split_of(i) for i in ids]


def test_the_class_balanced_probe_is_fitted_for_the_balanced_score():
    """On a 9 : 1 set whose classes overlap, the plain probe's cut favours the common class and gives up the rare
    one's recall, which balanced accuracy counts; the class-balanced probe (issue 24's second probe) keeps it."""
    rng = np.random.default_rng(0)
    y = np.array(["common"] * 540 + ["rare"] * 60)
    X = rng.normal(size=(600, 4))
    X[y == "rare", 0] += 1.5
    plain, balanced = bench.supervised_probe(X, y), bench.supervised_probe(X, y, balanced=True)
    assert balanced[1] > plain[1] + 0.1, (plain, balanced)  # balanced accuracy
    assert plain[0] > balanced[0]  # plain accuracy is what the plain fit maximises
