"""The project store (``.galaxy-sorter/``): the SQLite database of images, runs and labels, and the feature cache.

Modules are imported by their full name (``from core.store.MODULE import NAME``);
this package re-exports nothing.
"""
