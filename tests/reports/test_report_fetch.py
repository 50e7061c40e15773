from __future__ import annotations

import logging

import pandas as pd
import pytest

from reports.errors import ReportError
from reports.fetch import trial_source
from reports.fetch.load import load_study
from reports.fetch.sql import SqlPathUnavailable, is_sql_uri

from .conftest import RAGGED_LABELS, ragged_cell


@pytest.mark.parametrize("study", ["quickstart", "ragged", "solo"])
def test_sql_and_api_paths_read_the_same(store, study: str) -> None:
    sql = load_study(store.uri, study, method="sql")
    api = load_study(store.uri, study, method="api")
    assert (sql.loaded_from, api.loaded_from) == ("sql", "api")
    pd.testing.assert_frame_equal(sql.runs, api.runs)
    pd.testing.assert_frame_equal(sql.per_class, api.per_class)
    pd.testing.assert_frame_equal(sql.params, api.params)
    pd.testing.assert_frame_equal(sql.recipe, api.recipe)
    pd.testing.assert_frame_equal(sql.roles, api.roles)
    assert sql.history_keys == api.history_keys == ("train/loss", "train/loss_consistency", "train/loss_strong",
                                                     "train/loss_weak", "val/synthetic_validation/intersection_f1")
    assert (sql.cells, sql.factors, sql.metrics) == (api.cells, api.factors, api.metrics)


def test_sql_pages_cover_every_run(store) -> None:
    whole = load_study(store.uri, "ragged", method="sql")
    paged = load_study(store.uri, "ragged", method="sql", page_size=4)  # 19 runs: 5 pages, the last one of 3
    pd.testing.assert_frame_equal(whole.runs, paged.runs)
    pd.testing.assert_frame_equal(whole.per_class, paged.per_class)


def test_auto_falls_back_to_the_client(store, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    def unavailable(*args, **kwargs):
        raise SqlPathUnavailable("no such table: latest_metrics")

    monkeypatch.setattr(trial_source, "fetch_trials_sql", unavailable)
    with caplog.at_level(logging.WARNING, logger="reports.fetch.trial_source"):
        runs = load_study(store.uri, "quickstart")
    assert runs.loaded_from == "api"
    assert "no such table: latest_metrics" in caplog.text
    with pytest.raises(ReportError, match="cannot read the trials with SQL"):
        load_study(store.uri, "quickstart", method="sql")


def test_method_is_checked(store) -> None:
    with pytest.raises(ValueError, match=r"method must be one of \['auto', 'sql', 'api'\], but got 'fast'"):
        load_study(store.uri, "quickstart", method="fast")
    with pytest.raises(ValueError, match="method 'sql' needs a database tracking URI"):
        load_study("http://127.0.0.1:1", "quickstart", method="sql")
    assert is_sql_uri("postgresql+psycopg2://u:p@db/mlflow") and not is_sql_uri("file:///tmp/mlruns")


def test_per_class_metrics_are_long(store) -> None:
    runs = load_study(store.uri, "ragged")
    per_class = runs.per_class
    assert list(per_class.columns) == ["run_id", "cell", "seed", "status", "metric", "label", "value"]
    finished = runs.runs[runs.runs["status"] == "FINISHED"]
    assert len(per_class) == len(finished) * len(RAGGED_LABELS)
    assert set(per_class["metric"]) == {"psds1"}
    row = per_class[(per_class["cell"] == ragged_cell("attention", "0.5")) & (per_class["seed"] == 2)
                    & (per_class["label"] == "Dog")].iloc[0]
    assert row["value"] == pytest.approx(0.45 + 0.01 + 0.02 + 0.1 - 0.1)
    assert "psds1/class/Dog" not in runs.runs.columns  # per-class keys stay out of the trial table


def test_objective_tag_is_read(store) -> None:
    assert (load_study(store.uri, "ragged").objective, load_study(store.uri, "quickstart").objective) == (
        "psds1", "psds1")
