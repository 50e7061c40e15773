"""A real adaptive study on the tiny preset: a planted large effect stops at the initial seeds, a null contrast is
declared equivalent, an unclear one runs to max; MLflow holds exactly the trials run, each once, and a rerun adds
none."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from studies.cli import main
from studies.launcher import run_study
from studies.tracking import default_tracking_uri

# collar F1 at threshold 0.95 is 0 for the tiny model (its scores stay below it), 0.04 at 0.5 on every seed: a
# large, planted effect. loose_psds1 changes only the PSDS1 scenario: its collar F1 equals the baseline's.
STUDY = """
name: adaptive_e2e
experiment:
  preset: tiny
  data:
    root: data/tiny
  training:
    epochs: 2
    steps_per_epoch: 2
synthetic_data:
  preset: tiny
  seed: 0
design:
  factors:
    variant:
      base: {evaluation.threshold: 0.5}
      strict: {evaluation.threshold: 0.95}
      loose_psds1: {evaluation.psds1: {dtc_threshold: 0.5, gtc_threshold: 0.5, alpha_ct: 0.0, alpha_st: 1.0}}
      max_pooling: {model.pooling: max}
  baseline:
    variant: base
seeds: {initial: 3, step: 2, max: 5, min_effect: 0.01}
objective: {metric: collar_f1}
metrics: [collar_f1, psds1]
"""


@pytest.mark.integration
@pytest.mark.slow
def test_adaptive_study_runs_what_is_undecided_and_nothing_twice(tmp_path: Path, shared_ray,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    shared_ray()
    path = tmp_path / "adaptive_e2e.yaml"
    path.write_text(STUDY)
    outcome = run_study(path, workdir=tmp_path)
    uri = default_tracking_uri(tmp_path)
    report = tmp_path / "report"
    assert main(["report", str(path), "--workdir", str(tmp_path), "--out", str(report), "--clip-metric",
                 "none"]) == 0
    primary = pd.read_csv(report / "primary.csv").set_index("cell")
    decisions = primary["decision"].to_dict()
    assert decisions["variant=strict"] == "worse" and primary.loc["variant=strict", "n"] == 3  # the initial look
    assert decisions["variant=loose_psds1"] == "equivalent" and primary.loc["variant=loose_psds1", "n"] == 3
    # seeds each cell ran: up to the look that decided it, else every look; the baseline as far as any cell went
    expected = {cell: 3 if decision in ("worse", "better", "equivalent") else 5 for cell, decision in decisions.items()}
    expected["variant=base"] = max(expected.values())
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("adaptive_e2e").experiment_id
    runs = client.search_runs([experiment], "tags.`sedstudy.kind` = 'trial'")
    keys = Counter((run.data.tags["sedstudy.cell"], int(run.data.tags["sedstudy.seed"])) for run in runs)
    assert set(keys.values()) == {1} and {run.info.status for run in runs} == {"FINISHED"}
    assert set(keys) == {(cell, seed) for cell, n in expected.items() for seed in range(1, n + 1)}
    assert outcome.ran == len(keys) and outcome.failed == 0

    again = run_study(path, workdir=tmp_path)  # a rerun recomputes the decisions from the store: nothing to run
    assert again.ran == 0 and len(client.search_runs([experiment], "tags.`sedstudy.kind` = 'trial'")) == len(keys)
    capsys.readouterr()
    assert main(["status", "adaptive_e2e", "--workdir", str(tmp_path)]) == 0
    status = capsys.readouterr().out
    assert "[worse at 3 seed pairs (look 1 of 2)]" in status and "[equivalent at 3 seed pairs (look 1 of 2)]" in status
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "Primary test: group-sequential paired test over seeds added look by look" in text
