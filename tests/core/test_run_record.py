"""The run record: one catalogue path for app and CLI, settings that round-trip, k used, soft assignments,
and a store connection that stays on the thread that opened it."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from core.images.preprocess import Preprocessing
from core.pipeline import PipelineConfig, export_result, run_in_own_store, run_pipeline
from core.project import Project
from core.store.database import ProjectStore


@pytest.fixture
def clustered(tmp_path, sample_folder):
    folder = shutil.copytree(sample_folder, tmp_path / "imgs")
    config = PipelineConfig(model="efficientnet_lite0", method="kmeans", n_clusters=3, seed=4,
                            prep=Preprocessing("fixed", 0.6, False), batch_size=8, use_gpu=False)
    result = run_pipeline(folder, config, store_dir=tmp_path / "store")
    yield folder, config, result
    result.store.close()


def test_app_and_cli_write_the_same_catalogue_and_sidecar(clustered, tmp_path):
    folder, config, result = clustered
    project = Project.open(folder, store_dir=tmp_path / "store")  # (gives the store its default classes)
    project.set_labels([0], "spiral")
    cli_csv, cli_json = export_result(result, config, tmp_path / "cli.csv")
    app_csv, app_json = project.export_csv(tmp_path / "app.csv")
    project.close()
    assert app_csv.read_text() == cli_csv.read_text()
    cli_side, app_side = json.loads(cli_json.read_text()), json.loads(app_json.read_text())
    assert app_side == cli_side
    # what the README promises, in the app's sidecar too (it had none of these)
    assert len(app_side["model"]["sha256"]) == 64 and app_side["model"]["provider"] == "CPUExecutionProvider"
    assert {"extract", "cluster", "total"} <= set(app_side["timings_s"])
    assert app_side["n_clusters"] == 3 and app_side["k_used"] == 3 and app_side["images"] == 30
    assert app_side["user_labels"] == 1 and "spiral" in app_csv.read_text()
    assert app_side["preprocessing"] == {"crop": "fixed", "crop_fraction": 0.6, "rotations": False}


def test_the_settings_come_back_from_the_stored_run(clustered, tmp_path):
    folder, config, result = clustered
    assert PipelineConfig.from_run(result.store.run(result.run_id)) == config
    project = Project.open(folder, store_dir=tmp_path / "store")
    assert project.config() == config
    project.close()


def test_the_soft_assignments_are_stored_not_rebuilt(clustered, tmp_path):
    folder, _config, result = clustered
    project = Project.open(folder, store_dir=tmp_path / "store")
    soft, _embedding = project.model_view()
    order = [result.paths.index(type(result.paths[0])(p)) for p in project.paths]
    np.testing.assert_allclose(soft, result.clusters.soft[order], rtol=1e-6)
    project.close()


def test_the_job_closes_its_store_on_its_own_thread_when_the_run_fails(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not an image")  # the run fails after opening the store
    opened, closed = [], []
    real_init, real_close = ProjectStore.__init__, ProjectStore.close

    def init(self, *args, **kwargs):
        opened.append(threading.get_ident())
        real_init(self, *args, **kwargs)

    def close(self):
        closed.append(threading.get_ident())
        real_close(self)

    monkeypatch.setattr(ProjectStore, "__init__", init)
    monkeypatch.setattr(ProjectStore, "close", close)
    errors = []

    def job():
        try:
            run_in_own_store(folder, PipelineConfig(model="efficientnet_lite0", use_gpu=False), tmp_path / "store")
        except FileNotFoundError as exc:
            errors.append(exc)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert errors and "fewer than two readable images" in str(errors[0])
    assert opened == closed == [worker.ident]


@pytest.mark.slow
def test_a_tsne_run_shows_the_clusters_on_a_pca_map_first_and_reports_and_cancels(tmp_path, sample_folder):
    """Issue 13: t-SNE with progress and cancel, and a PCA map of the clusters while it runs."""
    from core.progress import Cancelled

    folder = shutil.copytree(sample_folder, tmp_path / "imgs")
    config = PipelineConfig(model="efficientnet_lite0", method="kmeans", n_clusters=3, seed=1, projection="tsne",
                            batch_size=8, use_gpu=False)
    partials: list[tuple] = []
    messages: list[str] = []
    result = run_in_own_store(folder, config, tmp_path / "store", partial=partials.append,
                              progress=lambda f, m: messages.append(m))
    previews = [p for p in partials if len(p) == 3]
    assert len(previews) == 1
    _, coords, clusters = previews[0]
    assert coords.shape == (len(result.paths), 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(clusters, result.clusters.labels)
    assert not np.allclose(coords, result.coords)  # the preview is PCA, the result t-SNE
    assert any("t-SNE iteration" in m for m in messages)

    seen: list[str] = []
    with pytest.raises(Cancelled):
        run_in_own_store(folder, config, tmp_path / "store2", progress=lambda f, m: seen.append(m),
                         should_stop=lambda: any("t-SNE iteration" in m for m in seen))
    assert sum("t-SNE iteration" in m for m in seen) < 5  # stopped within a few progress reports
