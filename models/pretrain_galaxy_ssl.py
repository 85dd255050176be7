"""Self-supervised pretraining of galaxy_cnn's network (SimCLR) on every Kaggle image the measurements never read.

Why (issue 24): the 64-feature networks trained on labels alone lose most of a
single band (GC1-SDSS band i: probe 0.80 against 0.90 in colour) and of a
galaxy small in its frame; a wider network did not help on the transfer sets
(``docs/models.md``).  The issue's remaining starting point is self-supervised
pretraining (Hayat et al. 2021, Stein et al. 2021): learn which images are the
same galaxy before learning what the labels call it, then train on the labels
from there (``train_galaxy_net2.py --init`` this script's file).

The task (SimCLR, Chen et al. 2020, NT-Xent loss)
    Each step draws ``--batch-size`` galaxies and two *different* stored views
    of each (``train_galaxy_net2.build_bank``: the galaxy shrunk in its frame on
    its own sky, a wider PSF, more noise, JPEG, another user's crop, then the
    crop measured as extraction measures it), each randomly rotated, flipped,
    zoomed, resampled, colour-jittered and, for ``--grey-fraction`` of them,
    reduced to one band (``train_galaxy_net2.augment``).  The network learns to
    tell the two views of a galaxy apart from the other 2(B-1) views: the
    invariances asked for are exactly the conditions of
    ``benchmarks/robustness.py`` (size, band, PSF, S/N, JPEG).  The loss is on
    a projection head (64 -> 128 -> 64, discarded); the file keeps the 64
    features before it, as in SimCLR.

Data (never the test split, never GALAXY CRUISE)
    ``../shared/data/galaxy-zoo-kaggle``: the labelled images of the TRAIN split
    (``train_galaxy_net.split_of``; every morphology, "other" included, since no
    label is read) and the 1,197 ``unlabelled/`` competition images.  The
    Kaggle test split and GC1 stay for measuring.

Commands of the candidates measured in ``docs/models.md`` ("galaxy_ssl, galaxy_cnn5":
measured and not kept; 26 minutes for the 4,000 steps and 4 for the views on the quiet
2-core CPU, then 3.5 minutes for the labels)::

    nice -n 5 .venv/bin/python models/pretrain_galaxy_ssl.py --steps 4000 --seed 0 --threads 2 \\
        --bank /tmp/ssl_bank_s0.npy --out models/galaxy_ssl.onnx
    nice -n 5 .venv/bin/python models/train_galaxy_net2.py --steps 2400 --seed 0 --batch-size 64 --lr 0.0015 \\
        --grey-fraction 0.5 --grey-as-band --whole-crop --init models/galaxy_ssl.onnx --threads 2 \\
        --out models/galaxy_cnn5.onnx
    .venv/bin/python models/export_galaxy_duo.py --images 1500 --seed 0 --second galaxy_cnn5 \\
        --name galaxy_duo5 --out models/galaxy_duo5.onnx

(and ``--second galaxy_ssl --name galaxy_duo_ssl``).  The views of the first
5,204 images (the train split) are galaxy_cnn3's: the same seed, index and framing.

Both losses at once (``--label-weight``: the labelled galaxies' cross-entropy
added, galaxy_cnn6; 10 minutes; not kept in galaxy_cnn2's place, but committed
as galaxy_trio's third part, what a single-band folder gets)::

    nice -n 5 .venv/bin/python models/pretrain_galaxy_ssl.py --steps 1500 --lr 0.001 --seed 0 --threads 2 \\
        --label-weight 1.0 --init models/galaxy_cnn2.onnx --bank /tmp/ssl_bank_s0.npy --out models/galaxy_cnn6.onnx
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import train_galaxy_net as v1  # noqa: E402
import train_galaxy_net2 as v2  # noqa: E402

OUT = HERE / "galaxy_ssl.onnx"


def image_paths(data: Path, limit: int = 0) -> list[Path]:
    """The images the pretraining reads: the labelled TRAIN split (every morphology), then ``unlabelled/``.

    Sorted by name within each part, so the bank's order (and each image's seeded
    views) does not depend on the file system.  ``limit`` keeps the first N of each part (tests).
    """
    labels = v1.load_labels(data / "labels.csv")
    train = sorted(i for i in labels if v1.split_of(i) == "train" and (data / "images" / f"{i}.jpg").is_file())
    paths = [data / "images" / f"{i}.jpg" for i in train]
    extra = sorted((data / "unlabelled").glob("*.jpg")) if (data / "unlabelled").is_dir() else []
    if limit:
        paths, extra = paths[:limit], extra[:limit]
    return paths + extra


def nt_xent(z, temperature: float):
    """SimCLR's loss on L2-normalised projections ``z`` (2B, d), rows i and i + B the two views of a galaxy.

    Returns (loss, the share of views whose nearest other view is their partner).
    """
    import torch
    import torch.nn.functional as F

    n = z.shape[0] // 2
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))  # a view is not its own partner
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target), (sim.argmax(1) == target).float().mean()


def pretrain(bank: np.ndarray, *, steps: int, batch_size: int = 128, lr: float = 2e-3, temperature: float = 0.2,
             seed: int = 0, grey_fraction: float = 0.5, threads: int = 1, log_every: int = 50,
             labels: np.ndarray | None = None, label_weight: float = 0.0, init: Path | None = None):
    """SimCLR on the view bank (n, views >= 2, STORE_SIZE, STORE_SIZE, 3) for ``steps`` updates; return the network.

    With ``labels`` (one per bank row, the index in ``train_galaxy_net.CLASSES``,
    -1 for an unlabelled image) and ``label_weight`` > 0, the loss adds that
    weight times the class-weighted cross-entropy of both views of each labelled
    galaxy (the network's own head): contrastive and supervised at once, meant
    to keep what the labels need among the features' main directions (on
    galaxies shrunk to 1/3 size they did not: ``docs/models.md``).  ``init``
    warm-starts the network from a file of galaxy_cnn's architecture
    (``train_galaxy_net2.warm_start``).  Seeded: the same bank, seed and thread
    count give the same weights.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    if bank.shape[1] < 2:
        raise ValueError("the bank needs at least two views of each galaxy")
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    net = v1.build_net()
    imgs = torch.from_numpy(np.ascontiguousarray(bank))
    n, views = imgs.shape[:2]
    if init is not None:  # calibrated on 256 first views, drawn as train_galaxy_net2.train draws them
        idx = torch.randint(0, n, (256,), generator=gen)
        v2.warm_start(net, init, v2.augment(imgs[idx, 0], gen, grey_fraction=grey_fraction, grey_as_band=True))
    supervised = labels is not None and label_weight > 0
    if supervised:
        ys = torch.from_numpy(labels.astype(np.int64))
        loss_fn = v1.class_weighted_loss(labels[labels >= 0])
    proj = nn.Sequential(nn.ReLU(), nn.Linear(v1.EMBED_DIM, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 64))
    params = list(net.parameters()) + list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    start, running = time.perf_counter(), []
    net.train()
    proj.train()
    for step in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=gen)
        first = torch.randint(0, views, (batch_size,), generator=gen)
        second = (first + torch.randint(1, views, (batch_size,), generator=gen)) % views  # another stored view
        x = torch.cat([v2.augment(imgs[idx, first], gen, grey_fraction=grey_fraction, grey_as_band=True),
                       v2.augment(imgs[idx, second], gen, grey_fraction=grey_fraction, grey_as_band=True)])
        cur = lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = cur
        h = net.features(x)
        loss, acc = nt_xent(F.normalize(proj(h), dim=1), temperature)
        if supervised:
            y = ys[idx].repeat(2)
            known = y >= 0
            if known.any():
                loss = loss + label_weight * loss_fn(net.head(h[known]), y[known])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append((loss.item(), acc.item()))
        if (step + 1) % log_every == 0:
            v1.log_progress(step + 1, steps, running, cur, start)
    net.eval()
    return net


