"""One config and seed give bit-identical metrics on a CPU whether the run is alone, resumed midway, or a trial of
a study (in-process Ray, recorded in MLflow)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sed_core.config import config_from_dict
from sed_core.training.trainer import fit
from studies.launcher import run_study
from studies.tracking import default_tracking_uri

EXPERIMENT = {"preset": "tiny", "training": {"epochs": 2, "steps_per_epoch": 3}}
SEED = 7
FINAL = ("psds1", "psds2", "collar_f1", "intersection_f1", "student/psds1", "teacher/psds1", "best_epoch")


def config(root: Path, out: Path, **training):
    return config_from_dict({**EXPERIMENT, "seed": SEED, "data": {"root": str(root)}, "output_dir": str(out),
                             "training": {**EXPERIMENT["training"], **training}})


@pytest.mark.integration
@pytest.mark.slow
def test_alone_resumed_and_in_a_study_give_the_same_numbers(tiny_dataset: Path, tmp_path: Path,
                                                            in_process_ray) -> None:
    alone = fit(config(tiny_dataset, tmp_path / "alone"))
    fit(config(tiny_dataset, tmp_path / "resumed", epochs=1))  # stopped after its first epoch
    resumed = fit(config(tiny_dataset, tmp_path / "resumed"))
    assert resumed.metrics == alone.metrics and resumed.history == alone.history

    # one trial at a time, the compared one second: it runs in the worker process the first trial used
    study = {"name": "determinism", "experiment": {**EXPERIMENT, "data": {"root": str(tiny_dataset)}},
             "design": {"factors": {"model.pooling": ["max", "attention"]}}, "seeds": [SEED],
             "resources": {"cpu": os.cpu_count()}}
    (tmp_path / "determinism.yaml").write_text(yaml.safe_dump(study))
    outcome = run_study(tmp_path / "determinism.yaml", workdir=tmp_path / "work")
    assert (outcome.ran, outcome.failed) == (2, 0)
    client = MlflowClient(default_tracking_uri(tmp_path / "work"))
    experiment = client.get_experiment_by_name("determinism")
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    [run] = [r for r in runs if "attention" in r.data.tags["sedstudy.cell"]]
    first = min(runs, key=lambda r: r.info.start_time)
    assert "max" in first.data.tags["sedstudy.cell"], "the compared trial must run second"
    assert {k: run.data.metrics[k] for k in FINAL} == {k: alone.metrics[k] for k in FINAL}
    for key in ("train/loss", "val/synthetic_validation/intersection_f1"):
        history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [m.value for m in history] == [h[key] for h in alone.history], key
