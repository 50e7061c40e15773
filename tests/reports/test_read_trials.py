"""The light read of a study's trial runs that resume, status and the driver's summary make: from the store's
database when there is one (for a tracking server, its backend store named by --database-uri), else the client."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.contract import CELL_TAG, KIND_TAG, SEED_TAG, find_study_parent
from reports.fetch.records import Wanted
from reports.fetch.sql import DATABASE_URI_ENV
from reports.fetch.trial_source import database_of, read_trials
from studies.cli import options
from studies.cli import status as status_cli

WANTED = Wanted(tags=(KIND_TAG, CELL_TAG, SEED_TAG), metrics=("psds1",), params=())


def study_ids(client: MlflowClient, study: str) -> tuple[str, str]:
    experiment = client.get_experiment_by_name(study)
    return experiment.experiment_id, find_study_parent(client, experiment.experiment_id, study).info.run_id


def by_run(fetched) -> list:
    return sorted(fetched.records, key=lambda record: record.run_id)


@pytest.mark.parametrize("study", ["quickstart", "ragged"])
def test_the_database_and_the_client_read_the_same_trials(store, study: str) -> None:
    client = MlflowClient(store.uri)
    experiment_id, parent_id = study_ids(client, study)
    sql = read_trials(client, experiment_id, parent_id, WANTED, database_uri=store.uri, what=study)
    api = read_trials(client, experiment_id, parent_id, WANTED, database_uri=None, what=study)
    assert by_run(sql) == by_run(api) and len(sql.records) > 3
    assert all(record.metrics and set(record.tags) == set(WANTED.tags) for record in sql.records
               if record.status == "FINISHED")
    ended = [record for record in sql.records if record.status != "RUNNING"]
    assert ended and all(record.end_time >= record.start_time > 0 for record in ended)


def test_a_database_that_does_not_hold_the_study_is_not_read(store, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    MlflowClient(other).search_experiments()  # an MLflow store, but another one
    client = MlflowClient(store.uri)
    experiment_id, parent_id = study_ids(client, "quickstart")
    with caplog.at_level(logging.WARNING, logger="reports.fetch.trial_source"):
        fetched = read_trials(client, experiment_id, parent_id, WANTED, database_uri=other, what="study quickstart")
    assert f"does not hold the study's parent run {parent_id}" in caplog.text
    assert "study quickstart: reading the trial runs through the MLflow client" in caplog.text
    assert by_run(fetched) == by_run(read_trials(client, experiment_id, parent_id, WANTED, database_uri=None,
                                                 what="study quickstart"))


def test_which_database_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URI_ENV, raising=False)
    assert database_of("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    assert database_of("http://127.0.0.1:5000") is None
    assert database_of("http://127.0.0.1:5000", "postgresql://u@db/mlflow") == "postgresql://u@db/mlflow"
    monkeypatch.setenv(DATABASE_URI_ENV, "postgresql://u@db/mlflow")
    assert database_of("http://127.0.0.1:5000") == "postgresql://u@db/mlflow"
    assert database_of("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"  # a database URI is read itself


def test_the_cli_option_names_the_database_every_reader_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URI_ENV, "restored after the test")
    parser = argparse.ArgumentParser()
    status_cli.add_arguments(parser)
    args = parser.parse_args(["study", "--tracking-uri", "http://127.0.0.1:5000",
                              "--database-uri", "postgresql://u@db/mlflow"])
    assert args.database_uri == "postgresql://u@db/mlflow"
    assert options.DATABASE_URI_ENV == DATABASE_URI_ENV
    assert database_of(args.tracking_uri) == "postgresql://u@db/mlflow"
