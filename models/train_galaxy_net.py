"""Train ``models/galaxy_cnn.onnx``: a small CNN that has seen galaxies, not ImageNet.

Why a network of our own: ImageNet features cluster Galaxy Zoo images by apparent
size, brightness and sky, not morphology (issue 11).  In-domain training on Galaxy
Zoo labels is the published remedy (Zoobot; Walmsley et al. 2022).  No
galaxy-trained weights can be downloaded here, so this script trains them from the
public Kaggle Galaxy Zoo images and labels in ``../shared/data/galaxy-zoo-kaggle``.

Why a small CNN from scratch and not EfficientNet-Lite0 fine-tuned: on the shared
2-core CPU (about a quarter of a core each when six engineers run jobs), Lite0
trains at 2-6 images/s even at 96 px, so one pass over the training split takes
15-40 minutes.  A thin 7-layer CNN at 48 px (the Kaggle winner looked at 45 px
views, Dieleman et al. 2015) is about 20 times cheaper per image and leaves time
for several passes with heavy augmentation.

Data and split
    ``labels.csv`` column ``morphology`` (elliptical / spiral / other).  The split
    is fixed by :func:`split_of`: SHA-1 of the GalaxyID, bucket ``< 80`` of 100 is
    ``train``, the rest ``test``.  Only ``train`` is read here; the test split and
    the GALAXY CRUISE sets are for evaluation only (``benchmarks/evaluate.py``).

Augmentation (so that 96 px SDSS and 227 px HSC cutouts look like training images)
    random rotation (any angle) and flip, zoom (crop side 0.3-0.9 of the frame),
    shift, resampling to 12-48 px and back, Gaussian blur, noise, per-channel gain,
    brightness, contrast and gamma jitter, occasional greyscale.  Each image is also
    standardised by its own mean and spread inside the network, so brightness and
    stretch of a survey's render do not reach the features.

Output
    ``galaxy_cnn.onnx``: 48 px RGB in (``x/255``, recorded in the metadata), the
    64-d embedding (the layer before the 3-class head, batch-normalised) out.

Command that made the committed file (seeded; ``--steps`` fixes the schedule so a
rerun does the same number of updates whatever the CPU)::

    .venv/bin/python models/train_galaxy_net.py --steps STEPS --seed 0

(``--minutes M`` instead picks the number of steps that fits M minutes on this
machine and prints it.)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "galaxy-zoo-kaggle"
OUT = Path(__file__).resolve().parent / "galaxy_cnn.onnx"
CLASSES = ("elliptical", "spiral", "other")
INPUT_SIZE = 48
STORE_SIZE = 112  # images are kept in memory at this size (centre 0.9 of the frame)
STORE_FRACTION = 0.9
EMBED_DIM = 64


def split_of(galaxy_id: str) -> str:
    """Return ``"train"`` or ``"test"`` for a GalaxyID: fixed, by hash (80 % / 20 %)."""
    bucket = int(hashlib.sha1(str(galaxy_id).encode()).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "test"


def load_labels(path: Path) -> dict[str, str]:
    """Return GalaxyID -> morphology from the Kaggle ``labels.csv``."""
    with open(path, newline="") as fh:
        return {row["GalaxyID"]: row["morphology"] for row in csv.DictReader(fh)}


def build_net(embed_dim: int = EMBED_DIM, n_classes: int = len(CLASSES), width: float = 1.0):
    """Return the network: per-image standardisation, 7 conv blocks, 64-d embedding, head.

    ``width`` multiplies every convolution's channel count (1: galaxy_cnn's
    16-32-48-48-96-96-128); the embedding stays ``embed_dim`` wide.
    """
    import torch
    from torch import nn

    def block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                             nn.ReLU(inplace=True))

    class GalaxyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = [int(round(v * width)) for v in (16, 32, 48, 96, 128)]
            self.body = nn.Sequential(
                block(3, c[0], 2),                      # 24 px (at 48 px in)
                block(c[0], c[1]), nn.MaxPool2d(2),       # 12 px
                block(c[1], c[2]), block(c[2], c[2]), nn.MaxPool2d(2),   # 6 px
                block(c[2], c[3]), block(c[3], c[3]), nn.MaxPool2d(2),  # 3 px
                block(c[3], c[4]),
            )
            self.embed = nn.Sequential(nn.Linear(c[4], embed_dim), nn.BatchNorm1d(embed_dim))
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(embed_dim, n_classes))

        def features(self, x: torch.Tensor) -> torch.Tensor:
            # Per-image standardisation: survey renders differ in stretch and sky level.
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            std = x.std(dim=(1, 2, 3), keepdim=True) + 1e-3
            h = self.body((x - mean) / std)
            return self.embed(h.mean(dim=(2, 3)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x))

    return GalaxyNet()


def load_images(paths: list[Path], size: int = STORE_SIZE, fraction: float = STORE_FRACTION) -> np.ndarray:
    """Decode, centre-crop ``fraction`` and resize to ``size``: uint8 array (n, size, size, 3)."""
    import cv2

    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, p in enumerate(paths):
        img = cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        side = int(round(min(h, w) * fraction))
        top, left = (h - side) // 2, (w - side) // 2
        out[i] = cv2.resize(img[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)
    return out


def rotate_flip_shift(x, gen, zoom, shift_limit: float, out_size: int):
    """A random rotation (any angle), mirror and shift of each image of NCHW ``x``, scaled by ``zoom``
    (one per image), sampled at ``out_size`` px with reflected borders.  Draws, in this order, the
    angles, the flips and the shifts from ``gen``: the order both training scripts' seeds rely on."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    angle = torch.rand((n,), generator=gen) * (2 * math.pi)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = torch.rand((n, 2), generator=gen) * (2 * shift_limit) - shift_limit
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (n, x.shape[1], out_size, out_size), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def update(net, opt, loss_fn, x, y, lr_now: float) -> tuple[float, float]:
    """One optimiser step at learning rate ``lr_now``; returns (loss, batch accuracy) for the log."""
    for g in opt.param_groups:
        g["lr"] = lr_now
    out = net(x)
    loss = loss_fn(out, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), (out.argmax(1) == y).float().mean().item()


