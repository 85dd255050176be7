"""Corrections teach the model: semi-supervised DEC fine-tuning plus a supervised head.

One *round* takes the DEC encoder from its ONNX file, the features of every
image and the astronomer's labels, and runs in three steps:

1. :func:`plan_round` decides the clusters.  Each class the user labelled
   gets a cluster whose centre starts at the mean embedding of its labelled
   images (the seed paper's "manual cluster initialisation"); a cluster the
   user named after a class is that class's cluster; a class created since the
   last round becomes a new cluster.  Clusters nobody labelled or named stay as
   they were until the user has labelled at least as many classes as there
   were clusters.
2. :func:`train_round` fine-tunes the last layers of the encoder and the
   centres on

   * DEC's self-training loss, KL(P || Q) over all images, with the target P
     of each labelled image clamped to its class;
   * a class-balanced cross-entropy on the soft assignments q of the labelled
     images (rare classes, such as ellipticals, weigh as much as common ones);
   * must-link / cannot-link terms on pairs of labelled images (same class:
     q_i . q_j -> 1; different classes: q_i . q_j -> 0);

   stopping early at the step where a held-back fifth of the user's labels is
   best classified (when there are enough labels to hold some back).  The
   earlier layers stay fixed and are run once, so a round takes seconds
   whatever the folder's size.

   Beside it, :func:`fit_head` trains a supervised head on the full features
   (a class-balanced logistic regression mixed with the plain one, the plain
   one gaining weight with every answer; :mod:`core.learning.head`): the
   10-d DEC embedding, trained to reconstruct, drops much of the direction a
   linear classifier finds (``benchmarks/label_efficiency.py``).
   The head is then calibrated on its own cross-fitted probabilities
   (:mod:`core.learning.calibration`) and moved so that the unlabelled
   galaxies come out in the class fractions the plain logistic regression
   counts (``decision``, "counted"; or class-balanced, or EM's fractions);
   the label of a galaxy is its most probable class.
3. :func:`report_round` gives each galaxy its final label, the head's class
   where the head is confident and the image's cluster is one of the labelled
   classes, DEC's cluster otherwise; writes the encoder to a new ONNX file (the
   previous file is kept, so a round can be undone); and says what the user
   may believe: the expected accuracy of the unlabelled galaxies' labels under
   the calibrated probabilities, with a bootstrap interval (the fit to the
   labels themselves says nothing, training forces it), and how many
   galaxies moved and where.

User labels are never changed here: the catalogue takes the user's label
first, the model's only for the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.clustering.dec import DEC
from core.clustering.dec_objective import kl_self_training, student_t, target_distribution
from core.learning.head import (  # noqa: F401
    _balanced_accuracy,
    balanced_weight,
    calibrated_head,
    estimate_accuracy,
    estimate_needs,
    fit_head,
)
from core.learning.rounds import RoundOptions, RoundResult, report_round  # noqa: F401 (report_round: part of this API)
from core.learning.threads import torch_threads
from core.progress import Cancelled, ProgressFn, StopFn
from core.vocabulary import cluster_name

#: Labels that teach nothing about the classes.
NOT_A_CLASS = {"unsure", "exclude"}


@dataclass
class RoundPlan:
    """The clusters of a round and the fixed part of the encoder's work, from :func:`plan_round`."""

    dec: DEC
    H: np.ndarray
    split: int
    z0: np.ndarray
    prev: np.ndarray
    names: list[str]
    centers: np.ndarray
    origin: list[set[int]]
    n_classes: int
    lab_rows: np.ndarray
    lab_y: np.ndarray


@dataclass
class TrainedRound:
    """DEC's side of a round, from :func:`train_round`."""

    embedding: np.ndarray
    centers: np.ndarray
    soft: np.ndarray
    history: list[float]
    best_step: int


