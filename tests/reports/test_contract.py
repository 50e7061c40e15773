"""reports/contract.py on a real SQLite store: the one parent-run policy, the one pagination loop, the default
objective."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.contract import (
    KIND_TAG,
    OBJECTIVE_TAG,
    OLDEST_FIRST,
    PARENT_TAG,
    STUDY_KIND,
    STUDY_TAG,
    TRIAL_KIND,
    TUNE_KIND,
    StudyObjective,
    children_filter,
    find_study_parent,
    iter_runs,
    study_names,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    root = tmp_path_factory.mktemp("contract_store")
    return MlflowClient(f"sqlite:///{root / 'mlflow.db'}")


def parent(client: MlflowClient, experiment_id: str, study: str, start_time: int) -> str:
    return client.create_run(experiment_id, start_time=start_time,
                             tags={KIND_TAG: STUDY_KIND, STUDY_TAG: study}).info.run_id


def test_one_parent_is_found(client: MlflowClient, caplog: pytest.LogCaptureFixture) -> None:
    experiment = client.create_experiment("one")
    run_id = parent(client, experiment, "one", 1_000)
    with caplog.at_level(logging.WARNING, logger="reports.contract"):
        found = find_study_parent(client, experiment, "one")
    assert found is not None and found.info.run_id == run_id
    assert caplog.text == ""


def test_no_parent_is_none(client: MlflowClient) -> None:
    experiment = client.create_experiment("none")
    client.create_run(experiment, tags={KIND_TAG: TRIAL_KIND, STUDY_TAG: "none"})  # a trial is not a parent
    client.create_run(experiment, tags={KIND_TAG: STUDY_KIND, STUDY_TAG: "another study"})
    assert find_study_parent(client, experiment, "none") is None


def test_several_parents_take_the_newest_with_one_warning(client: MlflowClient,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    experiment = client.create_experiment("several")
    old = parent(client, experiment, "several", 1_000)
    new = parent(client, experiment, "several", 9_000)
    middle = parent(client, experiment, "several", 5_000)
    with caplog.at_level(logging.WARNING, logger="reports.contract"):
        found = find_study_parent(client, experiment, "several")
    assert found is not None and found.info.run_id == new
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "has 3 parent runs" in record.getMessage() and f"using the newest, {new}" in record.getMessage()
    assert old in record.getMessage() and middle in record.getMessage()


def test_iter_runs_reads_every_page(client: MlflowClient) -> None:
    experiment = client.create_experiment("paged")
    parent_id = parent(client, experiment, "paged", 1)
    trials = [client.create_run(experiment, start_time=100 + i, tags={PARENT_TAG: parent_id, KIND_TAG: TRIAL_KIND})
              .info.run_id for i in range(7)]
    client.create_run(experiment, start_time=50, tags={PARENT_TAG: parent_id, KIND_TAG: TUNE_KIND})
    pages: list[int] = []
    search = client.search_runs

    def counted(*args, **kwargs):
        page = search(*args, **kwargs)
        pages.append(len(page))
        return page

    client.search_runs = counted  # type: ignore[method-assign]
    try:
        oldest_first = [run.info.run_id for run in iter_runs(
            client, [experiment], children_filter(parent_id, TRIAL_KIND), page_size=3, order_by=OLDEST_FIRST)]
    finally:
        del client.search_runs
    assert oldest_first == trials
    assert pages == [3, 3, 1]
    newest_first = [run.info.run_id for run in iter_runs(client, [experiment], children_filter(parent_id), page_size=2)]
    assert newest_first[:7] == trials[::-1] and len(newest_first) == 8  # the tuning sample too, oldest


def test_study_names_are_the_experiments_with_a_parent(client: MlflowClient) -> None:
    experiment = client.create_experiment("listed")
    parent(client, experiment, "listed", 1)
    client.create_experiment("empty")
    names = study_names(client)
    assert "listed" in names and "empty" not in names and "Default" not in names
    assert names == sorted(names)


def test_objective_defaults_to_psds1_max_without_the_tag() -> None:
    assert StudyObjective.of({}) == StudyObjective("psds1", "max")
    assert StudyObjective.of({OBJECTIVE_TAG: json.dumps({"metric": "loss", "mode": "min"})}) == \
        StudyObjective("loss", "min")
    with pytest.raises(ValueError, match="mode 'max' or 'min'"):
        StudyObjective.of({OBJECTIVE_TAG: json.dumps({"metric": "loss", "mode": "lowest"})})
    with pytest.raises(ValueError, match="must hold JSON"):
        StudyObjective.of({OBJECTIVE_TAG: "psds1"})


def test_objective_compares_by_its_mode() -> None:
    assert StudyObjective("psds1", "max").better(0.5, 0.4) and not StudyObjective("loss", "min").better(0.5, 0.4)
    assert StudyObjective().better(0.1, None)


def test_module_loads_no_mlflow() -> None:
    """The trial side imports the contract's names; loading it loads no mlflow."""
    code = "import sys, reports.contract; assert 'mlflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
