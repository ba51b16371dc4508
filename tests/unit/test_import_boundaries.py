"""The process boundaries of docs/architecture.md, read from the source's imports.

The replica (``app``) never imports the worker, the worker never imports the
replica, and the shared contract (``livegrid``) imports neither, except the
CLI entry point that starts them; the private ``livegrid.stores._lua`` helpers
are imported only inside ``livegrid.stores``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The ``livegrid`` command starts either side, so it alone may import them.
CLI_ENTRY_POINT = ROOT / "livegrid" / "cli.py"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _top(module: str) -> str:
    return module.partition(".")[0]


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("app", {"worker"}), ("worker", {"app"}), ("livegrid", {"app", "worker"})],
)
def test_a_package_does_not_import_the_other_side(package: str, forbidden: set[str]) -> None:
    crossing = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources(package)
        if path != CLI_ENTRY_POINT
        for module in _imports(path)
        if _top(module) in forbidden
    }
    assert not crossing, sorted(crossing)


def test_the_cli_is_the_only_livegrid_module_that_starts_a_side() -> None:
    assert {_top(m) for m in _imports(CLI_ENTRY_POINT)} >= {"app", "worker"}


def test_the_private_lua_helpers_are_imported_only_by_the_stores() -> None:
    stores = ROOT / "livegrid" / "stores"
    outside = {
        str(path.relative_to(ROOT))
        for package in ("livegrid", "app", "worker", "benchmarks", "harness", "tests")
        for path in _sources(package)
        if stores not in path.parents and "livegrid.stores._lua" in _imports(path)
    }
    assert not outside, sorted(outside)
