"""Finding, reading and showing galaxy images: the formats, the model's crop, display stretches, the built-in sample.

Modules are imported by their full name (``from core.images.MODULE import NAME``);
this package re-exports nothing.
"""
