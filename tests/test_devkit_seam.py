"""The seam between the product and the development tools: pipelines/, schemas/ and dashboards/ never import
devkit/ (the simulator and the benchmarks), except the CLI's commands, inside their bodies, when they run.

Checked over the source of every module of those packages (found on disk, not listed), with `ast`, and once at
run time: loading the Dagster definitions and the CLI leaves devkit unimported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PRODUCT = ("pipelines", "schemas", "dashboards")
#: Modules that may import devkit, and then only inside a function (a command body, run on demand).
LAZY_IMPORTERS = frozenset({"pipelines/cli.py"})


def _product_modules() -> list[Path]:
    return sorted(path for package in PRODUCT for path in (Path(PROJECT_ROOT) / package).rglob("*.py"))


def _is_devkit(name: str | None) -> bool:
    return name is not None and (name == "devkit" or name.startswith("devkit."))


def _imported(node: ast.AST) -> list[str | None]:
    """The absolute module names an import statement names (none for other nodes and relative imports)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return [node.module]
    return []


def devkit_imports(source: str) -> list[tuple[int, bool]]:
    """(line, inside a function) of every import of devkit in `source`."""
    found: list[tuple[int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if any(_is_devkit(name) for name in _imported(child)):
                found.append((child.lineno, in_function))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(source), False)
    return found


def test_the_check_sees_every_form_of_import() -> None:
    source = """
import devkit
import os, devkit.simulate as sim
from devkit.bench import runs
from devkitten import nothing
from . import devkit_like
def command():
    from devkit.simulate import formats
"""
    assert devkit_imports(source) == [(2, False), (3, False), (4, False), (8, True)]


def test_the_product_never_imports_devkit() -> None:
    modules = _product_modules()
    assert len(modules) > 20 and any(path.name == "cli.py" for path in modules)
    wrong = []
    for path in modules:
        name = path.relative_to(PROJECT_ROOT).as_posix()
        for line, in_function in devkit_imports(path.read_text()):
            if not (in_function and name in LAZY_IMPORTERS):
                wrong.append(f"{name}:{line}")
    assert not wrong, f"the product imports devkit (only the CLI may, inside a command): {', '.join(wrong)}"


@pytest.mark.slow  # a Python process loading Dagster
def test_loading_the_product_leaves_devkit_unimported() -> None:
    code = (
        "import sys, pipelines.definitions, pipelines.cli, dashboards.report\n"
        "pipelines.cli.build_parser()\n"
        "loaded = sorted(m for m in sys.modules if m == 'devkit' or m.startswith('devkit.'))\n"
        "assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
