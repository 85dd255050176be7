"""Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016), in torch.

The method, as the paper gives it:

1. A stacked denoising autoencoder ``d-500-500-2000-10`` is pretrained greedily,
   one layer pair at a time, each reconstructing its (dropout-corrupted) input;
   then the whole deep autoencoder is fine-tuned on reconstruction.  ReLU
   everywhere except the embedding layer and the reconstruction of the input.
2. The decoder is dropped; k-means in the 10-d embedding gives the initial
   cluster centres.
3. Soft assignments follow a Student's t kernel (alpha = 1)::

       q_ij = (1 + |z_i - mu_j|^2 / alpha)^(-(alpha+1)/2) / sum_j' (...)

   and the encoder and centres minimise KL(P || Q) against the sharpened target
   ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`` with ``f_j = sum_i q_ij``,
   recomputed every ``update_interval`` iterations.
4. Training stops when fewer than ``tol`` of the points change cluster between
   two target updates.

DEC's known failure modes are checked after fitting, not shipped silently:
clusters that empty out or collapse (the target's ``f_j`` normalisation assumes
roughly balanced clusters, and galaxy classes are not balanced), and a result
whose silhouette in the pre-DEC embedding is clearly worse than plain k-means
on that same embedding.  Each finding is appended to ``warnings_``; with
``fallback="kmeans"`` a collapsed result is replaced by the k-means
initialisation, which is always at least as sound.

The trained encoder and centres are saved as ONNX (:meth:`DEC.save_onnx`), the source
of truth for the weights: :meth:`DEC.load_onnx` rebuilds torch modules from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from core.clustering.dec_checks import check_result
from core.clustering.dec_input import fit_input_scaling, fit_projection, torch_threads
from core.clustering.dec_objective import kl_self_training, student_t
from core.clustering.sdae import Reporter, fit_cluster_weights, fraction_keeping_target, initial_partition, pick_device, pretrain
from core.clustering.streaming import fit_streaming, is_streamed
from core.progress import ProgressFn, StopFn

PAPER_DIMS = (500, 500, 2000, 10)
FAST_DIMS = (256, 256, 512, 10)
SMALL_NET_FROM = 500  # the "auto" network is FAST_DIMS from this many rows, PAPER_DIMS below

PAPER_SCHEDULE: dict[str, object] = {
    "hidden_dims": PAPER_DIMS, "pretrain": "greedy", "pretrain_budget": None,
    "pretrain_epochs": 20, "finetune_epochs": 40, "plateau_tol": 0.0,
    "max_pretrain_samples": None, "n_components": None, "batch_size": 256, "max_iter": 4000, "max_epochs": None,
    "init": "embedding"}
"""The schedule of Xie et al. (and of this class before issue 13): ``DEC(**PAPER_SCHEDULE)``."""


@dataclass
class FitHistory:
    """What happened during fitting, for diagnostics and benchmarks."""

    pretrain_loss: list[float]
    finetune_loss: list[float]
    kl_loss: list[float]
    changed_fraction: list[float]
    iterations: int = 0
    converged: bool = False


class DEC(ClusterMixin, BaseEstimator):
    """Deep Embedded Clustering with a denoising autoencoder, as a scikit-learn estimator.

    ``get_params()`` is the full record of how a result was made.  The network
    and the losses are the paper's; the default *schedule* is the fast one
    (see the module notes); ``DEC(**PAPER_SCHEDULE)`` is the paper's.

    Parameters
    ----------
    n_clusters : int
        Number of clusters.
    hidden_dims : sequence of int or "auto"
        Encoder layer sizes after the input.  "auto" (default): ``(256, 256, 512, 10)``
        (``FAST_DIMS``), the paper's shape (``PAPER_DIMS``, ``(500, 500, 2000, 10)``)
        at half the width and a quarter of the widest layer, six times less
        arithmetic, from 500 images (``SMALL_NET_FROM``): with the start-size assignment it is
        as good or better on GC1 and the Kaggle test split, 5 seeds, both galaxy models (issue 24,
        docs/benchmarks.md); below, the paper's (on 30 images the small one lost to k-means).
    alpha : float
        Student's t degrees of freedom.
    tol : float
        Stop when fewer than this fraction of points change cluster between target updates.
    max_iter : int
        Most DEC iterations (mini-batches) in the clustering stage.
    max_epochs : float or None
        Most passes over the data in the clustering stage (the stage stops at
        whichever of ``max_iter`` and ``max_epochs`` comes first).  The target
        is updated once a pass, so 5 passes give the assignments 5 chances to
        settle; the paper's 4,000 iterations are 157 passes over 6,507 images,
        which was most of the old fit time.  None: ``max_iter`` alone.
    update_interval : int, optional
        Iterations between target updates; default one pass over the data.
    batch_size : int
        Mini-batch size of every stage (256 in the paper; larger batches use the
        CPU's matrix units better, and the step count is what is tuned).
    pretrain : {"auto", "end-to-end", "greedy"}
        "greedy" is the paper's layer-wise pretraining (``pretrain_epochs`` per
        layer pair, then ``finetune_epochs`` end to end); "end-to-end" trains
        the whole denoising autoencoder at once, at most ``finetune_epochs``
        epochs, stopping early on a loss plateau.  "auto" (default): greedy
        below 1,000 images, where it costs seconds and gave the better start for
        fine-tuning on small sets (``tests/core/test_finetune.py``), end to end
        from 1,000 images on, where the greedy stages were a third of the time.
    pretrain_epochs : int
        Epochs for each greedy layer pair (``pretrain="greedy"`` only).
    finetune_epochs : int
        Epochs of the end-to-end autoencoder (the most, when ``plateau_tol > 0``).
    plateau_tol : float
        Stop end-to-end pretraining once an epoch improves the loss by less than
        this fraction of the best loss so far, twice in a row (0: never stop early).
    pretrain_budget : int or None
        End-to-end pretraining sees at most this many rows in all (epochs times
        rows per epoch): 20 epochs of a 771-image folder, 9 of 6,500 images,
        6 of 10,000-row epochs for a survey.  None: ``finetune_epochs`` epochs.
    max_pretrain_samples : int or None
        An autoencoder epoch sees at most this many images, drawn afresh each
        epoch: the autoencoder learns the shape of the feature cloud, which
        10,000 galaxies describe as well as 60,000.  None: every image.
    n_components : int, "auto" or None
        Train on the top principal components of the scaled input instead of
        every feature; the projection is folded into the first layer after
        fitting, so the encoder (and its ONNX file) still takes the raw
        ``d`` features.  "auto" (default) keeps 64 components when there are
        more than 128 features and at least 1,000 images (256 components from
        256 features before issue 22; ``core.clustering.dec_input.n_projected``).  None: no projection.
    min_steps : int
        Least number of optimiser steps for each greedy layer (twice that for the
        end-to-end stage): small folders get more epochs, so that a 90-image
        sample is trained as well as a 10,000-image survey (the paper counts
        iterations, not epochs).
    dropout : float
        Corruption rate of the denoising autoencoders (0.2 in the paper).
    lr : float
        Learning rate of the clustering stage (SGD with momentum 0.9, as in the paper).
    pretrain_lr : float
        Adam learning rate of the autoencoder stages (Adam converges in far
        fewer epochs than the paper's SGD, which matters on a laptop CPU).
    n_init : int
        k-means restarts for the initial centres.
    fallback : {"kmeans", None}
        When the clusters collapse, fall back to the k-means initialisation.
    standardise : bool or "auto"
        Centre each feature and scale it to unit variance before the autoencoder
        (the centring and scaling are the first nodes of the ONNX encoder).  CNN
        features have a few very loud channels; without this the autoencoder spends
        its capacity on them.  False scales all features by one global factor.
        "auto" (default) standardises when there are at least as many images as
        features: with fewer, per-feature variances are mostly noise and
        equalising them drowns the signal (measured on the 30-image sample).
    reconstruction_weight : float
        Weight of the autoencoder's reconstruction loss kept during self-training
        (0 is the paper's DEC; a positive value is IDEC, Guo et al. 2017, which
        keeps the embedding from drifting away from the data).  The default 1.0
        measured best on real galaxy features (``benchmarks/evaluate.py``).
    init : {"input-mixture", "input-consensus", "embedding"}
        Where self-training starts: "embedding" is the paper's (k-means in the embedding, the paper's
        target); "input-mixture" (default, issue 24) the class-fraction-estimating mixture on the input
        and a target that keeps those fractions (``sdae.initial_partition``); "input-consensus" the same
        mixture on the axes three projections agree on (small galaxies get it, ``core.features.framing``).
    assign : {"start-fractions", "argmax"}
        The final assignment: "argmax" is the paper's; "start-fractions" (default, issue 24) keeps DEC's
        order of the galaxies but gives each cluster the input mixture's estimated size (one weight per
        cluster on ``q``, in ``cluster_weights_`` and the ONNX file; ``sdae.fit_cluster_weights``).
    n_threads : int, "auto" or None
        torch threads while fitting: "auto" (default) one (faster for these small
        matrices on a shared CPU, and the same sums on every CPU);
        None: torch's setting (``core.clustering.dec_input.torch_threads``).
    stream_above : int or None
        Fit by streaming (``core.clustering.streaming``) above this many rows, and
        always when ``X`` is memory-mapped: the autoencoder and the start on a
        seeded sample, self-training on mini-batches read from ``X`` (issue 22:
        1,000,000 x 64 in minutes, memory bounded).  None: only memory-mapped input.
    stream_sample : int
        Rows of that sample.
    device : {"auto", "cpu", "cuda"}
        Where torch trains; "auto" takes the GPU when torch sees one.  The fitted
        encoder always ends on the CPU.
    random_state : int or None
        Seed for weights, corruption, shuffling and k-means; same seed, same clusters.
    """

    def __init__(
        self,
        n_clusters: int = 2,
        *,
        hidden_dims: Sequence[int] | str = "auto",
        alpha: float = 1.0,
        tol: float = 0.001,
        max_iter: int = 4000,
        max_epochs: float | None = 5.0,
        update_interval: int | None = None,
        batch_size: int = 256,
        pretrain: str = "auto",
        pretrain_epochs: int = 20,
        finetune_epochs: int = 20,
        plateau_tol: float = 0.01,
        pretrain_budget: int | None = 60_000,
        max_pretrain_samples: int | None = 10_000,
        n_components: int | str | None = "auto",
        min_steps: int = 0,
        dropout: float = 0.2,
        lr: float = 0.01,
        pretrain_lr: float = 1e-3,
        n_init: int = 20,
        fallback: str | None = "kmeans",
        standardise: bool | str = "auto",
        reconstruction_weight: float = 1.0,
        init: str = "input-mixture",
        assign: str = "start-fractions",
        n_threads: int | str | None = "auto",
        stream_above: int | None = 200_000,
        stream_sample: int = 50_000,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.hidden_dims = hidden_dims
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.update_interval = update_interval
        self.batch_size = batch_size
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.plateau_tol = plateau_tol
        self.pretrain_budget = pretrain_budget
        self.max_pretrain_samples = max_pretrain_samples
        self.n_components = n_components
        self.min_steps = min_steps
        self.dropout = dropout
        self.lr = lr
        self.pretrain_lr = pretrain_lr
        self.n_init = n_init
        self.fallback = fallback
        self.standardise = standardise
        self.reconstruction_weight = reconstruction_weight
        self.init = init
        self.assign = assign
        self.n_threads = n_threads
        self.stream_above = stream_above
        self.stream_sample = stream_sample
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: np.ndarray,
        y: None = None,
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> DEC:
        """Pretrain the autoencoder, initialise by k-means and run DEC self-training.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Features (CNN features or raw pixels).
        y : ignored
        progress : callable(fraction, message), optional
        should_stop : callable() -> bool, optional
            Polled every epoch/iteration; True raises :class:`Cancelled`.

        Returns
        -------
        self
        """
        import torch

        streamed = is_streamed(self, X)
        X = self._check_input(X, chunked=streamed)
        if self.n_clusters < 1 or self.n_clusters > len(X):
            raise ValueError(f"n_clusters={self.n_clusters} must lie between 1 and n_samples={len(X)}")
        if self.pretrain not in ("auto", "end-to-end", "greedy"):
            raise ValueError(f"pretrain={self.pretrain!r} must be 'auto', 'end-to-end' or 'greedy'")
        if self.assign not in ("start-fractions", "argmax"):
            raise ValueError(f"assign={self.assign!r} must be 'start-fractions' or 'argmax'")
        self.hidden_dims_ = tuple(self.hidden_dims if self.hidden_dims != "auto" else
                                  (PAPER_DIMS if len(X) < SMALL_NET_FROM else FAST_DIMS))
        self.pretrain_ = self.pretrain if self.pretrain != "auto" else ("greedy" if len(X) < 1000 else "end-to-end")
        seed = 0 if self.random_state is None else int(self.random_state)
        self.warnings_: list[str] = []
        self.history_ = FitHistory([], [], [], [])
        self.device_ = pick_device(self.device)
        self.timings_: dict[str, float] = {}
        self.streamed_ = streamed
        report = Reporter(progress, should_stop)
        with torch.random.fork_rng(devices=[]), torch_threads(self.n_threads, len(X)):
            torch.manual_seed(seed)
            (fit_streaming if streamed else DEC._fit_in_memory)(self, X, seed, report)
        t = time.perf_counter()
        check_result(self, X)
        self.timings_["check"] = time.perf_counter() - t
        report(1.0, "DEC done")
        return self

    def _fit_in_memory(self, X: np.ndarray, seed: int, report: Reporter) -> None:
        """Every stage on ``X`` held in memory as one tensor (below ``stream_above`` rows)."""
        import torch

        t = time.perf_counter()
        fit_input_scaling(self, X)
        scaled = self.scale_input(X)
        fit_projection(self, scaled, seed)
        if self.projection_ is not None:
            scaled = scaled @ self.projection_
        Xt = torch.from_numpy(np.ascontiguousarray(scaled, dtype=np.float32)).to(self.device_)
        del scaled
        self.timings_["input"] = time.perf_counter() - t
        t = time.perf_counter()
        pretrain(self, Xt, seed, report)
        self.timings_["pretrain"] = time.perf_counter() - t
        t = time.perf_counter()
        self._cluster(Xt, seed, report)
        del Xt
        # Assign as saved (projection folded in, cluster weights): predict(X) and the ONNX file give labels_.
        self.cluster_weights_ = np.ones(self.n_clusters, np.float32)
        q = self.predict_proba(X)
        fit_cluster_weights(self, q)
        q = self._reweight(q)
        self.labels_ = q.argmax(1).astype(np.int64)
        self.soft_assignments_ = q
        self.timings_["cluster"] = time.perf_counter() - t

    def scale_input(self, X: np.ndarray) -> np.ndarray:
        """``X`` standardised as the encoder expects it (the fitted mean and scale), float32."""
        return ((X - self.input_mean_) * self.input_scale_).astype(np.float32)

    def _check_input(self, X: np.ndarray, chunked: bool = False) -> np.ndarray:
        if not chunked or X.dtype != np.float32:
            X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError("X must be a non-empty 2-D array of shape (n_samples, n_features)")
        if not all(np.isfinite(X[s : s + 65536]).all() for s in range(0, len(X), 65536)):
            raise ValueError("X holds NaN or infinite values")
        return X

    def _embed(self, Xt):
        """Encoder output for every row, in chunks (a 60,000 x 2,000 activation is 480 MB at once)."""
        import torch

        with torch.no_grad():
            return torch.cat([self.encoder_(Xt[s : s + 8192]) for s in range(0, len(Xt), 8192)])

    def _cluster(self, Xt, seed: int, report: Reporter) -> None:
        import torch

        z0 = self._embed(Xt).cpu().numpy()
        self.initial_embedding_ = z0
        init_labels, centres = initial_partition(self, Xt, z0, seed)
        self.kmeans_labels_ = np.asarray(init_labels, dtype=np.int64)
        self.centers_ = torch.nn.Parameter(torch.from_numpy(centres.astype(np.float32)).to(self.device_))
        params = list(self.encoder_.parameters()) + [self.centers_]
        if self.reconstruction_weight > 0:
            params += list(self.decoder_.parameters())
        opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9)
        gen = torch.Generator().manual_seed(seed + 1)
        n = len(Xt)
        interval = self.update_interval or max(1, int(np.ceil(n / self.batch_size)))
        max_iter = self.max_iter
        if self.max_epochs is not None:
            # Small folders still get 100 iterations: they cost nothing, and a pass is one step.
            max_iter = min(max_iter, max(100, int(np.ceil(self.max_epochs * n / self.batch_size))))
        state = {"labels": self.kmeans_labels_}
        target = fraction_keeping_target(self)

        def refresh(it: int, q):
            labels = q.argmax(1).cpu().numpy()
            changed = float((labels != state["labels"]).mean())
            state["labels"] = labels
            if it > 0:
                self.history_.changed_fraction.append(changed)
                report(0.6 + 0.4 * min(1.0, it / max_iter), f"DEC iteration {it}: {changed:.2%} changed")
                if changed < self.tol:
                    self.history_.converged = True
                    return None
            return target(q)

        def reconstruction(idx, z_b, _q_b):
            if self.reconstruction_weight <= 0:
                return ()
            return (self.reconstruction_weight * torch.mean((self.decoder_(z_b) - Xt[idx]) ** 2),)

        it = kl_self_training(self.encoder_, self.centers_, Xt, steps=max_iter, interval=interval,
                              batch_size=self.batch_size, optimizer=opt, generator=gen, alpha=self.alpha,
                              refresh=refresh, embed=lambda: self._embed(Xt), extra_loss=reconstruction,
                              after_step=lambda _it, loss: self.history_.kl_loss.append(loss))
        self.history_.iterations = it
        self.n_iter_ = it
        self._finish_on_cpu()

    def _finish_on_cpu(self) -> None:
        """Move the model to the CPU and fold the input projection into the first layer."""
        import torch

        self.encoder_ = self.encoder_.cpu().eval()
        self.decoder_ = self.decoder_.cpu().eval()
        self.centers_ = torch.nn.Parameter(self.centers_.detach().cpu())
        self.cluster_centers_ = self.centers_.detach().numpy().copy()
        if self.projection_ is not None:
            first = self.encoder_[0]
            folded = torch.nn.Linear(self.projection_.shape[0], first.out_features)
            with torch.no_grad():
                folded.weight.copy_(first.weight @ torch.from_numpy(self.projection_).T)
                folded.bias.copy_(first.bias)
            self.encoder_[0] = folded

    # --------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise RuntimeError("this DEC instance is not fitted yet; call fit first")

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the embedding of ``X``, shape (n_samples, hidden_dims[-1])."""
        import torch

        self._check_fitted()
        X = self._check_input(X)
        with torch.no_grad():
            # In chunks: the 2,000-wide layer of 60,000 rows would be 480 MB at once.
            return np.concatenate([self.encoder_(torch.from_numpy(self.scale_input(X[s : s + 8192]))).numpy()
                                   for s in range(0, len(X), 8192)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the soft assignments q of ``X`` (times ``cluster_weights_``, renormalised), shape (n_samples, k)."""
        return self._reweight(student_t(self.transform(X), self.cluster_centers_.astype(np.float32), self.alpha))

    def _reweight(self, q: np.ndarray) -> np.ndarray:  # q times the cluster weights, renormalised
        weights = self._weights()
        if weights is None:
            return q
        q = q * weights
        return q / q.sum(axis=1, keepdims=True)

    def _weights(self) -> np.ndarray | None:
        """``cluster_weights_`` while the centres are the ones they were fitted for, else None (a round moves them)."""
        weights, centres = getattr(self, "cluster_weights_", None), getattr(self, "weighted_centers_", None)
        if weights is None or (weights == 1).all() or centres is None or centres.shape != self.cluster_centers_.shape:
            return None
        return weights if np.array_equal(centres, self.cluster_centers_) else None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the cluster of each row of ``X``."""
        return self.predict_proba(X).argmax(1)

    def fit_predict(self, X: np.ndarray, y: None = None, **kwargs) -> np.ndarray:
        """Fit (``kwargs`` go to :meth:`fit`: progress, should_stop) and return ``labels_``."""
        return self.fit(X, **kwargs).labels_

    # ------------------------------------------------------------------- ONNX
    def save_onnx(self, path: str | Path) -> Path:
        """Write the encoder and centres as ONNX; returns the path.

        The graph takes raw features ``input`` (n, d) and returns ``embedding``
        (n, 10) and the soft assignments ``q`` (n, k); the input scaling is the
        graph's first node, so the file alone reproduces :meth:`transform`.
        """
        from core.clustering.onnx_mlp import save_encoder

        self._check_fitted()
        return save_encoder(path, self.encoder_, self.input_scale_, self.cluster_centers_, self.alpha, self.input_mean_,
                            self._weights())

    @classmethod
    def load_onnx(cls, path: str | Path, **params) -> DEC:
        """Rebuild a fitted DEC from its ONNX file (for prediction or further training)."""
        import torch

        from core.clustering.onnx_mlp import load_cluster_weights, load_encoder

        encoder, scale, centers, alpha, mean = load_encoder(path)
        dims = [m.out_features for m in encoder if isinstance(m, torch.nn.Linear)]
        self = cls(n_clusters=len(centers), hidden_dims=tuple(dims), alpha=alpha, **params)
        self.encoder_ = encoder
        self.projection_ = None
        self.device_ = "cpu"
        self.input_scale_ = scale
        self.input_mean_ = mean
        self.cluster_centers_ = centers
        self.centers_ = torch.nn.Parameter(torch.from_numpy(centers.copy()))
        self.cluster_weights_ = load_cluster_weights(path, len(centers))
        self.weighted_centers_ = centers.copy()
        self.warnings_ = []
        return self
