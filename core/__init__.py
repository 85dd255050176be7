"""Galaxy Sorter core: the headless pipeline (no Qt, ever).

Images in, deep features, clusters, 2-D maps, labels and CSV out.  The desktop
app in ``app/`` only renders what this package computes.
"""

__version__ = "0.1.0"
