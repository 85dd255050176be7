"""``cluster ... --join``: the catalogue join of :mod:`core.cli`, checked before any image is read, done after.

:func:`check_join` refuses what cannot work before the clustering (a bad
radius, a catalogue that is not a readable CSV table, a join that would match
no image file of the folder), so a mistake costs seconds, not a run;
:func:`join_result` joins the clustered images, keeps the join in the project
store and hands the export its ``cat_*`` columns.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.cli import UsageError


@dataclass
class JoinPlan:
    """What :func:`check_join` found: the radius, and the image centres it read for a sky join (by path)."""

    radius_arcsec: float
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)


def check_join(args: argparse.Namespace, found: Sequence[Path]) -> JoinPlan:
    """Refuse a ``--join`` that cannot work before any image is read; return the radius and what was read.

    Parameters
    ----------
    args : argparse.Namespace
        The ``cluster`` arguments (``out``, ``format``, ``folder``, ``radius``, ``join``, ``by``, ``join_column``).
    found : sequence of Path
        The image files of the folder (:func:`core.images.io.scan_images`).

    Returns
    -------
    JoinPlan
        The radius in arcsec and, for ``--by sky``, each file's centre (read once, used again after clustering).

    Raises
    ------
    core.cli.UsageError
        ``--out`` inside FOLDER for a format the scanner reads as an image (a FITS
        table there would be clustered by the next run); a radius that is no
        angle; a catalogue missing, not a readable CSV table (an unclosed quote,
        a cell over 128 KiB, no rows) or matching none of the image files (no id
        in common, no source within the radius): each said here, not after the
        clustering, and the project's join is left as it was.
    """
    from core.catalog.export import EXPORT_FORMATS
    from core.catalog.join import join_catalogue, load_catalog, sky_positions
    from core.catalog.positions import parse_radius
    from core.catalog.tables import refuse_inside_image_folder

    try:
        refuse_inside_image_folder(args.out, args.folder, always=EXPORT_FORMATS.get(args.format).options.holds_images)
    except ValueError as exc:
        raise UsageError(f"--out {args.out}: {exc}") from None
    try:
        plan = JoinPlan(parse_radius(args.radius))
    except ValueError as exc:
        raise UsageError(f"--radius: {exc}") from None
    if args.join is None:
        return plan
    if not args.join.is_file():
        raise UsageError(f"--join {args.join}: no such file")
    paths = [str(p) for p in found]
    try:  # a catalogue that cannot be read, or joins nothing, is said before the clustering, not after it
        load_catalog(args.join)
        positions = sky_positions(paths) if args.by == "sky" else None
        join_catalogue(paths, args.join, args.by, id_column=args.join_column, radius_arcsec=plan.radius_arcsec,
                       positions=positions)
    except ValueError as exc:
        raise UsageError(f"--join: {exc}") from None
    if positions is not None:
        plan.positions = {p: (float(ra), float(dec)) for p, (ra, dec) in zip(paths, positions)}
    return plan


def join_result(args: argparse.Namespace, store, paths: Sequence[str], plan: JoinPlan
                ) -> tuple[dict[str, dict[str, object]], dict[str, object], str]:
    """Join ``--join`` to the clustered images and keep it in the project store (``store``, a ``ProjectStore``).

    Returns the export's ``cat_*`` columns (by path), the sidecar's join record
    and the line that says how many images matched (and which catalogue rows a
    sky join skipped, with no usable position).

    Raises the join's ``ValueError`` (exit status 2), the store untouched and no
    catalogue written, when the images that were clustered match nothing
    though the files checked by :func:`check_join` did (the matching ones unreadable).
    """
    from core.catalog.join import JOIN_SETTING, join_catalogue, join_to_setting

    positions = None
    if args.by == "sky" and all(p in plan.positions for p in paths):
        positions = np.array([plan.positions[p] for p in paths], float).reshape(-1, 2)
    try:
        joined, cols = join_catalogue(paths, args.join, args.by, id_column=args.join_column,
                                      radius_arcsec=plan.radius_arcsec, positions=positions)
    except ValueError as exc:
        raise ValueError(f"--join: {exc}; no catalogue was written (the clustering is kept in the project)") from None
    store.set_setting(JOIN_SETTING, join_to_setting(joined, [store.key_of(p) for p in paths], cols))
    said = (f"joined {args.join.name} by {args.by}: {joined.matched} of {len(paths)} images matched, "
            f"{len(cols)} column(s) as cat_*" + "".join(f"; {n}" for n in [joined.note()] if n))
    return {name: dict(zip(paths, values)) for name, values in cols.items()}, joined.record(), said
