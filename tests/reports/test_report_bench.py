"""bench/report_load.py fills its store with bulk SQL inserts; they must leave the study the MLflow client would."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from reports.fetch.load import load_study

BENCH = Path(__file__).resolve().parents[2] / "bench" / "report_load.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_sql_writer_matches_the_client_writer(bench: ModuleType, store, tmp_path: Path) -> None:
    shutil.copy(store.root / "mlflow.db", tmp_path / "mlflow.db")  # an existing store: no migrations to wait for
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for writer in ("sql", "client"):
        bench.populate(uri, tmp_path, 24, writer, study=f"by_{writer}", failed_every=7, missing_every=11)
    by_sql, by_client = (load_study(uri, name, method="api") for name in ("by_sql", "by_client"))
    assert len(by_sql.runs) == 24 and (by_sql.runs["status"] == "FAILED").sum() == 3
    assert len(by_sql.planned) == 26  # two planned trials never ran
    columns = [column for column in by_sql.runs.columns if column != "run_id"]
    pd.testing.assert_frame_equal(by_sql.runs[columns], by_client.runs[columns])
    pd.testing.assert_frame_equal(by_sql.per_class.drop(columns="run_id"), by_client.per_class.drop(columns="run_id"))
    assert by_sql.history_keys == by_client.history_keys and by_sql.cells == by_client.cells
    sql_path = load_study(uri, "by_sql", method="sql")
    pd.testing.assert_frame_equal(sql_path.runs, by_sql.runs)
