"""Smoke test of the packaged app: the frozen executable clusters the sample and opens its window.

Beyond the sample run, it reads FITS files and draws a t-SNE map with DEC (torch) in the
frozen app, checks that every module core/ and app/ import (lazily too: the fine-tuning
round's torch and scikit-learn parts, which no headless command reaches) and every compiled
part of openTSNE are in the bundle, and that what build.spec drops stays out.

It builds the app first when ``GALAXY_SORTER_BUILD=1`` (``.ci/run`` sets it, so every
CI run tests a fresh build); otherwise it runs on ``dist/galaxy-sorter/`` (built by
``bash scripts/dev.sh build``) when that build is newer than the code it packages, and
skips, saying why, when there is no build or when it is older (a build from before a
pull would fail here on what the new code fixed); see the README, "Packaging".
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Which build to test (build.spec's flavours, issue 22): gpu, the default, or cpu (no CUDA provider).
FLAVOUR = os.environ.get("GALAXY_SORTER_FLAVOUR", "gpu")
DIST = ROOT / "dist" / ("galaxy-sorter" if FLAVOUR == "gpu" else f"galaxy-sorter-{FLAVOUR}")
#: The optional `survey` extra, left out of the bundle by build.spec: the frozen app says what to install.
NOT_BUNDLED = {"dask", "distributed", "lsdb", "hats", "hats_import", "nested_pandas"}
EXE = DIST / ("galaxy-sorter-console.exe" if sys.platform == "win32" else "galaxy-sorter-console")
INTERNAL = DIST / "_internal"


@pytest.fixture(scope="module")
def frozen() -> Path:
    if os.environ.get("GALAXY_SORTER_BUILD") == "1":
        subprocess.run(["bash", "scripts/dev.sh", "build"], cwd=ROOT, check=True)
    if not EXE.is_file():
        pytest.skip(f"no packaged app at {DIST}; build it with `bash scripts/dev.sh build` "
                    "or set GALAXY_SORTER_BUILD=1")
    # the executable PyInstaller writes (the console launcher is a copy that keeps its source's time)
    newer = _newer_sources((DIST / ("galaxy-sorter.exe" if sys.platform == "win32" else "galaxy-sorter")).stat().st_mtime)
    if newer:
        pytest.skip(f"the packaged app at {DIST} is older than {newer[0]} (and {len(newer) - 1} more): rebuild "
                    "it with `bash scripts/dev.sh build` or set GALAXY_SORTER_BUILD=1")
    return EXE


def _newer_sources(built: float) -> list[str]:
    """What the bundle is made from (build.spec, packaging/, core/, app/) changed since ``built``."""
    sources = [ROOT / "build.spec", *(ROOT / "packaging").rglob("*"), *(ROOT / "core").rglob("*.py"),
               *(ROOT / "app").rglob("*.py")]
    return sorted(str(p.relative_to(ROOT)) for p in sources if p.is_file() and p.stat().st_mtime > built)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("GALAXY_SORTER_MODELS", None)
    return env


def test_frozen_app_clusters_the_sample_headless(frozen, tmp_path):
    out = tmp_path / "sample.csv"
    sample = DIST / "_internal" / "resources" / "sample"
    work = tmp_path / "sample"
    work.mkdir()
    for p in sample.glob("*.png"):  # a writable copy: the project store goes beside the images
        (work / p.name).write_bytes(p.read_bytes())
    r = subprocess.run([str(frozen), "cluster", str(work), "--model", "efficientnet_lite0", "--clusters", "3",
                        "--truth", str(sample / "labels.csv"), "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 90 and {row["cluster"] for row in rows} == {"0", "1", "2"}
    assert "CPU" in r.stdout + r.stderr or "CUDA" in r.stdout + r.stderr


def test_frozen_gui_starts_offscreen_and_quits(frozen):
    r = subprocess.run([str(frozen), "--quit-after", "2"], capture_output=True, text=True, timeout=300, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "window shown" in r.stdout
    assert "Could not find the Qt platform plugin" not in r.stderr


def _sample_copy(folder: Path) -> Path:
    folder.mkdir()
    for p in (INTERNAL / "resources" / "sample").glob("*.png"):  # writable: the project store goes beside them
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def test_frozen_app_reads_fits_and_maps_with_dec_and_tsne(frozen, tmp_path):
    """FITS through astropy, DEC through torch and the t-SNE map through openTSNE's compiled code.

    The frozen app once skipped every FITS file (astropy's unit parser tried to write its
    tables into the bundle) and failed every t-SNE map (``No module named
    'openTSNE._matrix_mul'``), while the sample run, PNG and PCA only, passed.
    """
    from astropy.io import fits
    from PIL import Image

    work = _sample_copy(tmp_path / "mixed")
    pngs = sorted(work.glob("*.png"))
    fits_names = []
    for i, p in enumerate(pngs[::15]):  # six FITS files, one per few classes, with a unit card
        data = np.asarray(Image.open(p).convert("L")).astype(np.float32)
        hdu = fits.PrimaryHDU(data)
        hdu.header["BUNIT"] = "adu"
        hdu.writeto(work / f"fits_{i}.fits")
        fits_names.append(f"fits_{i}")
    out = tmp_path / "mixed.csv"
    r = subprocess.run([str(frozen), "cluster", str(work), "--method", "dec", "--clusters", "3",
                        "--projection", "tsne", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, env=_env())
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "skipped" not in text and "could not be processed" not in text, text
    assert "Unable to retrieve source" not in text, text  # torch modules that read their source at import
    rows = {row["id"]: row for row in csv.DictReader(open(out))}
    assert len(rows) == len(pngs) + len(fits_names)
    assert all(rows[name]["cluster"] in {"0", "1", "2"} for name in fits_names)
    xy = np.array([[float(row["x"]), float(row["y"])] for row in rows.values()])
    assert np.isfinite(xy).all() and xy.std(axis=0).min() > 0


def _imported_modules(folder: Path) -> set[str]:
    """Every absolute module name imported anywhere in the .py files under ``folder``."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                for a in node.names:  # `from pkg import sub` may name a submodule
                    sub = f"{node.module}.{a.name}"
                    try:
                        if importlib.util.find_spec(sub) is not None:
                            names.add(sub)
                    except (ImportError, ValueError):
                        pass
    return names