def log_progress(step: int, total: int | None, running: list[tuple[float, float]], lr_now: float,
                 start: float) -> None:
    """Print the mean loss and accuracy since the last line, then forget them."""
    ls, acc = np.mean(running, axis=0)
    running.clear()
    print(f"step {step}/{total}  loss {ls:.3f}  train acc {acc:.3f}  lr {lr_now:.2e}  "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def class_weighted_loss(labels: np.ndarray):
    """Cross-entropy weighted by inverse class frequency (453 ellipticals must not be drowned by 3,000
    "other"), with 0.05 label smoothing."""
    import torch
    from torch import nn

    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(CLASSES) * np.maximum(counts, 1)), dtype=torch.float32)
    return nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)


def augment(batch, gen, size: int = INPUT_SIZE):
    """Random views of a uint8 NHWC batch (torch), returned as float NCHW in [0, 1] at ``size`` px."""
    import torch
    import torch.nn.functional as F

    n = batch.shape[0]
    x = batch.permute(0, 3, 1, 2).float() / 255.0

    def u(lo: float, hi: float, shape=(n,)) -> torch.Tensor:
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    # Zoom: crop side as a fraction of the original frame, 0.3-0.9 (stored frame is 0.9).
    zoom = u(0.3, 0.9) / STORE_FRACTION
    # Sample at the stored resolution first, then area-shrink: no aliasing at strong zoom-out.
    x = F.avg_pool2d(rotate_flip_shift(x, gen, zoom, 0.06, size * 2), 2)
    # Resolution: half the batch goes down to 12-48 px and back up (SDSS-like blur and pixels).
    low = int(torch.randint(12, size + 1, (1,), generator=gen))
    sel = torch.rand(n, generator=gen) < 0.5
    if sel.any() and low < size:
        small = F.interpolate(x[sel], size=(low, low), mode="area")
        x[sel] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    # Blur: separable Gaussian with a random sigma for a third of the batch.
    sel = torch.rand(n, generator=gen) < 0.33
    if sel.any():
        sigma = float(u(0.5, 1.6, (1,)))
        r = torch.arange(-3, 4, dtype=torch.float32)
        k = torch.exp(-(r ** 2) / (2 * sigma ** 2))
        k = (k / k.sum()).to(x.dtype)
        xs = x[sel]
        xs = F.conv2d(F.pad(xs, (3, 3, 0, 0), mode="reflect"), k.view(1, 1, 1, 7).repeat(3, 1, 1, 1), groups=3)
        xs = F.conv2d(F.pad(xs, (0, 0, 3, 3), mode="reflect"), k.view(1, 1, 7, 1).repeat(3, 1, 1, 1), groups=3)
        x[sel] = xs
    # Colour: channel gains, brightness, gamma, contrast, some greyscale.
    gains = torch.exp(torch.randn((n, 3, 1, 1), generator=gen) * 0.2)
    bright = torch.exp(torch.randn((n, 1, 1, 1), generator=gen) * 0.35)
    x = (x * gains * bright).clamp(0, 1)
    x = x.clamp_min(1e-4) ** u(0.6, 1.6, (n, 1, 1, 1))
    grey = torch.rand(n, generator=gen) < 0.1
    x[grey] = x[grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    # Noise: Gaussian, sigma 0-0.06, and JPEG-like quantisation is left to the blur/resample steps.
    x = x + torch.randn(x.shape, generator=gen) * u(0, 0.06, (n, 1, 1, 1))
    return x.clamp(0, 1)


def train(images: np.ndarray, labels: np.ndarray, *, steps: int | None = None, minutes: float | None = None,
          batch_size: int = 64, lr: float = 3e-3, seed: int = 0, log_every: int = 50, threads: int = 1,
          width: float = 1.0):
    """Train the network (``width``: see :func:`build_net`) on uint8 images and integer labels; return (net, steps done)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    net = build_net(width=width)
    loss_fn = class_weighted_loss(labels)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    imgs = torch.from_numpy(images)
    ys = torch.from_numpy(labels.astype(np.int64))
    n = len(ys)
    total = steps
    start = time.perf_counter()
    step = 0
    running = []
    net.train()
    while True:
        if total is None and step == 20:
            per_step = (time.perf_counter() - start) / 20
            total = max(21, int(minutes * 60 / per_step))
            print(f"{per_step:.3f} s/step: {total} steps fit in {minutes} min (rerun with --steps {total})",
                  flush=True)
        if total is not None and step >= total:
            break
        idx = torch.randint(0, n, (batch_size,), generator=gen)
        x = augment(imgs[idx], gen)
        # Warm-up then cosine decay; before the total is known the LR stays at warm-up.
        frac = step / total if total else 0.0
        cur = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
        running.append(update(net, opt, loss_fn, x, ys[idx], cur))
        step += 1
        if step % log_every == 0:
            log_progress(step, total, running, cur, start)
    net.eval()
    return net, step


def export(net, out: Path, meta: dict[str, str], name: str = "galaxy_cnn", input_size: int = INPUT_SIZE) -> float:
    """Write the embedding network to ONNX with its metadata; return max |onnx - torch|.

    ``name`` and ``input_size`` are recorded in the metadata (``train_galaxy_net2.py`` writes galaxy_cnn2, 64 px).
    """
    import warnings

    import onnx
    import onnxruntime as ort
    import torch

    class Features(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.features(x)

    model = Features(net).eval()
    x = torch.rand(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    tmp = out.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp), dynamo=False, input_names=["input"], output_names=["features"],
                          dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}}, opset_version=17)
    with torch.no_grad():
        expected = model(x).numpy()
    proto = onnx.load(str(tmp))
    onnx.helper.set_model_props(proto, {
        "galaxy_sorter.name": name,
        "galaxy_sorter.input_size": str(input_size),
        "galaxy_sorter.channel_order": "RGB",
        "galaxy_sorter.scale": repr(1 / 255),
        "galaxy_sorter.offset": repr(0.0),
        **meta,
    })
    onnx.save(proto, str(tmp))
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    err = float(np.abs(session.run(None, {"input": x.numpy()})[0] - expected).max())
    if err > 1e-3:
        tmp.unlink()
        raise RuntimeError(f"ONNX export differs from torch by {err:.2e}")
    tmp.replace(out)
    return err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with labels.csv and images/")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--steps", type=int, default=None, help="number of updates (reproducible)")
    parser.add_argument("--minutes", type=float, default=None, help="time box instead of --steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="only the first N training images (tests)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: two threads on a shared CPU ran 15x slower, spin-waiting)")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier of every convolution")
    args = parser.parse_args(argv)
    if (args.steps is None) == (args.minutes is None):
        parser.error("give exactly one of --steps and --minutes")
    labels = load_labels(args.data / "labels.csv")
    ids = sorted(i for i, m in labels.items() if m in CLASSES and split_of(i) == "train"
                 and (args.data / "images" / f"{i}.jpg").is_file())
    if args.limit:
        ids = ids[: args.limit]
    t = time.perf_counter()
    images = load_images([args.data / "images" / f"{i}.jpg" for i in ids])
    y = np.array([CLASSES.index(labels[i]) for i in ids])
    print(f"{len(ids)} training images {dict(zip(CLASSES, np.bincount(y, minlength=3).tolist()))} "
          f"decoded in {time.perf_counter() - t:.0f} s", flush=True)
    net, done = train(images, y, steps=args.steps, minutes=args.minutes, batch_size=args.batch_size,
                      lr=args.lr, seed=args.seed, threads=args.threads, width=args.width)
    meta = {
        "galaxy_sorter.source": (f"trained by models/train_galaxy_net.py --steps {done} --seed {args.seed} "
                                 f"--batch-size {args.batch_size} --lr {args.lr}"
                                 f"{f' --width {args.width}' if args.width != 1.0 else ''} on {len(ids)} Galaxy Zoo "
                                 "Kaggle images (train split: sha1(GalaxyID) % 100 < 80)"),
        "galaxy_sorter.weights": "Galaxy Sorter galaxy CNN, trained from scratch on Galaxy Zoo 2 (Kaggle) labels",
    }
    err = export(net, args.out, meta)
    print(f"wrote {args.out} after {done} steps (max |onnx - torch| = {err:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
