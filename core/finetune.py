"""Corrections teach the model: semi-supervised DEC fine-tuning.

One *round* takes the DEC encoder from its ONNX file, the features of every
image and the astronomer's labels, and trains the encoder and the cluster
centres on

* DEC's self-training loss, KL(P || Q) over all images, with the target P of
  each labelled image clamped to its class (the labelled images anchor the
  self-training instead of being pulled away by it);
* a cross-entropy term on the soft assignments q of the labelled images;
* must-link / cannot-link terms on pairs of labelled images (same class: their
  assignments should agree, q_i . q_j -> 1; different classes: q_i . q_j -> 0).

Clusters become classes: each class the user labelled gets a cluster whose
centre starts at the mean embedding of its labelled images (the seed paper's
"manual cluster initialisation"); a cluster the user named after a class is
that class's cluster; a class created since the last round becomes a new
cluster.  Clusters nobody labelled or named stay as they were until the user
has labelled at least as many classes as there were clusters.

The weights go back to a new ONNX file; the previous file is kept, so a round
can be undone by going back to it.  User labels are never changed here: the
catalogue takes the user's label first, the model's only for the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.dec import DEC, student_t, target_distribution
from core.progress import Cancelled, ProgressFn, StopFn

#: Labels that teach nothing about the classes.
NOT_A_CLASS = {"unsure", "exclude"}


@dataclass
class RoundResult:
    """What a fine-tuning round produced and what it changed."""

    class_names: list[str]
    labels: np.ndarray
    confidence: np.ndarray
    soft: np.ndarray
    embedding: np.ndarray
    encoder_path: Path | None
    moved: np.ndarray
    transitions: dict[tuple[str, str], int]
    sizes: dict[str, int]
    agreement: float
    n_labelled: int
    seconds: float
    history: list[float] = field(default_factory=list)

    def predicted_names(self) -> np.ndarray:
        """The class name the model gives each image."""
        return np.asarray(self.class_names, dtype=object)[self.labels]

    def summary(self) -> str:
        """A few lines for the user: moves, sizes and agreement."""
        lines = [f"{int(self.moved.sum())} galaxies changed cluster"]
        for (a, b), c in sorted(self.transitions.items(), key=lambda t: -t[1])[:8]:
            lines.append(f"  {c} from '{a}' to '{b}'")
        lines.append("sizes: " + ", ".join(f"{k} {v}" for k, v in self.sizes.items()))
        if self.n_labelled:
            lines.append(f"agreement with your {self.n_labelled} labels: {self.agreement:.1%}")
        return "\n".join(lines)


def _plan_clusters(
    z: np.ndarray,
    centers: np.ndarray,
    prev_clusters: np.ndarray,
    labels: np.ndarray,
    cluster_names: dict[int, str],
    class_order: Sequence[str],
) -> tuple[list[str], np.ndarray, list[set[int]]]:
    """Decide the clusters of the round: their names, starting centres and the old clusters each continues."""
    labelled = np.array([lab is not None and lab not in NOT_A_CLASS for lab in labels])
    claimed: dict[int, str] = {}
    for j in range(len(centers)):
        if j in cluster_names and cluster_names[j] not in NOT_A_CLASS:
            claimed[j] = cluster_names[j]
            continue
        members = labelled & (prev_clusters == j)
        if members.any():
            names, counts = np.unique(labels[members].astype(str), return_counts=True)
            claimed[j] = str(names[np.argmax(counts)])
    classes = [c for c in class_order if c in set(labels[labelled].astype(str)) | set(claimed.values())]
    classes += sorted((set(labels[labelled].astype(str)) | set(claimed.values())) - set(classes))
    names: list[str] = []
    starts: list[np.ndarray] = []
    origin: list[set[int]] = []
    for c in classes:
        rows = labelled & (labels.astype(str) == c)
        olds = [j for j, n in claimed.items() if n == c]
        if rows.any():
            starts.append(z[rows].mean(0))
        else:
            starts.append(centers[olds].mean(0))
        names.append(c)
        origin.append(set(olds))
    if len(classes) < len(centers):
        for j in range(len(centers)):
            if j not in claimed:
                names.append(f"cluster {j}")
                starts.append(centers[j])
                origin.append({j})
    return names, np.stack(starts).astype(np.float32), origin


def finetune_round(
    X: np.ndarray,
    encoder_path: str | os.PathLike[str],
    user_labels: Sequence[str | None],
    *,
    prev_clusters: np.ndarray | None = None,
    prev_names: Sequence[str] | None = None,
    cluster_names: dict[int, str] | None = None,
    class_order: Sequence[str] = (),
    out_path: str | os.PathLike[str] | None = None,
    steps: int = 300,
    update_interval: int = 50,
    lr: float = 1e-3,
    batch_size: int = 256,
    ce_weight: float = 1.0,
    pair_weight: float = 0.5,
    kl_weight: float = 0.1,
    freeze_first_layer: bool = True,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> RoundResult:
    """Fine-tune the DEC encoder and centres on the user's labels; return the new clusters.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features of every image (the encoder's input).
    encoder_path : path-like
        The DEC encoder ONNX file (written by :meth:`core.dec.DEC.save_onnx`).
    user_labels : sequence of str or None, length n_samples
        The user's label of each image, or None.  ``unsure``/``exclude`` teach nothing.
    prev_clusters : ndarray of int, optional
        The clusters before this round (default: the encoder's own assignment).
    prev_names : sequence of str, optional
        Name of each previous cluster (for the "what changed" report).
    cluster_names : dict, optional
        Clusters the user named after a class.
    class_order : sequence of str
        The project's classes, in order (new clusters follow it).
    out_path : path-like, optional
        Where to write the new encoder (never over ``encoder_path``: the old one stays for undo).
    steps, update_interval, lr, batch_size : training schedule (Adam)
        Optimiser steps of the round (the same whatever the folder's size, so a
        round takes seconds on 10,000 images), and steps between target updates.
    ce_weight, pair_weight, kl_weight : float
        Weights of the supervised, pairwise-constraint and self-training terms
        (kl_weight 0.1 and 300 steps measured best in ``benchmarks/label_efficiency.py``:
        with 1.0 the self-training held on to the unsupervised split).
    freeze_first_layer : bool
        Keep the encoder's first layer fixed (about twice as fast).
    random_state : int
    progress, should_stop : callables, optional

    Returns
    -------
    RoundResult
    """
    import time

    import torch

    t0 = time.perf_counter()
    X = np.asarray(X, dtype=np.float32)
    labels = np.asarray(list(user_labels), dtype=object)
    if len(labels) != len(X):
        raise ValueError(f"{len(labels)} labels for {len(X)} images")
    dec = DEC.load_onnx(encoder_path)
    full = dec.encoder_
    split = 2 if freeze_first_layer and len(full) > 2 else 0
    with torch.no_grad():
        # The first layer (d -> 500) holds most of the arithmetic: run it once.
        H = full[:split](torch.from_numpy(dec._scale(X))) if split else torch.from_numpy(dec._scale(X))
        z0 = full[split:](H).numpy()
    q0 = student_t(z0, dec.cluster_centers_, dec.alpha)
    prev = q0.argmax(1) if prev_clusters is None else np.asarray(prev_clusters, np.int64)
    names, centers, origin = _plan_clusters(z0, dec.cluster_centers_, prev, labels, dict(cluster_names or {}),
                                             class_order)
    k = len(names)
    index = {n: i for i, n in enumerate(names)}
    lab_rows = np.array([i for i, lab in enumerate(labels) if lab is not None and lab not in NOT_A_CLASS
                         and lab in index], np.int64)
    lab_y = np.array([index[labels[i]] for i in lab_rows], np.int64)

    history: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        gen = torch.Generator().manual_seed(random_state)
        mu = torch.nn.Parameter(torch.from_numpy(centers.copy()))
        # With the first layer fixed (a few hundred labels could not retrain 2048x500
        # weights well anyway) the round trains on its output H: about twice as fast.
        Xt = H
        encoder = full[split:]
        encoder.train()
        opt = torch.optim.Adam(list(encoder.parameters()) + [mu], lr=lr)
        lab_rows_t = torch.from_numpy(lab_rows)
        lab_y_t = torch.from_numpy(lab_y)
        n = len(X)
        interval = max(1, min(update_interval, steps))
        order = torch.randperm(n, generator=gen)
        cursor = 0
        total = 0.0
        for step in range(steps):
            if step % interval == 0:
                # The sharpened target of every image, with labelled images clamped to their class.
                with torch.no_grad():
                    p = target_distribution(student_t(encoder(Xt), mu, dec.alpha))
                    if len(lab_rows):
                        p[lab_rows_t] = torch.nn.functional.one_hot(lab_y_t, k).float()
            if cursor + batch_size > n:
                order = torch.randperm(n, generator=gen)
                cursor = 0
            idx = order[cursor:cursor + batch_size]
            cursor += batch_size
            q = student_t(encoder(Xt[idx]), mu, dec.alpha)
            pb = p[idx]
            loss = kl_weight * torch.sum(pb * torch.log((pb + 1e-12) / (q + 1e-12))) / len(idx)
            if len(lab_rows):
                sub = (torch.arange(len(lab_rows)) if len(lab_rows) <= batch_size
                       else torch.randperm(len(lab_rows), generator=gen)[:batch_size])
                yl = lab_y_t[sub]
                ql = student_t(encoder(Xt[lab_rows_t[sub]]), mu, dec.alpha)
                loss = loss + ce_weight * torch.nn.functional.nll_loss(torch.log(ql + 1e-12), yl)
                if pair_weight > 0 and len(sub) > 1:
                    # must-link (same class): q_i . q_j -> 1; cannot-link: q_i . q_j -> 0
                    agree = (ql @ ql.T).clamp(1e-6, 1 - 1e-6)
                    same = (yl[:, None] == yl[None, :]).float()
                    pair = -(same * torch.log(agree) + (1 - same) * torch.log(1 - agree))
                    off = 1 - torch.eye(len(sub))
                    loss = loss + pair_weight * (pair * off).sum() / off.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            if (step + 1) % interval == 0 or step == steps - 1:
                history.append(total / ((step % interval) + 1))
                total = 0.0
                if progress:
                    progress((step + 1) / steps, f"fine-tuning round: step {step + 1}/{steps}, loss {history[-1]:.4f}")
                if should_stop and should_stop():
                    raise Cancelled("fine-tuning cancelled")
        encoder.eval()
        with torch.no_grad():
            z = encoder(Xt).numpy()
            centers_new = mu.detach().numpy().copy()
    soft = student_t(z, centers_new, dec.alpha)
    new = soft.argmax(1).astype(np.int64)
    dec.encoder_ = full
    dec.cluster_centers_ = centers_new
    saved = None
    if out_path is not None:
        out_path = Path(out_path)
        if out_path.resolve() == Path(encoder_path).resolve():
            raise ValueError("write the new encoder to a new file; the previous one is kept for undo")
        saved = dec.save_onnx(out_path)
    before = [(prev_names[c] if prev_names is not None and 0 <= c < len(prev_names) else f"cluster {c}") for c in prev]
    after = [names[c] for c in new]
    # A galaxy moved when its new cluster does not continue its old one (a cluster
    # that only took a class's name is not a move).
    moved = np.array([int(o) not in origin[int(c)] for o, c in zip(prev, new)])
    transitions: dict[tuple[str, str], int] = {}
    for a, b, m in zip(before, after, moved):
        if m:
            transitions[(a, b)] = transitions.get((a, b), 0) + 1
    sizes = {nm: int((new == i).sum()) for i, nm in enumerate(names)}
    agreement = float(np.mean(new[lab_rows] == lab_y)) if len(lab_rows) else float("nan")
    return RoundResult(names, new, soft.max(1), soft, z, saved, moved, transitions, sizes, agreement,
                       len(lab_rows), time.perf_counter() - t0, history)