def _plan_clusters(
    z: np.ndarray,
    centers: np.ndarray,
    prev_clusters: np.ndarray,
    labels: np.ndarray,
    cluster_names: dict[int, str],
    class_order: Sequence[str],
    base: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray, list[set[int]], int]:
    """Decide the clusters of the round: names, starting centres, the old clusters each continues, classes.

    ``centers`` are the encoder's clusters and ``base`` its own assignment;
    ``prev_clusters`` and ``cluster_names`` are the previous run's, in its own
    indices.  Every round starts from the DEC run's encoder, so after the
    first round the two differ: a round that gave three clusters two classes
    leaves a previous run of two, and reading its index 2 as the encoder's
    cluster 2 brought that cluster back, unnamed, in the next round (a
    quarter of a three-class folder, ``docs/benchmarks.md``, issue 21's
    seventh pass).  So an encoder cluster takes the name of the previous
    cluster that holds most of its galaxies, else its labelled galaxies'
    majority class; only a cluster with neither stays unnamed.
    """
    labelled = np.array([lab is not None and lab not in NOT_A_CLASS for lab in labels])
    base = prev_clusters if base is None else np.asarray(base, np.int64)
    named = {int(c): n for c, n in cluster_names.items() if n not in NOT_A_CLASS}

    def majority(rows: np.ndarray) -> str | None:
        if not rows.any():
            return None
        names, counts = np.unique(labels[rows].astype(str), return_counts=True)
        return str(names[np.argmax(counts)])

    def holder(j: int) -> int:
        """The previous cluster holding most of the encoder's cluster ``j`` (``j`` itself when it is empty)."""
        inside = prev_clusters[(base == j) & (prev_clusters >= 0)]
        return int(np.bincount(inside).argmax()) if len(inside) else j

    claimed: dict[int, str] = {}  # the encoder's clusters
    for j in range(len(centers)):
        name = named.get(holder(j)) or majority(labelled & (base == j))
        if name is not None:
            claimed[j] = name
    continues: dict[int, str] = {}  # the previous run's clusters
    for c in np.unique(prev_clusters).tolist():
        name = named.get(int(c)) or majority(labelled & (prev_clusters == c))
        if name is not None:
            continues[int(c)] = name
    found = set(labels[labelled].astype(str)) | set(claimed.values())
    classes = [c for c in class_order if c in found]
    classes += sorted(found - set(classes))
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
        origin.append({p for p, n in continues.items() if n == c})
    if len(classes) < len(centers):
        for j in range(len(centers)):
            if j not in claimed:
                names.append(cluster_name(j))
                starts.append(centers[j])
                origin.append({holder(j)})
    return names, np.stack(starts).astype(np.float32), origin, len(classes)


#: The fixed layers' output of the last round, keyed by a digest of the features and of those layers.
_FIXED: dict[str, np.ndarray] = {}
#: Kept between rounds only up to this size (a 10,000-galaxy folder's is 80 MB).
FIXED_CACHE_BYTES = 512 * 2**20


def _fixed_output(full, split: int, dec: DEC, X: np.ndarray) -> np.ndarray:
    """The encoder's fixed layers (``full[:split]``) on ``X``, reused from the last round when nothing changed.

    Profiled on 10,000 galaxies at load 9 (``benchmarks/label_efficiency.py --timing-only``): these
    layers were 0.72 s of the plan stage's 0.95 s (the 64x500x500x2000 matrix products), and a
    round never trains them, so every round after the first computes the same array.  The key is
    a SHA-1 of the features, the input scaling and the fixed layers' weights: a new DEC fit, other
    features or more trained layers miss the cache.
    """
    import hashlib

    import torch

    h = hashlib.sha1(np.ascontiguousarray(X).tobytes())
    h.update(np.asarray(dec.input_mean_, np.float64).tobytes() + np.asarray(dec.input_scale_, np.float64).tobytes())
    for prm in full[:split].parameters():
        h.update(prm.detach().numpy().tobytes())
    key = f"{X.shape}-{split}-{h.hexdigest()}"
    if key in _FIXED:
        return _FIXED[key]
    H = full[:split](torch.from_numpy(dec.scale_input(X))).numpy()
    _FIXED.clear()
    if H.nbytes <= FIXED_CACHE_BYTES:
        _FIXED[key] = H
    return H


