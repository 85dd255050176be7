"""DEC's autoencoder and how it is pretrained (the paper's greedy layer pairs, or end to end), and where clustering starts.

Functions of a :class:`core.clustering.dec.DEC` being fitted (they read its
parameters and set its ``encoder_``/``decoder_``); kept apart from the estimator
so that each module stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.progress import Cancelled, ProgressFn, StopFn


def mlp(sizes: Sequence[int], last_relu: bool):
    import torch.nn as nn

    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def pretrain(dec, Xt, seed: int, report: Reporter) -> None:
    """Train the autoencoder of ``dec`` (greedy layer pairs then end to end, or end to end alone)."""
    import torch

    dims = (Xt.shape[1], *tuple(getattr(dec, "hidden_dims_", dec.hidden_dims)))
    dec.encoder_ = mlp(dims, last_relu=False).to(dec.device_)
    dec.decoder_ = mlp(dims[::-1], last_relu=False).to(dec.device_)
    gen = torch.Generator().manual_seed(seed)
    n_epoch = len(Xt) if not dec.max_pretrain_samples else min(len(Xt), int(dec.max_pretrain_samples))
    steps_per_epoch = int(np.ceil(n_epoch / dec.batch_size))
    fine_epochs = dec.finetune_epochs
    if dec.pretrain_ == "end-to-end" and getattr(dec, "pretrain_budget", None):
        fine_epochs = min(fine_epochs, max(1, int(np.ceil(dec.pretrain_budget / n_epoch))))
    fine_epochs = max(fine_epochs, int(np.ceil(2 * dec.min_steps / steps_per_epoch)))
    if dec.pretrain_ == "greedy":
        offset = pretrain_greedy(dec, Xt, gen, n_epoch, fine_epochs, report)
    else:
        offset = 0.0
    total = offset + fine_epochs
    opt = torch.optim.Adam(list(dec.encoder_.parameters()) + list(dec.decoder_.parameters()), lr=dec.pretrain_lr)
    # End to end, the input is corrupted (denoising); the greedy schedule's
    # final stage is the paper's plain fine-tuning.
    drop = torch.nn.Dropout(dec.dropout if dec.pretrain_ == "end-to-end" else 0.0)
    best = np.inf
    flat = 0
    for epoch in range(fine_epochs):
        loss = train_epoch(dec, Xt, gen, opt, lambda b: dec.decoder_(dec.encoder_(drop(b))), n_epoch)
        dec.history_.finetune_loss.append(loss)
        report(0.6 * (offset + epoch + 1) / total, f"training autoencoder: loss {loss:.4f}")
        if dec.plateau_tol > 0 and dec.pretrain_ == "end-to-end":
            flat = flat + 1 if loss > best * (1.0 - dec.plateau_tol) else 0
            best = min(best, loss)
            if flat >= 2 and (epoch + 1) * steps_per_epoch >= 2 * dec.min_steps:
                break


def pretrain_greedy(dec, Xt, gen, n_epoch: int, fine_epochs: int, report: Reporter) -> float:
    """The paper's layer-wise pretraining; returns the epochs it counts for progress."""
    import torch
    import torch.nn as nn

    enc = [m for m in dec.encoder_ if isinstance(m, nn.Linear)]
    dec_layers = [m for m in dec.decoder_ if isinstance(m, nn.Linear)][::-1]  # maps dims[i+1] -> dims[i]
    n_layers = len(enc)
    steps_per_epoch = int(np.ceil(n_epoch / dec.batch_size))
    pre_epochs = max(dec.pretrain_epochs, int(np.ceil(dec.min_steps / steps_per_epoch)))
    total = n_layers * pre_epochs + fine_epochs
    count = 0
    h = Xt
    drop = nn.Dropout(dec.dropout)
    for i in range(n_layers):
        opt = torch.optim.Adam(list(enc[i].parameters()) + list(dec_layers[i].parameters()), lr=dec.pretrain_lr)
        enc_act = (lambda t: t) if i == n_layers - 1 else torch.relu  # embedding layer is linear
        dec_act = (lambda t: t) if i == 0 else torch.relu  # reconstruction of the input is linear
        for _ in range(pre_epochs):
            def layer_pair(b, e=enc[i], d=dec_layers[i], ea=enc_act, da=dec_act):
                return da(d(drop(ea(e(drop(b))))))

            loss = train_epoch(dec, h, gen, opt, layer_pair, n_epoch)
            dec.history_.pretrain_loss.append(loss)
            count += 1
            report(0.6 * count / total, f"pretraining layer {i + 1}/{n_layers}: loss {loss:.4f}")
        with torch.no_grad():
            h = enc_act(enc[i](h))
    return float(count)


def train_epoch(dec, X, gen, opt, forward, n_epoch: int) -> float:
    """One pass over ``n_epoch`` rows of ``X`` (all of them, or a fresh random subset)."""
    import torch

    dec.encoder_.train()
    dec.decoder_.train()
    order = torch.randperm(len(X), generator=gen)[:n_epoch].to(X.device)
    total = 0.0
    for s in range(0, n_epoch, dec.batch_size):
        batch = X[order[s : s + dec.batch_size]]
        opt.zero_grad()
        loss = torch.mean((forward(batch) - batch) ** 2)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(batch)
    dec.encoder_.eval()
    dec.decoder_.eval()
    return total / n_epoch


ANCHOR_PASSES = 5
#: DEC ``init`` values that start from the class-fraction-estimating mixture on the input:
#: "input-consensus" lets :func:`core.clustering.prior.consensus_mixture` choose its axes.
MIXTURE_INITS = ("input-mixture", "input-consensus")