def _frozen_modules() -> set[str]:
    """Module names in the frozen app's Python archive."""
    readers = pytest.importorskip("PyInstaller.archive.readers")
    exe = DIST / ("galaxy-sorter.exe" if sys.platform == "win32" else "galaxy-sorter")
    archive = readers.CArchiveReader(str(exe))
    names: set[str] = set()
    for entry in archive.toc:
        if entry.endswith(".pyz") or entry == "PYZ.pyz" or entry.startswith("PYZ"):
            with tempfile.NamedTemporaryFile(suffix=".pyz", delete=False) as f:
                f.write(archive.extract(entry))
            try:
                names.update(readers.ZlibArchiveReader(f.name).toc)
            finally:
                os.unlink(f.name)
    return names


def _on_disk(name: str) -> bool:
    """Whether module ``name`` is in the bundle as an extension module or a source file."""
    base = INTERNAL.joinpath(*name.split("."))
    return (any(base.parent.glob(base.name + ".*.so")) or any(base.parent.glob(base.name + ".*.pyd"))
            or base.with_suffix(".py").is_file() or (base / "__init__.py").is_file())


def test_frozen_app_holds_every_module_the_code_imports(frozen):
    """A lazy import missing from the bundle fails only when a user reaches it: check them all."""
    stdlib = set(sys.stdlib_module_names)
    wanted = {n for n in _imported_modules(ROOT / "core") | _imported_modules(ROOT / "app")
              if n.split(".")[0] not in stdlib | NOT_BUNDLED and n.split(".")[0] != "__future__"}
    assert {"torch.nn", "sklearn.linear_model", "openTSNE", "astropy.io.fits"} <= wanted
    have = _frozen_modules()
    missing = sorted(n for n in wanted if n not in have and not _on_disk(n))
    assert not missing, f"imported by core/ or app/ but not in the frozen app: {missing}"


def test_frozen_app_holds_every_compiled_part_of_opentsne(frozen):
    spec = importlib.util.find_spec("openTSNE")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("openTSNE is not installed here")
    src = Path(next(iter(spec.submodule_search_locations)))
    compiled = {p.relative_to(src.parent) for p in src.rglob("*") if p.suffix in (".so", ".pyd")}
    assert compiled
    missing = sorted(str(p) for p in compiled if not (INTERNAL / p).is_file())
    assert not missing, f"openTSNE's compiled modules missing from the bundle: {missing}"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows keeps two executables (the console flag matters)")
