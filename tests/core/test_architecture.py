"""core/ must never import Qt, pyqtgraph or app/ (also enforced by import-linter in the test command)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "app", "shiboken6")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _core_files() -> list[Path]:
    """Every module of core/, its sub-packages included (a glob of one level let a split escape the check)."""
    return sorted(CORE.rglob("*.py"))


def _module(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_forbidden_import_statement_in_core():
    offenders = {str(p.relative_to(CORE)): sorted(_imports(p) & set(FORBIDDEN)) for p in _core_files()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_the_sub_packages():
    modules = {_module(p) for p in _core_files()}
    for room in ("images", "store", "features", "clustering", "learning", "catalog"):
        assert f"core.{room}" in modules and any(m.startswith(f"core.{room}.") for m in modules)


@pytest.mark.slow
def test_core_imports_with_qt_blocked():
    """Import every core module in a fresh interpreter where Qt cannot be imported at all."""
    modules = [_module(p) for p in _core_files()]
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {FORBIDDEN!r}: raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}: __import__(m)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_test_modules_import_helpers_from_tests_helpers_never_from_each_other():
    tests = CORE.parent / "tests"
    offenders = {}
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and ".test_" in f".{node.module}":
                offenders.setdefault(str(path.relative_to(tests)), []).append(node.module)
    assert offenders == {}


def test_no_name_of_a_registry_entry_is_compared_outside_its_registry():
    """Callers ask an entry for its options; `== "dbscan"` or `FeatureModel(name)` built by hand are gone."""
    import re

    pattern = re.compile(r"""(==|!=)\s*["'](dbscan|dec|dec-raw|kmeans|gmm|pca|tsne|lda|csv|dec-finetuned)["']"""
                         r"""|FeatureModel\(""")
    allowed = {"features/extract.py"}  # the class itself and the registry's factory
    hits = [f"{p.relative_to(CORE)}:{n}" for p in _core_files() if str(p.relative_to(CORE)) not in allowed
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line) and "fallback ==" not in line]  # DEC's own fallback parameter, not a registry
    assert hits == []


def test_app_has_no_import_circle():
    """No app module imports one that imports it back, not even for type checking (the window <-> qt_tables circle)."""
    app = CORE.parent / "app"
    graph: dict[str, set[str]] = {}
    for path in app.rglob("*.py"):
        name = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app."):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("app."))
        graph[name] = deps

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == goal or (dep not in seen and (seen.add(dep) or reaches(dep, goal, seen))):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, set()))
    assert circles == []


def test_no_module_over_500_lines():
    """Issue 20: a module a newcomer can read; a module that grows past 500 lines is split by concern."""
    root = CORE.parent
    too_long = {str(p.relative_to(root)): n for p in [*_core_files(), *sorted((root / "app").rglob("*.py"))]
                if (n := len(p.read_text().splitlines())) > 500}
    assert too_long == {}
