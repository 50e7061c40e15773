"""The layering is a tested fact: sed_core knows no Ray/MLflow/studies/reports; reports never import Ray or studies;
inside reports, data flows one way through its stages (fetch -> stats -> tables/figures -> sections -> pages -> build)."""
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


# reports' stages in data-flow order; a module may import its own stage and earlier ones, never a later one
REPORT_STAGES = {"errors": 0, "fetch": 1, "stats": 2, "tables": 3, "figures": 3, "sections": 4, "pages": 5, "build": 6}
# provenance.py builds its tables beside its frame; they move to reports/tables/ once h18-contract (which owns the
# module's code while it names the MLflow keys in one place) is merged
KNOWN_BACKWARD = {("reports/fetch/provenance.py", "tables")}


def report_stage(path: Path) -> str:
    parts = path.relative_to(ROOT / "reports").with_suffix("").parts
    return parts[0]


def imported_report_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        stages.update(name.split(".")[1] for name in names if name.startswith("reports."))
    return stages


def test_report_stages_import_only_earlier_stages():
    files = [f for f in sorted((ROOT / "reports").rglob("*.py")) if f.name != "__init__.py" or f.parent.name != "reports"]
    unknown = sorted(str(f.relative_to(ROOT)) for f in files if report_stage(f) not in REPORT_STAGES)
    assert unknown == [], f"modules outside the report stages {sorted(REPORT_STAGES)}"
    backward = {(str(f.relative_to(ROOT)), stage) for f in files for stage in imported_report_stages(f)
                if REPORT_STAGES[stage] > REPORT_STAGES[report_stage(f)]}
    assert backward - KNOWN_BACKWARD == set()
    assert KNOWN_BACKWARD <= backward, "a known exception is gone: remove it from KNOWN_BACKWARD"
