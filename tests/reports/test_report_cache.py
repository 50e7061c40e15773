from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from reports.fetch.cache import cache_path, read_cache, write_cache
from reports.fetch.load import load_study
from reports.fetch.records import TrialFetch, TrialRecord


@pytest.fixture
def copied(store, tmp_path: Path) -> str:
    """A private copy of the session store, free to change."""
    shutil.copy(store.root / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.mark.parametrize("method", ["sql", "api"])
def test_second_load_comes_from_the_cache(copied: str, tmp_path: Path, method: str) -> None:
    cache = tmp_path / "cache"
    first = load_study(copied, "quickstart", cache_dir=cache, method=method)
    second = load_study(copied, "quickstart", cache_dir=cache, method=method)
    assert (first.loaded_from, second.loaded_from) == (method, f"{method} (cache)")
    pd.testing.assert_frame_equal(first.runs, second.runs)
    assert len(list(cache.glob("*.json"))) == 1


def test_a_new_metric_or_run_invalidates_the_cache(copied: str, tmp_path: Path, store) -> None:
    cache = tmp_path / "cache"
    load_study(copied, "quickstart", cache_dir=cache, method="sql")
    client = MlflowClient(tracking_uri=copied)
    run_id = next(iter(store.run_ids.values()))
    client.log_metric(run_id, "psds2", 0.99, timestamp=10**13, step=100)  # logged after the run ended
    changed = load_study(copied, "quickstart", cache_dir=cache, method="sql")
    assert changed.loaded_from == "sql"
    assert changed.runs.set_index("run_id").at[run_id, "psds2"] == pytest.approx(0.99)
    assert load_study(copied, "quickstart", cache_dir=cache, method="sql").loaded_from == "sql (cache)"
    client.delete_run(run_id)
    assert run_id not in set(load_study(copied, "quickstart", cache_dir=cache, method="sql").runs["run_id"])


def test_api_path_skips_the_cache_while_a_trial_runs(store, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_study(store.uri, "ragged", cache_dir=cache, method="api")  # ragged has a RUNNING trial
    assert load_study(store.uri, "ragged", cache_dir=cache, method="api").loaded_from == "api"
    assert not list(cache.glob("*.json"))


def test_cache_file_with_another_key_or_garbage_is_ignored(tmp_path: Path) -> None:
    path = cache_path(tmp_path, "sqlite:///x.db", "my study/1")
    assert path.name.startswith("my_study_1-") and path.suffix == ".json"
    assert read_cache(path, "k") is None
    fetch = TrialFetch(records=(TrialRecord("r1", "FINISHED", 17, {"sedstudy.cell": "a=1"},
                                            {"psds1": 0.1 + 0.2, "psds2": float("nan"), "x": float("inf")},
                                            {"seed": "1"}),), history_keys=("train/loss",))
    write_cache(path, "k", fetch)
    back = read_cache(path, "k")
    assert back is not None and back.history_keys == fetch.history_keys
    [record] = back.records
    assert record.metrics["psds1"] == 0.1 + 0.2 and math.isnan(record.metrics["psds2"])  # floats kept exactly
    assert (record.run_id, record.start_time, record.tags, record.params) == ("r1", 17, {"sedstudy.cell": "a=1"},
                                                                            {"seed": "1"})
    assert read_cache(path, "other") is None
    for garbage in (b"not json", b"\x80\x04K\x01.", b'{"key": "k", "payload": {"records": 3}}'):
        path.write_bytes(garbage)  # (the second is a pickle: never unpickled)
        assert read_cache(path, "k") is None


def test_a_cache_path_that_cannot_be_written_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder goes")
    path = cache_path(blocked, "sqlite:///x.db", "s")
    with caplog.at_level("WARNING", logger="reports.fetch.cache"):
        write_cache(path, "k", TrialFetch(records=(), history_keys=()))
    assert "cannot be written" in caplog.text and str(path) in caplog.text
    assert read_cache(path, "k") is None and blocked.read_text().startswith("a file")
