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
