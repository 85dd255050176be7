"""From features to clusters and maps: DEC and the baselines, class-fraction priors, 2-D projections, scores.

Modules are imported by their full name (``from core.clustering.MODULE import NAME``);
this package re-exports nothing.
"""
