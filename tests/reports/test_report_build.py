from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from reports.build import ReportPaths, build_report, redact_uri
from reports.figures import save_metrics_by_factor
from reports.load import load_study

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"


@pytest.fixture(scope="module")
def built(store, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, ReportPaths]:
    first = build_report(store.uri, "quickstart", tmp_path_factory.mktemp("report_1"))
    second = build_report(store.uri, "quickstart", tmp_path_factory.mktemp("report_2"))
    return first, second


def test_files_written(built: tuple[ReportPaths, ReportPaths]) -> None:
    paths = built[0]
    assert [paths.markdown.name, paths.figure.name, paths.summary_csv.name] == [
        "report.md", "metrics_by_factor.png", "summary.csv"]
    assert paths.figure.read_bytes().startswith(PNG_SIGNATURE)
    assert paths.figure.stat().st_size > 10_000


def test_byte_identical_when_built_twice(built: tuple[ReportPaths, ReportPaths]) -> None:
    first, second = built
    assert first.figure.read_bytes() == second.figure.read_bytes()
    assert first.markdown.read_bytes() == second.markdown.read_bytes()
    assert first.summary_csv.read_bytes() == second.summary_csv.read_bytes()
    assert b"Software" not in first.figure.read_bytes()


def test_markdown_content(built: tuple[ReportPaths, ReportPaths], store) -> None:
    text = built[0].markdown.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Study report: quickstart"
    assert f"- Tracking URI: `{store.uri}`" in lines
    assert f"- Parent run: `{store.parent_run_id}`" in lines
    assert "- Trials: 12 planned, 10 finished, 1 failed, 1 missing" in lines
    assert "| attention | 0.5 | 3 | 0.450 ± 0.020 | 0.750 ± 0.020 | 0.550 ± 0.020 | 0 / 0 | baseline |" in lines
    assert "![Metrics by factor level](metrics_by_factor.png)" in lines
    assert ("| model.pooling=attention\\|training.mixup.probability=0.0 | 2 | FAILED | CUDA out of memory |"
            in lines)
    assert "| model.pooling=mean\\|training.mixup.probability=0.5 | 0 |" in lines
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_summary_csv_round_trips(built: tuple[ReportPaths, ReportPaths]) -> None:
    csv = pd.read_csv(built[0].summary_csv, keep_default_na=False, dtype={"training.mixup.probability": str})
    assert list(csv["n_finished"]) == [3, 2, 2, 3]
    assert list(csv["training.mixup.probability"]) == ["0.5", "0.0", "0.5", "0.0"]
    assert csv["psds1_mean"].tolist() == pytest.approx([0.45, 0.39, 0.36, 0.30])


def test_figure_with_a_level_without_finished_runs(store, tmp_path: Path) -> None:
    runs = load_study(store.uri, "quickstart")
    frame = runs.runs.copy()
    frame.loc[frame["model.pooling"] == "mean", "status"] = "FAILED"
    empty_level = dataclasses.replace(runs, runs=frame)
    path = save_metrics_by_factor(empty_level, tmp_path / "a.png")
    again = save_metrics_by_factor(empty_level, tmp_path / "b.png")
    full = save_metrics_by_factor(runs, tmp_path / "c.png")
    assert path.read_bytes() == again.read_bytes()
    assert path.read_bytes() != full.read_bytes()

    nothing = dataclasses.replace(runs, runs=frame.assign(status="FAILED"))
    assert save_metrics_by_factor(nothing, tmp_path / "d.png").read_bytes().startswith(PNG_SIGNATURE)


def test_redact_uri_hides_password() -> None:
    assert redact_uri("postgresql://me:secret@db:5432/mlflow") == "postgresql://me:***@db:5432/mlflow"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_reports_reads_the_store_only() -> None:
    forbidden = ("ray", "studies", "sed_core.training")
    offenders = []
    for path in sorted(REPORTS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names
                          if any(name == bad or name.startswith(bad + ".") for bad in forbidden)]
    assert len(list(REPORTS_DIR.glob("*.py"))) >= 6
    assert offenders == []
