"""A real process for the reliability tests: one scenario, with a line on stdout at every acknowledged step.

Run as ``python tests/reliability/worker.py SCENARIO FOLDER [ARGS]`` with the
repository on ``PYTHONPATH``.  The tests kill it with SIGKILL at chosen points
and then check what is on disk.  Scenarios:

* ``extract``: features of every image into the project's cache, a line per batch;
* ``dec``: the whole pipeline with a short DEC, a line per progress report;
* ``finetune``: label a few images, run a fine-tuning round and apply it;
* ``labels``: label one image at a time, ``ack ROW LABEL`` once each is stored;
* ``export``: export the catalogue again and again, a line after each;
* ``export-pairs``: the same, changing a label before each export, so no two exports are alike;
* ``hold``: open the project and wait for a line on stdin (two processes on one project).
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.images.sample import CLASSES

FAST_DEC = {"pretrain_epochs": 3, "finetune_epochs": 3, "hidden_dims": (64, 64, 128, 10)}


def say(*parts: object) -> None:
    print(*parts, flush=True)


def config():  # -> PipelineConfig
    from core.pipeline import PipelineConfig

    return PipelineConfig(model="efficientnet_lite0", method="dec", n_clusters=3, use_gpu=False, batch_size=4,
                          dec_params=dict(FAST_DEC))


def main(argv: list[str]) -> int:
    scenario, folder = argv[0], Path(argv[1])
    if scenario == "extract":
        from core.features.extract import FeatureModel, extract_features
        from core.images.io import scan_folder
        from core.store.database import ProjectStore
        from core.store.layout import default_store_dir

        store = ProjectStore(default_store_dir(folder), root=folder)
        extract_features(scan_folder(folder), FeatureModel("efficientnet_lite0", use_gpu=False), cache=store.features,
                         batch_size=4, progress=lambda f, m: say("batch", f))
        say("done")
    elif scenario == "dec":
        from core.pipeline import run_pipeline

        run_pipeline(folder, config(), progress=lambda f, m: say("progress", round(f, 3), m))
        say("done")
    elif scenario in ("finetune", "labels", "export", "export-pairs", "hold"):
        from core.project import Project

        project = Project.open(folder)
        if scenario == "hold":
            say("open")
            sys.stdin.readline()
        elif scenario == "labels":
            for row in range(len(project)):
                label = CLASSES[row % 3]
                project.set_labels([row], label)
                say("ack", row, label)
        elif scenario == "export":
            out = Path(argv[2])
            for i in range(1000):
                project.export_csv(out)
                say("exported", i)
        elif scenario == "export-pairs":  # every export differs from the one before (the first image's label)
            out = Path(argv[2])
            for i in range(1000):
                project.set_labels([0], CLASSES[i % 3])
                project.export_csv(out)
                say("exported", i)
        else:
            res, _ = project.reload_features()
            project.features = res.features
            project.set_labels(range(0, len(project), 4), "spiral")
            say("ack labels")
            result = project.finetune(progress=lambda f, m: say("progress", round(f, 3)), steps=60)
            project.apply_round(result)
            say("done")
        project.close()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
