"""The import layering of docs/ARCHITECTURE.md, checked on every module's imports.

The domain (`fleet`) runs no tools and creates no resources, so it imports neither subprocess,
matplotlib nor Pulumi; the Pulumi program (`__main__.py`, `components`) never imports the
command line; nothing shipped imports the tests or the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.sample import PROJECT

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "fleet": (
        "subprocess",
        "multiprocessing",
        "matplotlib",
        "pulumi",
        "pulumi_kubernetes",
        "pulumi_azure_native",
        "pulumi_github",
        "pulumi_tls",
        "pulumi_command",
        "components",
        "fleet_cli",
        "policy",
        "benchmarks",
        "tests",
    ),
    "components": ("fleet_cli", "policy", "benchmarks", "tests", "matplotlib"),
    "__main__.py": ("fleet_cli", "policy", "benchmarks", "tests", "matplotlib"),
    "fleet_cli": ("policy", "benchmarks", "tests"),
    "policy": ("fleet_cli", "benchmarks", "tests", "matplotlib"),
    "benchmarks": ("tests",),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def sources(layer: str) -> list[Path]:
    root = PROJECT / layer
    return [root] if root.is_file() else sorted(root.rglob("*.py"))


def violations(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        module
        for module in imported_modules(path)
        if any(module == banned or module.startswith(banned + ".") for banned in forbidden)
    )


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    found = {
        str(path.relative_to(PROJECT)): bad
        for path in sources(layer)
        if (bad := violations(path, FORBIDDEN[layer]))
    }
    assert not found, found


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("import subprocess\nfrom pulumi.runtime import settings\nimport yaml\n")
    assert violations(module, FORBIDDEN["fleet"]) == ["pulumi.runtime", "subprocess"]
