"""The `tuning:` block of a study: validation at load, the configs it builds, the choice of the best sample."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from sed_core.errors import ConfigError
from studies.definition import load_study
from studies.trial_identity import trial_identity
from studies.tuning import TuningState, best_sample, describe_tuning

BASE = {
    "name": "tuned",
    "experiment": {"preset": "tiny", "training": {"epochs": 3}},
    "design": {"factors": {"model.pooling": ["attention", "max"]}},
    "seeds": [1, 2],
    "tuning": {
        "cells": ["baseline"],
        "space": {"training.optimizer.lr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2},
                  "model.rnn.hidden_size": {"distribution": "choice", "values": [8, 16]}},
        "num_samples": 4,
    },
}


def write(tmp_path: Path, **tuning) -> Path:
    spec = json.loads(json.dumps(BASE))
    for key, value in tuning.items():
        if value is None:
            spec["tuning"].pop(key, None)
        else:
            spec["tuning"][key] = value
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def error_of(tmp_path: Path, **tuning) -> str:
    with pytest.raises(ConfigError) as err:
        load_study(write(tmp_path, **tuning))
    return str(err.value)


def test_valid_tuning_block_tunes_the_baseline_on_the_validation_metric(tmp_path: Path):
    study = load_study(write(tmp_path))
    assert [c.id for c in study.tuned_cells] == ["model.pooling=attention"]
    assert study.tuning_metric(study.tuned_cells[0]) == "val/synthetic_validation/intersection_f1"
    assert study.spec.tuning.asha.grace_period == 1 and study.spec.tuning.max_concurrent == 1
    assert any("model.rnn.hidden_size: choice [8, 16]" in line for line in describe_tuning(study))


def test_all_and_cell_ids_select_cells(tmp_path: Path):
    assert len(load_study(write(tmp_path, cells="all")).tuned_cells) == 2
    study = load_study(write(tmp_path, cells=["model.pooling=max"]))
    assert [c.id for c in study.tuned_cells] == ["model.pooling=max"]


@pytest.mark.parametrize(("tuning", "expected"), [
    ({"space": {"training.optimizer.lrr": {"distribution": "uniform", "low": 0.1, "high": 1}}},
     ["tuning.space.training.optimizer.lrr", "did you mean 'training.optimizer.lr'"]),
    ({"space": {"training.optimizer.lr": {"distribution": "normal", "low": 0.1, "high": 1}}},
     ["tuning.space.training.optimizer.lr.distribution", "'uniform', 'loguniform', 'int' or 'choice'"]),
    ({"space": {"training.optimizer.lr": {"distribution": "uniform", "low": 1, "high": 1}}},
     ["tuning.space.training.optimizer.lr", "`low < high` must hold, but got (low=1, high=1)"]),
    ({"space": {"training.optimizer.lr": {"distribution": "loguniform", "low": 0, "high": 1}}},
     ["loguniform needs `low > 0`"]),
    ({"space": {"model.fusion.heads": {"distribution": "choice", "values": []}}}, ["choice takes a non-empty list"]),
    ({"space": {"model.pooling": {"distribution": "choice", "values": ["mean", "max"]}}},
     ["tuning.space.model.pooling: model.pooling is set by the design factor model.pooling",
      "Remove it from tuning.space or from design.factors"]),
    ({"space": {"seed": {"distribution": "int", "low": 0, "high": 9}}}, ["tuning.space.seed: seed cannot be tuned"]),
    ({"space": {"training.epochs": {"distribution": "int", "low": 1, "high": 9}}}, ["it is ASHA's max_t"]),
    ({"space": {"training.consistency_weight": {"distribution": "uniform", "low": -1, "high": 1}}},
     ["tuning.space.training.consistency_weight.low: -1.0 is not a valid value in cell model.pooling=attention",
      "training.consistency_weight"]),
    ({"space": {"model.rnn.hidden_size": {"distribution": "uniform", "low": 8, "high": 32}}},
     ["tuning.space.model.rnn.hidden_size: an integer field; use {distribution: int, low: 8, high: 32}"]),
    ({"space": {"model.fusion.heads": {"distribution": "int", "low": 1.5, "high": 4}}}, ["int needs integer bounds"]),
    ({"cells": ["model.pooling=maxx"]},
     ["tuning.cells[0]: 'model.pooling=maxx' is not a cell of the design (did you mean 'model.pooling=max'?)"]),
    ({"metric": "val/validation/psds1"}, ["tuning.metric", "never select on the test split"]),
    ({"metric": "train/loss"}, ["tuning.metric: 'train/loss' is not reported every epoch",
                                "'val/synthetic_validation/intersection_f1'"]),
    ({"asha": {"grace_period": 5}}, ["tuning.asha.grace_period: 5 is more than training.epochs (3)"]),
    ({"num_samples": 0}, ["tuning.num_samples: Input should be greater than or equal to 1"]),
    ({"samples": 3}, ["tuning.samples: unknown key"]),
])
def test_invalid_tuning_blocks_name_file_field_and_fix(tmp_path: Path, tuning: dict, expected: list[str]):
    message = error_of(tmp_path, **tuning)
    assert message.startswith(str(tmp_path / "tuned.yaml")), message
    for part in expected:
        assert part in message, message


def test_a_sample_and_the_tuned_seed_trials_are_configs_with_the_values(tmp_path: Path):
    study = load_study(write(tmp_path), workdir=tmp_path)
    cell = study.tuned_cells[0]
    values = {"training.optimizer.lr": 3e-3, "model.rnn.hidden_size": 8}
    sample = study.sample(cell, 5, values)
    assert sample.config.seed == 0 and sample.config.training.optimizer.lr == 3e-3
    assert sample.trial_id == trial_identity(sample.config) and sample.key == f"tune:{cell.id}:5"
    trials = study.with_tuned({cell.id: values})
    assert len(trials) == len(study.trials)
    before = {(t.cell.id, t.seed): t for t in study.trials}
    for trial in trials:
        if trial.cell.id == cell.id:
            assert trial.config.training.optimizer.lr == 3e-3 and dict(trial.tuned) == values
            assert trial.trial_id != before[(cell.id, trial.seed)].trial_id
        else:
            assert trial == before[(trial.cell.id, trial.seed)]
    assert len(study.with_tuned({})) == len(study.trials) - 2  # a tuned cell without a best cannot run


def fake_run(index: int, status: str, value: float | None, **tags: str) -> SimpleNamespace:
    metrics = {} if value is None else {"tune/objective": value}
    return SimpleNamespace(info=SimpleNamespace(status=status, run_id=f"r{index}"), data=SimpleNamespace(
        metrics=metrics, tags={"sedstudy.tune.sample": str(index), "sedstudy.tune.params": json.dumps({"x": index}),
                               **tags}))


def test_best_sample_is_the_highest_finished_value_ties_to_the_lowest_index():
    runs = [fake_run(0, "FINISHED", 0.2), fake_run(1, "FINISHED", 0.5), fake_run(2, "FAILED", None),
            fake_run(3, "FINISHED", 0.5), fake_run(4, "KILLED", 0.9), fake_run(5, "FINISHED", float("nan"))]
    best = best_sample(runs)
    assert (best.index, best.values, best.value) == (1, {"x": 1}, 0.5)
    assert best_sample([fake_run(0, "FAILED", None)]) is None


def test_tuning_state_counts_finished_and_failed_samples_toward_num_samples():
    runs = (fake_run(0, "FINISHED", 0.2, **{"sedstudy.tune.stopped_early": "1"}), fake_run(1, "FAILED", None),
            fake_run(2, "KILLED", 0.4), fake_run(3, "RUNNING", 0.1))
    state = TuningState("c", 3, runs)
    assert state.done == 2 and not state.complete and state.next_index == 4
    assert len(state.stopped_early) == 1
    assert TuningState("c", 2, runs).complete
