"""How large the galaxies are in their frames, and the DEC start a folder of small ones gets (issue 24).

Why
    A survey's cutouts are not framed like Galaxy Zoo's: in a fixed-size SDSS
    or JWST stamp a distant galaxy fills a few per cent of the frame.  The
    features still separate the morphologies there (``galaxy_duo``'s second
    network is trained on galaxies cropped to their own size), but the split
    need not lie on the two leading principal axes, where DEC's start mixture
    (:func:`core.clustering.prior.prior_mixture`) looks for it.  GC1-HSC with
    every galaxy shrunk to 1/3 of its size (``benchmarks/robustness.py``, 5
    seeds): the 2-axis start gave DEC 0.822 / ARI 0.593 where k-means gave
    0.898 / 0.680; the start whose axes three projections agree on
    (:func:`core.clustering.prior.consensus_mixture`) gave 0.885 / 0.671.
    On full-size galaxies the consensus start is no better and on GC1-HSC
    worse (ARI 0.619 against 0.659, 3 seeds), so only folders of small
    galaxies get it (``docs/benchmarks.md``, "DEC on galaxies small in their
    frames").

What
    :func:`folder_radius` measures the median second-moment radius of a sample
    of the folder's images (:func:`core.images.preprocess.moment_radius`, as a
    fraction of the shorter side); :func:`choose_start` turns DEC's start into
    "input-consensus" when it is under :data:`SMALL_RADIUS`, unless the user
    set the start.  The run records the start it used, so reopening it does
    not depend on this rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from core.features.bands import SAMPLE, sample_images

#: Galaxies count as small in their frames below this median second-moment radius (a fraction of the
#: frame's shorter side).  Full-size cutouts measure 0.12 (Galaxy Zoo), 0.16 (GC1-SDSS) and 0.21
#: (GC1-HSC); the same galaxies shrunk to 1/3 of their size on their own sky measure 0.04, 0.05 and 0.07.
SMALL_RADIUS = 0.08
#: DEC's start for a folder of small galaxies (``DEC(init=...)``).
SMALL_START = "input-consensus"


def folder_radius(paths: Sequence[Path], sample: int = SAMPLE,
                  images: Sequence[np.ndarray] | None = None) -> tuple[float | None, int]:
    """Median second-moment radius of the central galaxy over a sample of ``paths``, and how many were measured.

    The sample is :func:`core.features.bands.sample_images`'s (deterministic;
    ``images`` when the caller has read it already).  Unreadable images and
    frames with nothing above the sky are left out; with none measured the
    radius is None.
    """
    from core.images.preprocess import moment_radius

    images = sample_images(paths, sample) if images is None else images
    radii = [r for r in (moment_radius(rgb) for rgb in images) if r is not None]
    return (float(np.median(radii)) if radii else None), len(radii)


def choose_start(dec_params: Mapping[str, object], paths: Sequence[Path],
                 images: Sequence[np.ndarray] | None = None) -> tuple[dict[str, object], str | None]:
    """DEC's parameters for this folder, and a sentence for the user when its framing decided the start.

    Parameters
    ----------
    dec_params : mapping
        The run's DEC parameters; an ``init`` set there is kept as it is.
    paths : sequence of Path
        The folder's images.
    images : sequence of ndarray, optional
        :func:`core.features.bands.sample_images` of ``paths``, when the caller has read them already.

    Returns
    -------
    (dec_params, note)
        ``note`` is None unless the folder's small galaxies changed the start.
    """
    params = dict(dec_params)
    if "init" in params:
        return params, None
    radius, measured = folder_radius(paths, images=images)
    if radius is None or radius >= SMALL_RADIUS:
        return params, None
    params["init"] = SMALL_START
    return params, (f"The galaxies are small in their frames (median radius {radius:.1%} of the frame, "
                    f"{measured} sampled), so DEC starts from the mixture whose axes three projections agree on.")
