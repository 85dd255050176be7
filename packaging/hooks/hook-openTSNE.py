"""PyInstaller hook for openTSNE: collect its compiled submodules.

``openTSNE._tsne`` imports ``openTSNE._matrix_mul.matrix_mul`` (the FFT gradient)
from compiled code, where PyInstaller's import analysis cannot see it; without
this hook the frozen app failed every t-SNE map with ``No module named
'openTSNE._matrix_mul'``. ``kl_divergence`` and the bundled annoy (the neighbour
search above 1,000 points) are imported lazily the same way.
"""

from PyInstaller.utils.hooks import collect_submodules

hiddenimports = collect_submodules("openTSNE")
