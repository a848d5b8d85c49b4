"""The package's layers (docs/architecture.md): a subpackage imports only from its own
layer or lower ones, config/ stays pure Python and transform/ stays free of Beam."""

from __future__ import annotations

import ast
import pathlib

import pytest

from tests.support import REPO

LAYERS = ("config", "transform", "io", "diagnostics", "serving", "job", "explore", "cli")
PACKAGE = REPO / "pipeline"
MODULES = sorted(p for p in PACKAGE.glob("*/*.py"))


def imports(path: pathlib.Path) -> set[str]:
    """Every module name `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_subpackage_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_a_module_imports_only_its_own_or_lower_layers(path):
    own = LAYERS.index(path.parent.name)
    for name in imports(path):
        parts = name.split(".")
        if parts[0] != "pipeline" or len(parts) < 2:
            continue
        assert LAYERS.index(parts[1]) <= own, (
            f"pipeline/{path.parent.name}/{path.name} imports {name}, a higher layer")


@pytest.mark.parametrize("layer, forbidden", [
    ("config", ("tensorflow", "apache_beam", "tensorflow_transform", "pyarrow")),
    ("transform", ("apache_beam",)),
])
def test_low_layers_stay_free_of_heavy_libraries(layer, forbidden):
    for path in (PACKAGE / layer).glob("*.py"):
        heavy = {name for name in imports(path) if name.split(".")[0] in forbidden}
        assert not heavy, f"pipeline/{layer}/{path.name} imports {sorted(heavy)}"