def main(argv: list[str] | None = None) -> int:
    # --batch-size: galaxies per step, two views each.
    parser = v2.run_arguments(__doc__.splitlines()[0], "folder with labels.csv, images/ and unlabelled/", OUT, 128, 2e-3)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--grey-fraction", type=float, default=0.5, help="share of one-band views")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bank", type=Path, default=None,
                        help="cache of the views (.npy; made if missing, reused if present)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images of each part (tests)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label-weight", type=float, default=0.0,
                        help="add this times the labelled galaxies' cross-entropy (0: SimCLR alone, no label read)")
    parser.add_argument("--init", type=Path, default=None,
                        help="warm start from this file of galaxy_cnn's architecture (galaxy_cnn2.onnx; default: none)")
    args = parser.parse_args(argv)
    if args.init is not None and (problem := v2.init_width_problem(args.init, 1.0)):  # before the views (minutes)
        parser.error(f"{problem}; this script trains width 1")
    paths = image_paths(args.data, args.limit)
    t = time.perf_counter()
    try:
        bank = v2.cached_bank(paths, args.seed, True, args.bank)
    except ValueError as exc:
        parser.error(str(exc))
    unlabelled = sum(p.parent.name == "unlabelled" for p in paths)
    print(f"{len(paths)} images ({len(paths) - unlabelled} of the train split, {unlabelled} unlabelled), "
          f"{bank.shape[1]} views each, ready in {time.perf_counter() - t:.0f} s", flush=True)
    labels = None
    if args.label_weight > 0:
        known = v1.load_labels(args.data / "labels.csv")
        labels = np.array([v1.CLASSES.index(known[p.stem]) if p.parent.name == "images" else -1 for p in paths])
    net = pretrain(bank, steps=args.steps, batch_size=args.batch_size, lr=args.lr, temperature=args.temperature,
                   seed=args.seed, grey_fraction=args.grey_fraction, threads=args.threads, labels=labels,
                   label_weight=args.label_weight, init=args.init)
    how = (f"--label-weight {args.label_weight} (SimCLR and the train split's labels)" if labels is not None
           else "(SimCLR, no labels)")
    from core.paths import file_sha256

    warm = f", warm-started from {args.init.name} (sha256 {file_sha256(args.init)[:12]})" if args.init else ""
    meta = {
        "galaxy_sorter.crop": "measured",
        "galaxy_sorter.crop_scale": repr(v2.CROP_SCALE),
        "galaxy_sorter.source": (f"pretrained by models/pretrain_galaxy_ssl.py --steps {args.steps} --seed {args.seed} "
                                 f"--batch-size {args.batch_size} --lr {args.lr} --temperature {args.temperature} "
                                 f"--grey-fraction {args.grey_fraction} {how}{warm} on {len(paths) - unlabelled} "
                                 f"Galaxy Zoo Kaggle train-split images and {unlabelled} unlabelled ones"),
        "galaxy_sorter.weights": ("Galaxy Sorter galaxy CNN, self-supervised (SimCLR)"
                                  f"{' and trained on labels' if labels is not None else ''} on Galaxy Zoo (Kaggle) images"),
    }
    err = v1.export(net, args.out, meta, name=args.out.stem, input_size=v2.INPUT_SIZE)
    print(f"wrote {args.out} after {args.steps} steps (max |onnx - torch| = {err:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
