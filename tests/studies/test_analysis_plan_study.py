"""A study's analysis plan: checked at load, recorded on the parent run, and followed by the report built from it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from reports.build import build_report
from reports.contract import ANALYSIS_AMENDED_TAG, ANALYSIS_TAG
from reports.fetch.analysis_plan import AnalysisPlan
from sed_core.errors import ConfigError
from studies.cli import main
from studies.definition import load_study
from studies.tracking import StudyTracker, default_tracking_uri

STUDY = """
name: planned
experiment:
  preset: tiny
  data:
    root: data/tiny
design:
  factors:
    model.pooling: [attention, max, mean]
seeds: {seeds}
metrics: [psds1, psds2]
analysis:
{analysis}
"""
# psds1 per (pooling, seed): max is far better at every seed, mean no different from the baseline
VALUES = {("attention", 1): 0.30, ("attention", 2): 0.40, ("attention", 3): 0.35,
          ("max", 1): 0.40, ("max", 2): 0.51, ("max", 3): 0.44,
          ("mean", 1): 0.31, ("mean", 2): 0.39, ("mean", 3): 0.36}


def write(tmp_path: Path, analysis: str, seeds: str = "[1, 2, 3]") -> Path:
    path = tmp_path / "planned.yaml"
    body = "\n".join(f"  {line}" for line in analysis.strip().splitlines())
    path.write_text(STUDY.format(seeds=seeds, analysis=body))
    return path


@pytest.mark.parametrize(("analysis", "seeds", "message"), [
    ("metric: collar_f1", "[1, 2, 3]", "planned.yaml: analysis.metric: 'collar_f1' is not among the study's metrics "
                                       "['psds1', 'psds2']; add it to `metrics`, or choose one of them"),
    ("test: wilcoxon", "[1, 2, 3]", "planned.yaml: analysis.test: wilcoxon with 3 seeds can never reach alpha 0.05 "
                                    "(its smallest two-sided p is 2 / 2^3 = 0.250); use 6 or more seeds, or test: "
                                    "paired_t"),
    ("family: main_effects\ntest: paired_t", "[1, 2, 3]", "test: paired_t has no effect with family: main_effects"),
    ("correction: bonferroni", "[1, 2, 3]", "analysis.correction"),
    ("alpha: 0.5", "[1, 2, 3]", "analysis.alpha"),
    ("primary: psds1", "[1, 2, 3]", "analysis.primary"),
])
def test_a_plan_the_study_cannot_answer_is_refused_at_load(tmp_path: Path, analysis: str, seeds: str,
                                                           message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_study(write(tmp_path, analysis, seeds))


def tracked(tmp_path: Path, analysis: str) -> str:
    """The study run through its tracker with VALUES as psds1 (psds2 = psds1 + 0.2); returns the store's URI."""
    study = load_study(write(tmp_path, analysis), workdir=tmp_path)
    tracker = StudyTracker(default_tracking_uri(tmp_path), study, artifact_root=tmp_path / "mlartifacts")
    for trial in study.trials:
        tracker.start_trial(trial)
        value = VALUES[(trial.cell.as_dict()["model.pooling"], trial.seed)]
        tracker.log_metrics(trial, {"psds1": value, "psds2": value + 0.2}, step=0)
        tracker.end_trial(trial)
    tracker.end_study()
    return tracker.tracking_uri


def test_the_report_follows_the_recorded_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = tracked(tmp_path, "family: all_pairs\ncorrection: bh\nalpha: 0.1")
    parent = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("planned").experiment_id],
        filter_string="tags.`sedstudy.kind` = 'study'")[0]
    assert AnalysisPlan.of(parent.data.tags) == AnalysisPlan(family="all_pairs", correction="bh", alpha=0.1)
    assert ANALYSIS_TAG in parent.data.tags

    paths = build_report(uri, "planned", tmp_path / "report", clip_statistic=None, learning_curves=False)
    primary = pd.read_csv(tmp_path / "report" / "primary.csv")
    assert len(primary) == 3 and set(primary["test"]) == {"paired_t"}  # 3 cells: 3 pairs
    by_pair = primary.set_index(["cell", "reference"])["significant"]
    assert by_pair[("model.pooling=max", "model.pooling=attention")]
    assert not by_pair[("model.pooling=mean", "model.pooling=attention")]
    text = paths.markdown.read_text(encoding="utf-8")
    assert "Declared in the study (`analysis:`) before it ran." in text
    assert "Primary family: every pair of cells (3 contrasts)." in text
    assert "Multiplicity correction: Benjamini-Hochberg (false discovery rate) across the family; alpha = 0.1." in text
    comparisons = pd.read_csv(paths.comparisons_csv)
    assert not comparisons["significant"].any()  # the family is all pairs: the baseline table is secondary

    assert main(["report", "planned", "--tracking-uri", uri, "--out", str(tmp_path / "holm"),
                 "--clip-metric", "none", "--correction", "holm"]) == 0
    capsys.readouterr()
    overridden = (tmp_path / "holm" / "report.md").read_text(encoding="utf-8")
    assert ("Multiplicity correction: Holm (family-wise error rate) across the family (chosen for this report with "
            "--correction; the study declared Benjamini-Hochberg (false discovery rate)); alpha = 0.1.") in overridden


def test_a_plan_changed_after_results_is_kept_and_reported(tmp_path: Path) -> None:
    uri = tracked(tmp_path, "family: vs_baseline")
    StudyTracker(uri, load_study(write(tmp_path, "family: vs_baseline"), workdir=tmp_path))  # the same plan again
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("planned").experiment_id

    def parent_tags() -> dict[str, str]:
        return client.search_runs([experiment], filter_string="tags.`sedstudy.kind` = 'study'")[0].data.tags

    assert ANALYSIS_AMENDED_TAG not in parent_tags()
    StudyTracker(uri, load_study(write(tmp_path, "family: all_pairs"), workdir=tmp_path))
    assert json.loads(parent_tags()[ANALYSIS_AMENDED_TAG]) == [
        {"previous": json.loads(AnalysisPlan().record()), "finished_trials": 9}]
    assert AnalysisPlan.of(parent_tags()).family == "all_pairs"
    paths = build_report(uri, "planned", tmp_path / "report", clip_statistic=None, learning_curves=False)
    assert ("⚠ Amended after 9 trials had finished: the plan then was primary metric psds1; each cell against the "
            "baseline cell (2 tests)") in paths.markdown.read_text(encoding="utf-8")