def plan_round(
    X: np.ndarray,
    encoder_path: str | os.PathLike[str],
    user_labels: Sequence[str | None],
    *,
    prev_clusters: np.ndarray | None = None,
    cluster_names: dict[int, str] | None = None,
    class_order: Sequence[str] = (),
    train_layers: int = 1,
) -> RoundPlan:
    """Load the encoder, run its fixed layers once and decide the round's clusters.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features of every image (the encoder's input).
    encoder_path : path-like
        The DEC encoder ONNX file (written by :meth:`core.clustering.dec.DEC.save_onnx`).
    user_labels : sequence of str or None, length n_samples
        The user's label of each image, or None.  ``unsure``/``exclude`` teach nothing.
    prev_clusters : ndarray of int, optional
        The clusters before this round (default: the encoder's own assignment).
    cluster_names : dict, optional
        Clusters the user named after a class.
    class_order : sequence of str
        The project's classes, in order (new clusters follow it).
    train_layers : int
        How many of the encoder's last linear layers the round trains; the
        ones before are fixed and computed once here (a few hundred labels
        cannot retrain a 2048x500 layer well, and the fixed part holds most of
        the arithmetic).

    Returns
    -------
    RoundPlan
    """
    import torch

    X = np.asarray(X, dtype=np.float32)
    labels = np.asarray(list(user_labels), dtype=object)
    if len(labels) != len(X):
        raise ValueError(f"{len(labels)} labels for {len(X)} images")
    dec = DEC.load_onnx(encoder_path)
    full = dec.encoder_
    linear = [i for i, m in enumerate(full) if isinstance(m, torch.nn.Linear)]
    split = linear[max(0, len(linear) - max(1, int(train_layers)))]
    with torch.no_grad():
        H = _fixed_output(full, split, dec, X)
        z0 = full[split:](torch.from_numpy(H)).numpy()
    q0 = student_t(z0, dec.cluster_centers_, dec.alpha)
    prev = q0.argmax(1) if prev_clusters is None else np.asarray(prev_clusters, np.int64)
    names, centers, origin, n_classes = _plan_clusters(z0, dec.cluster_centers_, prev, labels,
                                                       dict(cluster_names or {}), class_order, base=q0.argmax(1))
    index = {n: i for i, n in enumerate(names[:n_classes])}
    lab_rows = np.array([i for i, lab in enumerate(labels) if lab is not None and lab not in NOT_A_CLASS
                         and lab in index], np.int64)
    lab_y = np.array([index[labels[i]] for i in lab_rows], np.int64)
    return RoundPlan(dec, H, split, z0, prev, names, centers, origin, n_classes, lab_rows, lab_y)


