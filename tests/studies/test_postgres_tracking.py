"""A study tracked by an MLflow server on PostgreSQL (Debian's packages): runs, status and report from it."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.build import build_report
from reports.fetch import trial_source
from reports.fetch.load import load_study
from reports.fetch.sql import DATABASE_URI_ENV
from studies.launcher import run_study
from studies.status import study_status

STUDY = """
name: on_postgres
experiment:
  preset: tiny
  data: {root: data/tiny}
  training: {epochs: 2, steps_per_epoch: 2}
synthetic_data: {preset: tiny, seed: 0}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
"""


@pytest.mark.integration
@pytest.mark.slow
def test_study_on_a_postgres_backed_tracking_server(tmp_path: Path, mlflow_server_on_postgres: str, postgres_uri: str,
                                                    in_process_ray, tiny_dataset: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(DATABASE_URI_ENV, raising=False)
    (tmp_path / "on_postgres.yaml").write_text(STUDY.replace("data/tiny", str(tiny_dataset)))
    outcome = run_study(tmp_path / "on_postgres.yaml", workdir=tmp_path, tracking_uri=mlflow_server_on_postgres)
    assert (outcome.ran, outcome.failed) == (2, 0)
    again = run_study(tmp_path / "on_postgres.yaml", workdir=tmp_path, tracking_uri=mlflow_server_on_postgres)
    assert (again.ran, again.skipped) == (0, 2)
    client = MlflowClient(mlflow_server_on_postgres)
    experiment = client.get_experiment_by_name("on_postgres")
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert study_status(mlflow_server_on_postgres, "on_postgres").totals["finished"] == 2
    paths = build_report(mlflow_server_on_postgres, "on_postgres", tmp_path / "report", clip_resamples=50)
    assert "model.pooling" in paths.markdown.read_text()

    # the server's backend store named (--database-uri): every read of the trial runs goes to it, none to the server
    monkeypatch.setenv(DATABASE_URI_ENV, postgres_uri)

    def through_the_server(*args, **kwargs):
        raise AssertionError("the trial runs were read through the tracking server")

    monkeypatch.setattr(trial_source, "fetch_trials_api", through_the_server)
    third = run_study(tmp_path / "on_postgres.yaml", workdir=tmp_path, tracking_uri=mlflow_server_on_postgres)
    assert (third.ran, third.skipped) == (0, 2)
    assert study_status(mlflow_server_on_postgres, "on_postgres").totals["finished"] == 2
    assert load_study(mlflow_server_on_postgres, "on_postgres").loaded_from == "sql"