def test_frozen_bundle_ships_the_python_archive_once_and_drops_unused_parts(frozen):
    assert frozen.stat().st_size < 4096, "galaxy-sorter-console should be a launcher, not a second executable"
    assert not (INTERNAL / "torch" / "test").exists()
    assert [p.name for p in (INTERNAL / "torch" / "bin").iterdir()] == ["torch_shm_manager"]
    assert not (INTERNAL / "PySide6" / "Qt" / "translations").exists()
    assert not (INTERNAL / "hypothesis").exists()
    assert (INTERNAL / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so").is_file()
    cuda = list((INTERNAL / "onnxruntime" / "capi").glob("libonnxruntime_providers_cuda*"))
    assert bool(cuda) == (FLAVOUR == "gpu"), f"{FLAVOUR} flavour with CUDA provider files {cuda}"
    assert not any(INTERNAL.glob("pyarrow/libarrow_flight*")) and any(INTERNAL.glob("pyarrow/libparquet*"))
    assert not any((INTERNAL / name).exists() for name in NOT_BUNDLED | {"numba", "llvmlite"})
    # OpenCV is out since core decodes with Pillow and resizes with core.images.ops (issue 22, 179 MB)
    assert not (INTERNAL / "cv2").exists() and not any(INTERNAL.glob("opencv_python*"))
    assert (INTERNAL / "PIL").is_dir() and any((INTERNAL / "PIL").glob("_imaging.*"))
    # issue 22's cuts: one libarrow_python (the name the modules load), no GTK 3 of the build machine (Qt's
    # GTK theme plugin stays and loads the desktop's), no CUDA runtime in the cpu flavour, no cosmology
    assert [p.name for p in INTERNAL.glob("pyarrow/libarrow_python.so*")] == ["libarrow_python.so.2600"]
    assert not any(INTERNAL.glob("libgtk-3.so*")) and not any(INTERNAL.glob("libcairo.so*"))
    assert (INTERNAL / "PySide6" / "Qt" / "plugins" / "platformthemes" / "libqgtk3.so").is_file()
    if FLAVOUR == "cpu":
        assert not any(INTERNAL.glob("libcudart.so*"))
    assert not (INTERNAL / "astropy" / "cosmology").exists() and not (INTERNAL / "astropy" / "timeseries").exists()
    leftovers = [p for pattern in ("pyarrow/include", "pyarrow/tests", "**/*.pyx", "**/*.h", "**/*.c")
                 for p in INTERNAL.glob(pattern)]
    assert not leftovers, leftovers[:5]  # sources and headers nothing reads at run time
    # the same library shipped by two wheels is one file and a link to it
    gfortran = sorted(INTERNAL.glob("*.libs/libgfortran-040039e1*"))
    assert sum(not p.is_symlink() for p in gfortran) == 1, gfortran


def test_frozen_app_decodes_jpeg_and_16_bit_colour_without_opencv(frozen, tmp_path):
    """Pillow decodes, pypng and tifffile keep 16-bit colour (LZW too), and cv2 is not in the bundle to fall back on."""
    import png
    import tifffile
    from PIL import Image

    assert not any(n == "cv2" or n.startswith("cv2.") for n in _frozen_modules())
    work = _sample_copy(tmp_path / "formats")
    for p in sorted(work.glob("*.png"))[12:]:
        p.unlink()
    pngs = sorted(work.glob("*.png"))
    for p in pngs[:4]:
        Image.open(p).convert("RGB").save(p.with_suffix(".jpg"), quality=92)
        p.unlink()
    for i, p in enumerate(pngs[4:7]):
        rgb16 = np.asarray(Image.open(p).convert("RGB")).astype(np.uint16) * 257
        if i == 0:
            with open(work / "deep_colour.png", "wb") as fh:
                png.Writer(rgb16.shape[1], rgb16.shape[0], greyscale=False, bitdepth=16).write(
                    fh, rgb16.reshape(rgb16.shape[0], -1).tolist())
        else:
            tifffile.imwrite(work / f"deep_colour_{i}.tif", rgb16, photometric="rgb",
                             compression="zlib" if i == 1 else None)
        p.unlink()
    out = tmp_path / "formats.csv"
    r = subprocess.run([str(frozen), "cluster", str(work), "--model", "efficientnet_lite0", "--method", "kmeans",
                        "--clusters", "2", "--out", str(out)], capture_output=True, text=True, timeout=600, env=_env())
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "skipped" not in text and "could not be processed" not in text, text
    assert len(list(csv.DictReader(open(out)))) == 12


def test_frozen_models_are_stored_in_16_bits_and_run_in_the_frozen_app(frozen, tmp_path):
    """Xception and Lite0 are shipped in 16-bit storage (packaging/weight_storage.py); the rest as built."""
    import onnxruntime as ort

    for name in ("xception", "efficientnet_lite0"):
        path = INTERNAL / "models" / f"{name}.onnx"
        meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
        assert "int16" in meta.get("galaxy_sorter.weights_storage", ""), name
        source = ROOT / "models" / f"{name}.onnx"
        if source.is_file():
            assert path.stat().st_size < 0.53 * source.stat().st_size
    for name in ("galaxy_cnn", "galaxy_cnn2", "xception_int8"):  # exact copies
        source = ROOT / "models" / f"{name}.onnx"
        if source.is_file():
            assert (INTERNAL / "models" / f"{name}.onnx").read_bytes() == source.read_bytes()
    work = _sample_copy(tmp_path / "few")
    for p in sorted(work.glob("*.png"))[8:]:
        p.unlink()
    out = tmp_path / "x.csv"
    r = subprocess.run([str(frozen), "cluster", str(work), "--model", "xception", "--method", "kmeans", "--clusters",
                        "2", "--out", str(out)], capture_output=True, text=True, timeout=600, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(list(csv.DictReader(open(out)))) == 8


#: Issue 22's goal for the packaged app: 1.0 GB (10^9 bytes, counted as packaging/size_report.py does).
SIZE_GOAL = 1_000_000_000
#: What each flavour measured when built by this spec plus about 1% (docs/packaging.md, issue 22's third round,
#: OpenCV replaced by Pillow and core/images/ops.py: cpu 974.0 MB, gpu 1,259.7 MB): a guard against the
#: bundle growing back unnoticed.
SIZE_BUDGET = {"cpu": 984_000_000, "gpu": 1_272_000_000}


def _bundle_bytes() -> int:
    spec = importlib.util.spec_from_file_location("size_report", ROOT / "packaging" / "size_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    return sum(size for _path, size in report._files(DIST))


def test_frozen_bundle_stays_within_its_measured_size(frozen):
    size = _bundle_bytes()
    assert size <= SIZE_BUDGET[FLAVOUR], (f"the {FLAVOUR} bundle is {size / 1e6:,.0f} MB, over its budget of "
                                          f"{SIZE_BUDGET[FLAVOUR] / 1e6:,.0f} MB: python packaging/size_report.py {DIST}")


def test_frozen_cpu_bundle_meets_the_1gb_goal(frozen):
    """Met since OpenCV left the bundle (issue 22's third round: 974.0 MB)."""
    if FLAVOUR != "cpu":
        pytest.skip("the goal is the cpu flavour's (the gpu flavour adds onnxruntime's CUDA provider)")
    assert _bundle_bytes() <= SIZE_GOAL


def test_frozen_app_writes_parquet_folders_and_says_what_hats_needs(frozen, tmp_path):
    """Parquet stays in the bundle (pyarrow without Flight and S3); HATS names the extra it needs."""
    import pyarrow.dataset as ds

    work = tmp_path / "sample"
    work.mkdir()
    for p in sorted((INTERNAL / "resources" / "sample").glob("*.png"))[:30]:
        (work / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "cat.parquet"
    args = [str(frozen), "cluster", str(work), "--model", "efficientnet_lite0", "--method", "kmeans", "--clusters", "3"]
    r = subprocess.run(args + ["--format", "parquet-dataset", "--out", str(out)], capture_output=True, text=True,
                       timeout=600, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    table = ds.dataset(out, format="parquet").to_table()
    assert table.num_rows == 30 and sorted(set(table["cluster"].to_pylist())) == [0, 1, 2]
    r = subprocess.run(args + ["--format", "hats", "--out", str(tmp_path / "cat.hats")], capture_output=True,
                       text=True, timeout=600, env=_env())
    assert r.returncode == 2 and "sky position" in r.stderr, r.stdout + r.stderr
