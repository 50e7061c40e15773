from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from reports.build import ReportPaths, build_report, redact_uri
from reports.fetch.load import load_study
from reports.fetch.uri import default_ui_base, run_url
from reports.figures.by_level import save_metrics_by_factor
from reports.stats.clip_section import WHY_ALL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"


@pytest.fixture(scope="module")
def built(store, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, ReportPaths]:
    """The quickstart report twice: through `sedstudy report` (the CLI) and through build_report."""
    from studies.cli import main

    by_cli = tmp_path_factory.mktemp("report_1")
    assert main(["report", "quickstart", "--tracking-uri", store.uri, "--out", str(by_cli)]) == 0
    second = build_report(store.uri, "quickstart", tmp_path_factory.mktemp("report_2"))
    first = _moved(second, by_cli)
    return first, second


def _moved(paths: ReportPaths, out: Path) -> ReportPaths:
    """The same report's paths under another folder."""
    def move(value: object) -> object:
        if isinstance(value, Path):
            return out / value.relative_to(paths.out_dir) if value != paths.out_dir else out
        if isinstance(value, tuple):
            return tuple(move(item) for item in value)
        return value

    return dataclasses.replace(paths, **{field.name: move(getattr(paths, field.name))
                                         for field in dataclasses.fields(paths)})


def test_files_written(built: tuple[ReportPaths, ReportPaths]) -> None:
    paths = built[0]
    assert [paths.markdown.name, paths.figure.name, paths.summary_csv.name, paths.html.name, paths.latex.name,
            paths.effects_latex.name, paths.comparisons_csv.name, paths.effects_csv.name] == [
        "report.md", "metrics_by_factor.png", "summary.csv", "report.html", "paper_table.tex", "effects.tex",
        "comparisons.csv", "effects.csv"]
    assert paths.figure.read_bytes().startswith(PNG_SIGNATURE)
    assert paths.figure.stat().st_size > 10_000
    assert sorted(path.name for path in paths.figures) == [
        "interactions.pdf", "interactions.png", "learning_curves.pdf", "learning_curves.png",
        "metrics_by_factor.pdf", "metrics_by_factor.png"]
    assert all(path.is_file() for path in (*paths.figures, paths.html, paths.latex, paths.effects_latex))


def test_byte_identical_when_built_twice(built: tuple[ReportPaths, ReportPaths]) -> None:
    first, second = built
    pairs = [(first.markdown, second.markdown), (first.summary_csv, second.summary_csv), (first.html, second.html),
             (first.latex, second.latex), (first.effects_latex, second.effects_latex),
             (first.comparisons_csv, second.comparisons_csv), (first.effects_csv, second.effects_csv),
             *zip(first.figures, second.figures)]
    for a, b in pairs:
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name
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
    for heading in ("## Confidence intervals", "## Differences to the baseline", "## Effects of the factors",
                    "## Figures", "### Interactions (psds1)", "### Learning curves", "## Notes"):
        assert heading in lines
    assert "- Per-class PSDS: skipped, the trials log no per-class metrics (`psds1/class/<label>`)." in lines
    assert ("- Bootstrap over clips: skipped, the trials store no frame scores (artifacts `scores/<split>/*.tsv`)."
            in lines)
    assert "- Objective: `psds1` (max)" in lines


def test_paper_table_latex(built: tuple[ReportPaths, ReportPaths]) -> None:
    latex = built[0].latex.read_text(encoding="utf-8").splitlines()
    assert r"\begin{tabular}{llrcccl}" in latex
    assert (r"attention & 0.5 & 3/3 & \textbf{0.450 $\pm$ 0.020} & \textbf{0.750 $\pm$ 0.020} & "
            r"\textbf{0.550 $\pm$ 0.020} & baseline \\") in latex
    assert r"attention & 0.0 & 2/3 & 0.390 $\pm$ 0.014 & 0.690 $\pm$ 0.014 & 0.490 $\pm$ 0.014 & 1 failed \\" in latex
    effects = pd.read_csv(built[0].effects_csv)
    assert list(effects.columns) == ["metric", "term", "df", "df_resid", "sum_sq", "F", "p", "partial_eta_sq",
                                     "significant", "model", "note", "role"]
    assert len(pd.read_csv(built[0].comparisons_csv)) == 3 * 3


