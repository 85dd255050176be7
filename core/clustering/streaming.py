"""DEC on more rows than fit in memory: a sample to start from, then mini-batches streamed from the file (issue 22).

:meth:`core.clustering.dec.DEC.fit` comes here when ``X`` has more than
``DEC.stream_above`` rows (200,000 by default) or is a memory-mapped file
(``np.load(path, mmap_mode="r")``, ``np.memmap``).  ``X`` is only ever read in
chunks; what is held in memory is a seeded sample of ``stream_sample`` rows,
the model, and one label and ``k`` probabilities per row at the end.

1. The input scaling is fitted chunk by chunk over every row, the PCA
   projection (when the features are wide) on the sample.
2. The autoencoder is pretrained on the sample (the shape of a feature cloud is
   as clear in 50,000 galaxies as in a million), and the start mixture
   (:func:`core.clustering.sdae.initial_partition`) is fitted on it too.
3. Self-training streams mini-batches from the file in a seeded order of
   contiguous blocks (a block of rows is one sequential read), at most
   ``max_iter`` steps.  The target of a batch is computed when it is read: the
   batch's soft assignments sharpened as in :func:`fraction_keeping_target`,
   with the cluster sizes ``f_j`` taken from the sample at the last refresh and
   the start mixture's posteriors for the batch's rows as the prior.  Every
   ``update_interval`` steps the sample is re-embedded; training stops when
   fewer than ``tol`` of the sample's galaxies changed cluster.
4. Every row is assigned in chunks with the encoder as saved, with the
   cluster weights that give the sample the start's cluster sizes (``DEC.assign``).

The collapse check warns but does not fall back to the start partition here
(that would need the start's labels of every row); the fallback of the
in-memory fit stays below the threshold.
"""

from __future__ import annotations

import time

import numpy as np

from core.clustering.dec_input import CHUNK, fit_input_scaling, fit_projection
from core.clustering.sdae import ANCHOR_PASSES, Reporter, fit_cluster_weights, initial_partition, pretrain

BLOCK = 4096
"""Rows per contiguous read of the streamed self-training stage."""


def is_streamed(dec, X) -> bool:
    """Whether ``dec.fit(X)`` streams: a memory-mapped ``X``, or more rows than ``dec.stream_above``."""
    if isinstance(X, np.memmap) or (isinstance(X, np.ndarray) and isinstance(X.base, np.memmap)):
        return True
    return dec.stream_above is not None and len(X) > int(dec.stream_above)


def _scaled(dec, rows: np.ndarray) -> np.ndarray:
    out = dec.scale_input(np.asarray(rows, dtype=np.float32))
    return out @ dec.projection_ if dec.projection_ is not None else out


def fit_streaming(dec, X: np.ndarray, seed: int, report: Reporter) -> None:
    """Fit ``dec`` on ``X`` (possibly memory-mapped) by streaming; sets what :meth:`DEC.fit` sets."""
    import torch

    n = len(X)
    t = time.perf_counter()
    fit_input_scaling(dec, X)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, int(dec.stream_sample)), replace=False))
    sample = dec.scale_input(np.asarray(X[rows], dtype=np.float32))
    fit_projection(dec, sample, seed)
    if dec.projection_ is not None:
        sample = sample @ dec.projection_
    St = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32)).to(dec.device_)
    del sample
    dec.sample_rows_ = rows
    dec.timings_["input"] = time.perf_counter() - t
    t = time.perf_counter()
    pretrain(dec, St, seed, report)
    dec.timings_["pretrain"] = time.perf_counter() - t
    t = time.perf_counter()
    z0 = dec._embed(St).cpu().numpy()
    dec.initial_embedding_ = z0
    init_labels, centres = initial_partition(dec, St, z0, seed)
    dec.kmeans_labels_ = np.asarray(init_labels, dtype=np.int64)
    dec.centers_ = torch.nn.Parameter(torch.from_numpy(centres.astype(np.float32)).to(dec.device_))
    steps = _self_train(dec, X, St, seed, report)
    dec.history_.iterations = dec.n_iter_ = steps
    dec._finish_on_cpu()
    dec.timings_["self-training"] = time.perf_counter() - t
    t = time.perf_counter()
    k = dec.n_clusters
    # The final assignment's cluster weights from the sample the start partitioned (DEC.assign).
    dec.cluster_weights_ = np.ones(k, np.float32)
    fit_cluster_weights(dec, dec.predict_proba(np.asarray(X[rows], dtype=np.float32)))
    dec.labels_ = np.empty(n, np.int64)
    dec.soft_assignments_ = np.empty((n, k), np.float32)
    for s in range(0, n, CHUNK):
        q = dec.predict_proba(np.asarray(X[s : s + CHUNK], dtype=np.float32))
        dec.soft_assignments_[s : s + CHUNK] = q
        dec.labels_[s : s + CHUNK] = q.argmax(1)
        report(0.95 + 0.05 * min(1.0, (s + CHUNK) / n), f"assigning galaxies: {min(n, s + CHUNK):,} of {n:,}")
    dec.timings_["assign"] = time.perf_counter() - t


