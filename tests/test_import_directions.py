"""The layering is a tested fact: sed_core knows no Ray/MLflow/studies/reports; reports never import Ray or studies."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "sed_core": {"ray", "mlflow", "optuna", "studies", "reports", "search_spaces"},
    "search_spaces": {"ray", "mlflow", "studies", "reports"},
    "reports": {"ray", "studies", "search_spaces"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_layers(package: str):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no python files in {package}"
    bad = {str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


# sed_core's subpackages and top-level modules, lowest layer first: a module imports from its own package or
# module and from lower layers only, never from its own layer's neighbours nor from a higher layer
SED_CORE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "desed_classes"),
    ("registry", "torch_files"),
    ("config",),
    ("data", "features", "metrics"),
    ("models",),
    ("training",),
    ("inference",),
)
SED_CORE = ROOT / "sed_core"


def sed_core_part(path: Path) -> str:
    """The subpackage or top-level module of sed_core a file belongs to (``__init__`` for the package itself)."""
    return path.relative_to(SED_CORE).with_suffix("").parts[0]


def imported_sed_core_parts(path: Path) -> set[str]:
    """The sed_core subpackages and top-level modules a file imports, relative imports resolved."""
    package = ("sed_core", *path.relative_to(SED_CORE).parent.parts)
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            modules.add(module)
            modules.update(f"{module}.{a.name}" for a in node.names)
    return {m.split(".")[1] for m in modules if m.startswith("sed_core.")}


def test_every_part_of_sed_core_has_a_layer():
    parts = {sed_core_part(f) for f in SED_CORE.rglob("*.py")} - {"__init__"}
    assert parts == {part for layer in SED_CORE_LAYERS for part in layer}


def test_sed_core_imports_only_lower_layers():
    layer_of = {part: depth for depth, layer in enumerate(SED_CORE_LAYERS) for part in layer}
    upward = {}
    for path in sorted(SED_CORE.rglob("*.py")):
        own = sed_core_part(path)
        if own == "__init__":
            continue
        bad = sorted(p for p in imported_sed_core_parts(path) - {own} if layer_of[p] >= layer_of[own])
        if bad:
            upward[str(path.relative_to(ROOT))] = bad
    assert upward == {}, f"imports of the same or a higher layer (order: {SED_CORE_LAYERS})"
