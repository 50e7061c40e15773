"""The layering is a tested fact: sed_core knows no Ray/MLflow/studies/reports; reports never import Ray or studies;
the names that cross the tracking store are spelled in reports/contract.py alone; inside reports, data flows one way
through its stages (contract -> fetch -> stats -> tables/figures -> sections -> pages -> build)."""
from __future__ import annotations

import ast
import sys
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


CONTRACT = ROOT / "reports" / "contract.py"


def contract_names() -> set[str]:
    """The contract's namespaced store names (a dot or a slash in them: tags, artifact files, metrics), which
    cannot be mistaken for ordinary words."""
    import reports.contract as contract

    return {value for name, value in vars(contract).items()
            if name.endswith(("_TAG", "_ARTIFACT", "_METRIC", "_PREFIX")) and isinstance(value, str)
            and ("." in value or "/" in value)}


def store_name_literals(path: Path, names: set[str]) -> list[str]:
    """`line: 'text'` of each string literal (docstrings aside) that starts with "sedstudy." or is a contract name."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [f"{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and (node.value.startswith("sedstudy.") or node.value in names)]


def test_store_names_are_spelled_only_in_the_contract():
    """Every tag, artifact and metric name that crosses the tracking store is written once, in reports/contract.py;
    writers (studies) and readers (studies, reports) use its constants."""
    names = contract_names()
    assert {"sedstudy.kind", "mlflow.parentRunId", "planned_trials.json", "tune/objective"} <= names
    files = [f for package in ("studies", "reports") for f in sorted((ROOT / package).rglob("*.py")) if f != CONTRACT]
    found = {str(f.relative_to(ROOT)): store_name_literals(f, names) for f in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_contract_imports_only_the_standard_library_and_mlflow():
    assert imported_roots(CONTRACT) - {"mlflow", "__future__"} <= set(sys.stdlib_module_names)


# reports' stages in data-flow order; a module may import its own stage and earlier ones, never a later one
REPORT_STAGES = {"errors": 0, "contract": 0, "fetch": 1, "stats": 2, "tables": 3, "figures": 3, "sections": 4,
                 "pages": 5, "build": 6}


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
    files = [f for f in sorted((ROOT / "reports").rglob("*.py"))
             if f.name != "__init__.py" or f.parent.name != "reports"]
    unknown = sorted(str(f.relative_to(ROOT)) for f in files if report_stage(f) not in REPORT_STAGES)
    assert unknown == [], f"modules outside the report stages {sorted(REPORT_STAGES)}"
    backward = {(str(f.relative_to(ROOT)), stage) for f in files for stage in imported_report_stages(f)
                if REPORT_STAGES[stage] > REPORT_STAGES[report_stage(f)]}
    assert backward == set()

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
