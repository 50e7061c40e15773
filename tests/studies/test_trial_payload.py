"""The payloads Tune carries to a trial's worker: the configs the driver built, in a small, picklable form."""
from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from ray.tune.search.variant_generator import format_vars
from ray.tune.utils.serialization import TuneFunctionEncoder

from studies.definition import load_study
from studies.trial_payload import (
    PAYLOAD_KEY,
    SeedTrialPayload,
    TuningSamplePayload,
    payload_of,
    seed_trial_payload,
    tuning_sample_payload,
)

ROOT = Path(__file__).resolve().parents[2]


def test_a_seed_trial_payload_builds_the_drivers_config_and_stays_small(tmp_path: Path):
    study = load_study(ROOT / "studies" / "tiny_ablation.yaml", workdir=tmp_path)
    trial_root = tmp_path / "trials" / study.name
    for trial in study.trials:
        payload = seed_trial_payload(study, trial, trial_root)
        assert payload.config() == trial.config
        assert payload.output_dir == trial_root / trial.trial_id
        assert payload.embedding_cache_dir == tmp_path / "embedding_cache"
    shipped = pickle.loads(pickle.dumps(copy.deepcopy(payload)))  # what Tune does to a param_space value
    assert shipped == payload and payload_of({PAYLOAD_KEY: shipped}) is shipped
    # Tune stores a trial's config (as cloudpickle text) and tag in its experiment state: less than the config's JSON
    resolved = len(json.dumps(trial.config.model_dump(mode="json")))
    assert len(json.dumps({PAYLOAD_KEY: payload}, cls=TuneFunctionEncoder)) < resolved
    assert format_vars({(PAYLOAD_KEY,): payload}) == f"{PAYLOAD_KEY}={trial.trial_id}"


def test_a_tuned_cells_seed_trials_carry_their_tuned_values(tmp_path: Path):
    study = load_study(ROOT / "studies" / "tiny_tuning.yaml", workdir=tmp_path)
    [cell] = study.tuned_cells
    best = {cell.id: {"training.optimizer.lr": 3e-3, "training.consistency_weight": 1.5}}
    for trial in study.with_tuned(best):
        assert seed_trial_payload(study, trial, tmp_path / "trials" / study.name).config() == trial.config


def test_a_tuning_payload_builds_the_sample_the_callback_records(tmp_path: Path):
    study = load_study(ROOT / "studies" / "tiny_tuning.yaml", workdir=tmp_path)
    [cell] = study.tuned_cells
    payload = tuning_sample_payload(study, cell, tmp_path / "trials" / study.name, "label")
    params = {PAYLOAD_KEY: payload, "training.optimizer.lr": 2e-3, "training.consistency_weight": 3.0}
    assert isinstance(payload_of(params), TuningSamplePayload)
    values = payload.sampled_values(params)
    assert payload.config(params) == study.sample(cell, 0, dict(values)).config
    assert payload.metric == study.tuning_metric(cell)
    assert payload.output_dir("abc_00001") == tmp_path / "trials" / study.name / "tune" / "label" / "abc_00001"


def test_a_config_that_does_not_match_its_trial_id_is_refused(tmp_path: Path):
    study = load_study(ROOT / "studies" / "tiny_ablation.yaml", workdir=tmp_path)
    payload = seed_trial_payload(study, study.trials[0], tmp_path / "trials" / study.name)
    other = SeedTrialPayload(payload.experiment, (*payload.overrides, ("seed", 99)), payload.workdir,
                             payload.embedding_cache_dir, payload.trial_id, payload.output_dir)
    with pytest.raises(RuntimeError, match=f"trial {payload.trial_id}: the worker built a config with trial id"):
        other.config()
    with pytest.raises(TypeError, match="not a payload"):
        payload_of({PAYLOAD_KEY: {"trial_id": payload.trial_id}})