def _self_train(dec, X: np.ndarray, St, seed: int, report: Reporter) -> int:
    """The streamed clustering stage; returns the steps taken."""
    import torch

    from core.clustering.dec_objective import student_t

    n, bs = len(X), dec.batch_size
    params = list(dec.encoder_.parameters()) + [dec.centers_]
    if dec.reconstruction_weight > 0:
        params += list(dec.decoder_.parameters())
    opt = torch.optim.SGD(params, lr=dec.lr, momentum=0.9)
    mix = getattr(dec, "start_mixture_", None)
    counts = np.bincount(dec.kmeans_labels_, minlength=dec.n_clusters).astype(np.float32)
    prior = torch.from_numpy(counts / counts.sum()).to(dec.device_) if mix is not None else None
    interval = dec.update_interval or max(50, int(np.ceil(len(St) / bs)))
    max_iter = int(dec.max_iter)
    rng = np.random.default_rng(seed + 1)
    labels = dec.kmeans_labels_
    f = None
    step = 0
    passes = 0

    def batches():
        while True:
            for b in rng.permutation(int(np.ceil(n / BLOCK))):
                block = np.asarray(X[b * BLOCK : (b + 1) * BLOCK], dtype=np.float32)
                order = rng.permutation(len(block))
                for s in range(0, len(block) - bs + 1 if len(block) >= bs else 1, bs):
                    yield block[order[s : s + bs]]

    stream = batches()
    while step < max_iter:
        if step % interval == 0:
            with torch.no_grad():
                q_all = student_t(dec._embed(St), dec.centers_.detach(), dec.alpha)
            new = q_all.argmax(1).cpu().numpy()
            changed = float((new != labels).mean())
            labels = new
            f = q_all.sum(0) / len(St)
            passes += 1
            if step > 0:
                dec.history_.changed_fraction.append(changed)
                report(0.6 + 0.35 * step / max_iter, f"DEC step {step:,}: {changed:.2%} of the sample changed")
                if changed < dec.tol and passes > ANCHOR_PASSES:
                    dec.history_.converged = True
                    break
        raw = next(stream)
        xb = torch.from_numpy(np.ascontiguousarray(_scaled(dec, raw), dtype=np.float32)).to(dec.device_)
        z = dec.encoder_(xb)
        q = student_t(z, dec.centers_, dec.alpha)
        with torch.no_grad():
            if mix is not None and passes <= ANCHOR_PASSES:
                p = torch.from_numpy(mix.predict_proba(xb.cpu().numpy()).astype(np.float32)).to(dec.device_)
            else:
                w = q.detach() ** 2 / f
                if prior is not None:
                    w = w * prior
                p = w / w.sum(1, keepdim=True)
        loss = torch.sum(p * torch.log((p + 1e-12) / (q + 1e-12))) / len(xb)
        if dec.reconstruction_weight > 0:
            loss = loss + dec.reconstruction_weight * torch.mean((dec.decoder_(z) - xb) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        dec.history_.kl_loss.append(float(loss.detach()))
        step += 1
    return step
