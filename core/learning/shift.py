"""Calibration under covariate shift: the answers weighed as the galaxies they stand for."""

from __future__ import annotations

import numpy as np


def shift_weights(lab_conf: np.ndarray, free_conf: np.ndarray, *, per_bin: int = 20, most: int = 5,
                  clip: float = 5.0) -> np.ndarray:
    """Weights that give the answers the unlabelled galaxies' distribution of confidence."""
    lab_conf = np.asarray(lab_conf, float)
    free_conf = np.asarray(free_conf, float)
    n = len(lab_conf)
    bins = int(np.clip(n // max(per_bin, 1), 1, most))
    if bins < 2 or not len(free_conf):
        return np.ones(n)
    edges = np.quantile(lab_conf, np.linspace(0, 1, bins + 1)[1:-1])
    bl = np.searchsorted(edges, lab_conf, side="right")
    bf = np.searchsorted(edges, free_conf, side="right")
    pl = np.bincount(bl, minlength=bins) / n
    pf = np.bincount(bf, minlength=bins) / len(free_conf)
    w = np.clip(pf[bl] / np.maximum(pl[bl], 1e-12), 1.0 / clip, clip)
    return w * n / w.sum()
