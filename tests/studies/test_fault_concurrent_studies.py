"""Two studies at once against one tracking server and one shared storage (one embedding cache): no interference.
Each driver runs its own in-process Ray; both read one dataset and cache the same frozen backbone's outputs in the
same folder, so the cell both studies have is the same trial (same id) and must give the same numbers in each."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from .conftest import kill_driver, sedstudy

STUDY = """
name: {name}
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 2, steps_per_epoch: 2, mixup: {{branches: cnn_only}}}}
  model:
    backbone: {{name: asit, variant: tiny, init: random, mode: eval, freeze: {{schedule: frozen}}}}
    fusion: {{name: concat}}
design:
  factors:
    model.pooling: [attention, {other}]
seeds: [1]
"""
STUDIES = {"together_a": "max", "together_b": "mean"}
FINAL = ("psds1", "psds2", "collar_f1", "intersection_f1")


@pytest.mark.integration
@pytest.mark.slow
def test_two_studies_at_once_share_a_server_and_a_cache_without_interference(tmp_path: Path, shared_mlflow_server,
                                                                             tiny_dataset: Path):
    mlflow_server = shared_mlflow_server.uri
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    storage = tmp_path / "shared"
    drivers = {}
    for name, other in STUDIES.items():
        (tmp_path / f"{name}.yaml").write_text(STUDY.format(name=name, other=other, data=tiny_dataset))
        drivers[name] = subprocess.Popen(
            sedstudy("run", str(tmp_path / f"{name}.yaml"), "--workdir", str(tmp_path / name), "--tracking-uri",
                     mlflow_server, "--storage", str(storage), "--no-report"),
            stdout=(tmp_path / f"{name}.log").open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        codes = {name: driver.wait(timeout=600) for name, driver in drivers.items()}
    finally:
        for driver in drivers.values():
            kill_driver(driver)
    for name, code in codes.items():
        assert code == 0, (tmp_path / f"{name}.log").read_text()[-3000:]

    client = MlflowClient(mlflow_server)
    shared_cell = {}
    for name, other in STUDIES.items():
        experiment = client.get_experiment_by_name(name)
        runs = client.search_runs([experiment.experiment_id])
        [parent] = [r for r in runs if r.data.tags.get("sedstudy.kind") == "study"]
        trials = [r for r in runs if r.data.tags.get("sedstudy.kind") == "trial"]
        assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}
        assert {r.data.tags["sedstudy.cell"] for r in trials} == {"model.pooling=attention", f"model.pooling={other}"}
        assert {r.data.tags["sedstudy.study"] for r in runs} == {name}
        assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parent.info.run_id}
        for run in trials:
            assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/loss")) == [0, 1]
            assert (storage / name / "trials" / run.data.tags["sedstudy.trial_id"] / "best_model.pt").is_file()
        [same] = [r for r in trials if r.data.tags["sedstudy.cell"] == "model.pooling=attention"]
        shared_cell[name] = same
    # the cell both studies ran (same config, same seed) gave the same numbers in each: nothing leaked across
    a, b = shared_cell.values()
    assert a.data.tags["sedstudy.trial_id"] == b.data.tags["sedstudy.trial_id"]
    assert {k: a.data.metrics[k] for k in FINAL} == {k: b.data.metrics[k] for k in FINAL}
    entries = list((storage / "embedding_cache").rglob("*.pt"))
    assert entries and not list((storage / "embedding_cache").rglob("*.tmp"))  # shared, and no half-written entry
