#!/usr/bin/env bash
# Galaxy Sorter developer entry point.
#   bash scripts/dev.sh run    set up, then open the app on the built-in synthetic sample
#   bash scripts/dev.sh cli    set up, then cluster the sample headless (CLI, CSV out)
#   bash scripts/dev.sh test   set up if needed, then run the test suite
#   bash scripts/dev.sh build  set up, then build the standalone app into dist/galaxy-sorter/
#   bash scripts/dev.sh package  compress dist/galaxy-sorter/ (built first if absent) into
#                              dist/galaxy-sorter-VERSION-OS-ARCH.tar.xz, the download
#   bash scripts/dev.sh setup  only set up (.venv, packages, model files, sample)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY=$VENV/bin/python

setup() {
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.deps-ok" ] || [ pyproject.toml -nt "$VENV/.deps-ok" ]; then
    "$PY" -m pip install -q --upgrade pip
    # torch first and pinned: a CPU build from local disk on our machines; the
    # project's range then installs nothing more (see README, "Torch").
    "$PY" -m pip install -q "torch==2.13.0"
    "$PY" -m pip install -q -e ".[dev]"
    touch "$VENV/.deps-ok"
  fi
  "$PY" models/build_models.py
  if [ ! -f resources/sample/labels.csv ]; then
    "$PY" -m core.cli sample
  fi
}

case "${1:-}" in
  setup) setup ;;
  run)
    setup
    shift
    "$PY" -m app.main resources/sample "$@"
    ;;
  cli)
    setup
    "$VENV/bin/galaxy-sorter-cli" cluster resources/sample --clusters 3 \
      --truth resources/sample/labels.csv --out sample_clusters.csv
    ;;
  build)
    setup
    "$PY" -m pip install -q "pyinstaller>=6.10,<7"
    start=$(date +%s)
    "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN build.spec
    echo "built dist/galaxy-sorter in $(( $(date +%s) - start )) s, $(du -sh dist/galaxy-sorter | cut -f1)"
    ;;
  package)
    if [ ! -x dist/galaxy-sorter/galaxy-sorter ]; then
      bash "$0" build
    fi
    version=$("$PY" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
    out="dist/galaxy-sorter-$version-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m).tar.xz"
    echo "packaging the build of $(date -r dist/galaxy-sorter/galaxy-sorter '+%Y-%m-%d %H:%M') into $out"
    start=$(date +%s)
    # xz's default level (-6) on two threads: its time on this 2-core machine is in the README
    # (Packaging); higher levels are slower still. Sorted names and neutral owners: the same
    # build gives the same archive.
    tar -C dist --sort=name --owner=0 --group=0 --numeric-owner -cf - galaxy-sorter \
      | xz -T2 -6 > "$out.part"
    mv "$out.part" "$out"
    echo "wrote $out in $(( $(date +%s) - start )) s: $(du -h "$out" | cut -f1) ($(stat -c %s "$out") bytes;" \
      "unpacked $(du -sh dist/galaxy-sorter | cut -f1))"
    ;;
  test)
    setup
    "$VENV/bin/ruff" check .
    "$VENV/bin/lint-imports"
    shift
    QT_QPA_PLATFORM=offscreen "$PY" -m pytest "$@"
    ;;
  *) echo "usage: bash scripts/dev.sh {run|cli|test|build|package|setup} [args]" >&2; exit 2 ;;
esac