def _holdout(lab_y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified held-back part of the labels (empty when a class has fewer than 5 labels)."""
    counts = np.bincount(lab_y)
    if fraction <= 0 or (counts > 0).sum() < 2 or counts[counts > 0].min() < 5:
        return np.zeros(0, np.int64)
    out = []
    for c in np.flatnonzero(counts):
        rows = np.flatnonzero(lab_y == c)
        out.extend(rng.choice(rows, max(1, int(round(fraction * len(rows)))), replace=False).tolist())
    return np.sort(np.asarray(out, np.int64))


def train_round(
    plan: RoundPlan,
    *,
    steps: int = 150,
    update_interval: int = 25,
    lr: float = 1e-3,
    batch_size: int = 256,
    ce_weight: float = 1.0,
    pair_weight: float = 0.5,
    kl_weight: float = 0.1,
    holdout: float = 0.2,
    random_state: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainedRound:
    """Fine-tune the encoder's last layers and the centres (KL + balanced cross-entropy + pairs).

    Parameters
    ----------
    plan : RoundPlan
        From :func:`plan_round`.
    steps, update_interval, lr, batch_size : training schedule (Adam)
        Optimiser steps of the round (the same whatever the folder's size, so
        a round takes seconds on 10,000 images), and steps between target
        updates (and early-stopping checks).
    ce_weight, pair_weight, kl_weight : float
        Weights of the supervised, pairwise-constraint and self-training terms
        (kl_weight 0.1 measured best in ``benchmarks/label_efficiency.py``:
        with 1.0 the self-training held on to the unsupervised split).
    holdout : float
        Fraction of the labels held back to choose the step to keep (early
        stopping); used only when every class has at least 5 labels.
    random_state : int
    progress, should_stop : callables, optional

    Returns
    -------
    TrainedRound
    """
    import torch

    dec, k = plan.dec, len(plan.names)
    rng = np.random.default_rng(random_state)
    held = _holdout(plan.lab_y, holdout, rng)
    train_mask = np.ones(len(plan.lab_rows), bool)
    train_mask[held] = False
    lab_rows, lab_y = plan.lab_rows[train_mask], plan.lab_y[train_mask]
    val_rows, val_y = plan.lab_rows[held], plan.lab_y[held]
    history: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        gen = torch.Generator().manual_seed(random_state)
        mu = torch.nn.Parameter(torch.from_numpy(plan.centers.copy()))
        Xt = torch.from_numpy(plan.H)
        encoder = dec.encoder_[plan.split:]
        encoder.train()
        opt = torch.optim.Adam(list(encoder.parameters()) + [mu], lr=lr)
        lab_rows_t = torch.from_numpy(lab_rows)
        lab_y_t = torch.from_numpy(lab_y)
        counts = np.bincount(lab_y, minlength=k).astype(np.float32)
        # class-balanced: each labelled class weighs the same in total
        weight = torch.from_numpy(np.where(counts > 0, counts.sum() / (np.maximum(counts, 1) * max(1, (counts > 0).sum())),
                                           0.0).astype(np.float32))
        interval = max(1, min(update_interval, steps))
        best = (-1.0, 0, None)
        total = [0.0]

        def refresh(step: int, q_all):
            nonlocal best
            if len(val_rows):
                score = _balanced_accuracy(val_y, q_all[torch.from_numpy(val_rows)].argmax(1).numpy())
                if score > best[0]:
                    best = (score, step, ([p.detach().clone() for p in encoder.parameters()], mu.detach().clone()))
            p = target_distribution(q_all)
            if len(lab_rows):
                p[lab_rows_t] = torch.nn.functional.one_hot(lab_y_t, k).float()
            return p

        def supervised(_idx, _z, _q) -> list:
            if not len(lab_rows):
                return []
            sub = (torch.arange(len(lab_rows)) if len(lab_rows) <= batch_size
                   else torch.randperm(len(lab_rows), generator=gen)[:batch_size])
            yl = lab_y_t[sub]
            ql = student_t(encoder(Xt[lab_rows_t[sub]]), mu, dec.alpha)
            terms = [ce_weight * torch.nn.functional.nll_loss(torch.log(ql + 1e-12), yl, weight=weight)]
            if pair_weight > 0 and len(sub) > 1:
                # must-link (same class): q_i . q_j -> 1; cannot-link: q_i . q_j -> 0
                agree = (ql @ ql.T).clamp(1e-6, 1 - 1e-6)
                same = (yl[:, None] == yl[None, :]).float()
                pair = -(same * torch.log(agree) + (1 - same) * torch.log(1 - agree))
                off = 1 - torch.eye(len(sub))
                terms.append(pair_weight * (pair * off).sum() / off.sum())
            return terms

        def after_step(step: int, loss: float) -> None:
            total[0] += loss
            if (step + 1) % interval == 0 or step == steps - 1:
                history.append(total[0] / ((step % interval) + 1))
                total[0] = 0.0
                if progress:
                    progress((step + 1) / steps, f"fine-tuning round: step {step + 1}/{steps}, loss {history[-1]:.4f}")
                if should_stop and should_stop():
                    raise Cancelled("fine-tuning cancelled")

        kl_self_training(encoder, mu, Xt, steps=steps, interval=interval, batch_size=batch_size, optimizer=opt,
                         generator=gen, alpha=dec.alpha, refresh=refresh, extra_loss=supervised, kl_weight=kl_weight,
                         after_step=after_step)
        best_step = steps
        if best[2] is not None:
            best_step = best[1]
            with torch.no_grad():
                for prm, saved in zip(encoder.parameters(), best[2][0]):
                    prm.copy_(saved)
                mu.copy_(best[2][1])
        encoder.eval()
        with torch.no_grad():
            z = encoder(Xt).numpy()
            centers = mu.detach().numpy().copy()
    return TrainedRound(z, centers, student_t(z, centers, dec.alpha), history, best_step)


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
    options: RoundOptions | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    **overrides: object,
) -> RoundResult:
    """One round: :func:`plan_round`, :func:`train_round`, the (calibrated) head, :func:`report_round`.

    Parameters
    ----------
    X, encoder_path, user_labels, prev_clusters, cluster_names, class_order :
        See :func:`plan_round`.
    prev_names, out_path :
        See :func:`report_round`.
    options : RoundOptions, optional
        The round's tunables (default: :class:`RoundOptions`'s defaults).
    progress, should_stop : callables, optional
    **overrides
        Fields of :class:`RoundOptions` replacing those of ``options`` (``steps=60``);
        an unknown name raises ``TypeError``.

    Returns
    -------
    RoundResult
    """
    opts = replace(options or RoundOptions(), **overrides)  # type: ignore[arg-type]
    with torch_threads(opts.threads):
        return _finetune_round(X, encoder_path, user_labels, prev_clusters, prev_names, cluster_names, class_order,
                               out_path, opts, progress, should_stop)


def _finetune_round(X, encoder_path, user_labels, prev_clusters, prev_names, cluster_names, class_order, out_path,
                    o: RoundOptions, progress, should_stop) -> RoundResult:
    if o.decision not in ("counted", "accuracy", "balanced"):
        raise ValueError(f"unknown decision rule {o.decision!r} (counted, accuracy or balanced)")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    plan = plan_round(X, encoder_path, user_labels, prev_clusters=prev_clusters, cluster_names=cluster_names,
                      class_order=class_order, train_layers=o.train_layers)
    timings["plan"] = time.perf_counter() - t0
    t = time.perf_counter()
    trained = train_round(plan, steps=o.steps, update_interval=o.update_interval, lr=o.lr, batch_size=o.batch_size,
                          ce_weight=o.ce_weight, pair_weight=o.pair_weight, kl_weight=o.kl_weight, holdout=o.holdout,
                          random_state=o.random_state, progress=progress, should_stop=should_stop)
    timings["train"] = time.perf_counter() - t
    t = time.perf_counter()
    head_proba, cal = None, None
    if o.head and o.estimate:
        head_proba, cal = calibrated_head(X, plan.lab_rows, plan.lab_y, plan.n_classes, C=o.head_C,
                                          self_training=o.self_training, decision=o.decision,
                                          balanced_answers=o.balanced_answers, random_state=o.random_state)
    elif o.head:
        head_proba = fit_head(X, plan.lab_rows, plan.lab_y, plan.n_classes, C=o.head_C, self_training=o.self_training,
                              balanced_answers=o.balanced_answers, random_state=o.random_state)
    timings["head"] = time.perf_counter() - t
    est = (float("nan"), float("nan"), "not measured" if not o.estimate
           else estimate_needs(plan.lab_y, plan.names) or "the cross-fitted probabilities could not be made")
    if cal is not None:
        head_proba = cal.proba
        est = (cal.accuracy, cal.balanced_accuracy,
               f"expected accuracy of the galaxies you did not label under probabilities calibrated on your "
               f"{len(plan.lab_y)} labels (cross-fitted); interval: bootstrap over your labels")
    if should_stop and should_stop():
        raise Cancelled("fine-tuning cancelled")
    result = report_round(plan, trained, head_proba, head_threshold=o.head_threshold, estimate=est,
                          encoder_path=encoder_path, out_path=out_path, prev_names=prev_names,
                          seconds=time.perf_counter() - t0, timings=timings, calibration=cal)
    if head_proba is not None:
        result.balanced_weight = balanced_weight(o.balanced_answers, len(plan.lab_rows))
    return result
