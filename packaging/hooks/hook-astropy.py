"""PyInstaller hook for astropy, replacing the contrib hook that collects every submodule.

The contrib hook imports astropy.visualization.wcsaxes, which needs matplotlib
(not shipped) and stops the build. Galaxy Sorter reads FITS files only, so the
submodules are collected without visualization and the test suites.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

hiddenimports = collect_submodules(
    "astropy",
    filter=lambda name: not name.startswith(("astropy.visualization", "astropy.tests"))
    and ".tests" not in name and "conftest" not in name,
    on_error="ignore",
)
datas = collect_data_files("astropy", excludes=["**/tests/**", "**/visualization/**"])