def test_ragged_report_shows_failed_and_missing_cells(ragged_report, store) -> None:
    text = ragged_report.markdown.read_text(encoding="utf-8")
    assert "| max | 0.5 | 0 | – | – | – | 4 / 0 | 0 | no finished runs |" in text.splitlines()
    assert "## Bootstrap over clips" in text
    clip = pd.read_csv(ragged_report.out_dir / "clip_bootstrap.csv")
    assert list(clip["cell"]) == list(load_study(store.uri, "ragged").cells[1:])
    assert set(clip["why"]) == {WHY_ALL}  # every cell, by a rule that looks at no result
    assert f"| {WHY_ALL} |" in text
    attention = clip[clip["cell"] == "model.pooling=attention|training.mixup.probability=0.0"].iloc[0]
    assert attention["n_pairs"] == 3 and attention["n_clips"] == 4
    assert attention["diff"] == pytest.approx(0.2)  # the fabricated Dog scores of that cell are 0.2 higher
    others = clip[clip["cell"] != attention["cell"]]
    assert others["diff"].isna().all() and others["note"].notna().all()


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
    path = save_metrics_by_factor(empty_level, tmp_path / "a.png", formats=("png",))
    again = save_metrics_by_factor(empty_level, tmp_path / "b.png", formats=("png",))
    full = save_metrics_by_factor(runs, tmp_path / "c.png", formats=("png",))
    assert path.read_bytes() == again.read_bytes()
    assert path.read_bytes() != full.read_bytes()

    nothing = dataclasses.replace(runs, runs=frame.assign(status="FAILED"))
    assert save_metrics_by_factor(nothing, tmp_path / "d.png", formats=("png",)).read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / "d.pdf").exists()


def test_ui_base_defaults() -> None:
    assert default_ui_base("sqlite:////tmp/mlflow.db") == "http://127.0.0.1:5000"
    assert default_ui_base("http://tracking.lab:5000/") == "http://tracking.lab:5000"
    assert run_url("http://x:5000/", "3", "abc") == "http://x:5000/#/experiments/3/runs/abc"


def test_redact_uri_hides_password() -> None:
    assert redact_uri("postgresql://me:secret@db:5432/mlflow") == "postgresql://me:***@db:5432/mlflow"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_reports_reads_the_store_only() -> None:
    forbidden = ("ray", "studies", "sed_core.training")
    offenders = []
    for path in sorted(REPORTS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names
                          if any(name == bad or name.startswith(bad + ".") for bad in forbidden)]
    assert len(list(REPORTS_DIR.rglob("*.py"))) >= 6
    assert offenders == []


def test_report_shows_the_shared_recipe_and_both_models(built: tuple[ReportPaths, ReportPaths]) -> None:
    text = built[0].markdown.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines.index("## Shared training recipe") < lines.index("## Results per cell") \
        < lines.index("## Student and teacher") < lines.index("## Confidence intervals")
    for row in ("| preset | quick | preset |", "| epochs | 10 | training.epochs |",
                "| learning rate | 0.001 | training.optimizer.lr |", "| clip length (s) | 5.0 | data.clip_seconds |",
                "| batch: real strong clips | 3 | data.batch.strong_train |",
                "| data root | data/synth/demo | data.root |",
                "| model selection: metric (best epoch) | intersection_f1 | evaluation.selection_metric |",
                "| reported model | student | evaluation.report_model |", "| seeds (per cell) | 0, 1, 2 | seed |"):
        assert row in lines
    assert "- Reported model: student (`evaluation.report_model`; both models under Student and teacher)" in lines
    assert lines[lines.index("## Results per cell") + 2].startswith(
        "The tables report the student model (evaluation.report_model) of the mean-teacher pair, at its best epoch "
        "by intersection_f1 on synthetic_validation (the split that chose the checkpoint), scored on validation "
        "(the split that scored it)")
    assert "chose their best epoch on the test split itself" not in text
    assert ("The teacher is nearly untrained (it scores far below the student and its EMA has seen fewer steps than "
            "it averages over): its mean psds1 is 0.075 against the student's 0.375 (20% of it) over 10 "
            "finished trials. Its EMA (decay 0.999) averages the student's weights over about 1,000 steps; it has "
            "seen 660 steps, fewer than that") in text
    assert ("| model.pooling=attention\\|training.mixup.probability=0.5 | 3 | 0.450 ± 0.020 | 0.090 ± 0.004 | "
            "0.750 ± 0.020 | 0.150 ± 0.004 | 0.550 ± 0.020 | 0.110 ± 0.004 | 10 9 8 |") in lines
    page = built[0].html.read_text(encoding="utf-8")
    assert '<section id="recipe">' in page and '<table data-table="recipe">' in page
    assert '<table data-table="roles">' in page and "<p>The teacher is nearly untrained" in page
    assert "<dt>Reported model</dt><dd>student</dd>" in page
