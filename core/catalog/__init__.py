"""What leaves the app: the catalogue and its sidecar, joins with external catalogues, truth files, montages.

Modules are imported by their full name (``from core.catalog.MODULE import NAME``);
this package re-exports nothing.
"""