def initial_partition(dec, Xt, z0: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The partition DEC's clustering stage starts from and its centres in the embedding ``z0``.

    ``dec.init == "input-mixture"``: the partition of a tied-covariance Gaussian
    mixture on the scaled input ``Xt`` (``core.clustering.prior``, which
    estimates the class fractions), centres the embedding's mean of each part.
    A 10-d embedding of a small folder lost the morphology split for some
    seeds and CPUs (issue 24: GC1-HSC balanced ACC 0.83 from k-means in the
    embedding of seed 1, 0.90 from the input).  "embedding": the paper's
    k-means in the embedding (also when a mixture component comes out empty).
    "input-consensus": the same mixture on the number of axes three
    projections agree on (what a folder of galaxies small in their frames gets,
    :mod:`core.features.framing`).
    """
    from sklearn.cluster import KMeans

    dec.start_soft_ = None
    dec.start_mixture_ = None
    if dec.init not in ("embedding", *MIXTURE_INITS):
        raise ValueError(f"init={dec.init!r} must be 'embedding', 'input-mixture' or 'input-consensus'")
    k = dec.n_clusters
    if dec.init in MIXTURE_INITS and k >= 2:
        from core.clustering.prior import prior_mixture

        axes = "consensus" if dec.init == "input-consensus" else None
        mix = prior_mixture(Xt.cpu().numpy(), k, n_components=axes, random_state=seed)
        labels = mix.labels
        if np.bincount(labels, minlength=k).min() > 0:
            dec.start_soft_ = mix.soft.astype(np.float32)
            dec.start_mixture_ = mix
            return labels, np.stack([z0[labels == j].mean(0) for j in range(k)])
    km = KMeans(k, n_init=dec.n_init, random_state=seed).fit(z0)
    return km.labels_, km.cluster_centers_


def fraction_keeping_target(dec):
    """The self-training target of ``dec``: the paper's, or one that keeps the start's cluster fractions.

    DEC's target ``p_ij ~ q_ij^2 / f_j`` divides by each cluster's soft size,
    which pulls the clusters towards equal sizes (a 75:25 folder drifted to
    56:44, issue 24).  With ``init="input-mixture"`` the target is re-weighted
    by the fractions ``pi_j`` the mixture estimated, ``p_ij ~ q_ij^2 pi_j / f_j``,
    so the sharpening keeps them.
    """
    import torch

    from core.clustering.dec_objective import target_distribution

    if dec.init not in MIXTURE_INITS or dec.start_soft_ is None:
        return target_distribution
    counts = np.bincount(dec.kmeans_labels_, minlength=dec.n_clusters).astype(np.float32)
    prior = torch.from_numpy(counts / counts.sum()).to(dec.device_)
    anchor = torch.from_numpy(dec.start_soft_).to(dec.device_)
    calls = [0]

    def target(q):
        calls[0] += 1
        if calls[0] <= ANCHOR_PASSES:
            return anchor
        weight = q**2 * prior / q.sum(0)
        return weight / weight.sum(1, keepdim=True)

    return target


def fit_cluster_weights(dec, q: np.ndarray) -> None:
    """Set ``dec.cluster_weights_`` so that the final assignment of the start's rows keeps the start's cluster sizes.

    ``assign="start-fractions"`` with the input mixture's start: the fitted
    soft assignments ``q`` of the rows the start partitioned are re-weighted by
    one constant per cluster (:func:`core.clustering.dec_objective.count_matching_offsets`)
    so that the argmax gives each cluster as many rows as the start mixture
    estimated.  DEC orders the galaxies; the mixture, whose fraction estimate
    is the same for every seed, says how many lie on each side (issue 24: the
    argmax moved GC1-HSC's small cluster between 257 and 277 galaxies with the
    seed, ARI 0.500-0.567; with the mixture's 265 the ARI spread is 0.008).
    Otherwise (``assign="argmax"``, a start in the embedding, or an argmax that
    emptied a cluster, which the collapse check and its fallback then see) all weights are one.
    """
    from core.clustering.dec_objective import count_matching_offsets

    k = dec.n_clusters
    dec.cluster_weights_ = np.ones(k, np.float32)
    dec.weighted_centers_ = dec.cluster_centers_.copy()
    if dec.assign == "argmax" or getattr(dec, "start_soft_", None) is None or k < 2:
        return
    if np.bincount(q.argmax(1), minlength=k).min() < max(1, 0.01 * len(q)):
        return  # collapsed: re-weighting would hide it from check_result's fallback
    counts = np.bincount(dec.kmeans_labels_, minlength=k)
    offsets = count_matching_offsets(np.log(np.maximum(q.astype(np.float64), 1e-30)), counts)
    dec.cluster_weights_ = np.exp(np.maximum(offsets, -60.0)).astype(np.float32)


def pick_device(device: str) -> str:
    """The torch device to train on: "auto" is the GPU when torch sees one."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} must be 'auto', 'cpu' or 'cuda'")
    return device


class Reporter:
    """Progress and cancellation of one fit, polled between epochs and iterations."""

    def __init__(self, progress: ProgressFn | None, should_stop: StopFn | None) -> None:
        self.progress = progress
        self.should_stop = should_stop

    def __call__(self, fraction: float, message: str) -> None:
        if self.progress:
            self.progress(fraction, message)
        if self.should_stop and self.should_stop():
            raise Cancelled("DEC training cancelled")
