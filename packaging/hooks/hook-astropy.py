"""PyInstaller hook for astropy, replacing the contrib hook that collects every submodule.

The contrib hook imports astropy.visualization.wcsaxes, which needs matplotlib
(not shipped) and stops the build. Galaxy Sorter reads FITS files only, so the
submodules are collected without visualization, the test suites, cosmology and time series.

astropy's unit and angle parsers (PLY) look for their generated tables
(``*_lextab.py``, ``*_parsetab.py``) as files beside the parser and, when they
are missing, try to write them there: inside the frozen app that failed, and with
it every FITS header with a unit (``BUNIT``, ``CUNIT``), so no FITS file could be
read. The tables are therefore also collected as files.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

#: Subpackages the app never reaches (issue 22, 3 MB of compiled code): cosmology (astropy imports it
#: only for distances from a redshift) and time series (periodograms).
UNUSED = ("astropy.cosmology", "astropy.timeseries")

hiddenimports = collect_submodules(
    "astropy",
    filter=lambda name: not name.startswith(("astropy.visualization", "astropy.tests", *UNUSED))
    and ".tests" not in name and "conftest" not in name,
    on_error="ignore",
)
datas = collect_data_files("astropy", excludes=["**/tests/**", "**/visualization/**", "**/cosmology/**",
                                                "**/timeseries/**"])
datas += collect_data_files("astropy", include_py_files=True, includes=["**/*_lextab.py", "**/*_parsetab.py"])
