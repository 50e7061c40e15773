"""What Ray Tune carries to a trial's worker: one frozen payload per kind of trial, built here and read by attribute.

Tune's ``param_space`` must be a dict, so the payload travels under its one key ``PAYLOAD_KEY`` (pickled; a tuning
sample's searcher adds its sampled values as top-level keys beside it). The payload holds the study's own data
(its ``experiment`` block, the trial's overrides, the work directory), not the resolved config: Tune stores every
trial's config in its experiment state, logs and folder names, and this keeps them small. The worker builds the
config from it as the driver did (``studies.definition.build_config``); a seed trial checks that the config it
built has the driver's trial id.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_spaces.factors import Cell
from sed_core.config.schema import ExperimentConfig
from studies.definition import Study, Trial, build_config
from studies.trial_identity import trial_identity

PAYLOAD_KEY = "trial"
EMBEDDING_CACHE_DIR = "embedding_cache"  # beside the study's trial folders' parent: shared by every study


@dataclass(frozen=True)
class TrialPayload:
    """What every trial needs: how to build its config, and where frozen-backbone outputs are shared."""

    experiment: Mapping[str, Any]  # the study's `experiment:` block
    overrides: tuple[tuple[str, Any], ...]  # dotted config paths laid over it, in order
    workdir: Path | None  # relative paths of the config resolve against it
    embedding_cache_dir: Path

    def build_config(self, values: Sequence[tuple[str, Any]] = (), *, source: str) -> ExperimentConfig:
        return build_config(self.experiment, [*self.overrides, *values], source=source, workdir=self.workdir)


@dataclass(frozen=True)
class SeedTrialPayload(TrialPayload):
    """One (cell, seed) trial: the cell's levels, its tuned values (if any) and the seed."""

    trial_id: str
    output_dir: Path

    def config(self) -> ExperimentConfig:
        config = self.build_config(source=f"trial {self.trial_id}")
        if trial_identity(config) != self.trial_id:
            raise RuntimeError(f"trial {self.trial_id}: the worker built a config with trial id "
                               f"{trial_identity(config)}: it sees other data or another backbone checkpoint than "
                               f"the driver did (data.root {config.data.root}, workdir {self.workdir}); give every "
                               f"node the same copy")
        return config

    def __str__(self) -> str:
        # Tune names the trial's folder and experiment tag after str() of a grid-searched value
        return self.trial_id


@dataclass(frozen=True)
class TuningSamplePayload(TrialPayload):
    """One sample of a cell's tuning phase: the cell's levels and tuning.seed; the searcher's values come beside
    the payload, one top-level key per path of ``space``."""

    space: tuple[str, ...]  # the tuned config paths
    metric: str  # the per-epoch validation metric the phase optimises
    output_root: Path  # each sample writes to <output_root>/<Tune's trial id>

    def sampled_values(self, params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple((path, params[path]) for path in self.space)

    def config(self, params: Mapping[str, Any]) -> ExperimentConfig:
        return self.build_config(self.sampled_values(params), source="tuning sample")

    def output_dir(self, tune_trial_id: str) -> Path:
        return self.output_root / tune_trial_id

    def __str__(self) -> str:
        # Tune writes str() of the values it cannot encode into every result line of its logs
        return f"tuning sample under {self.output_root}"


def embedding_cache_dir(trial_root: Path) -> Path:
    return trial_root.parent.parent / EMBEDDING_CACHE_DIR


def seed_trial_payload(study: Study, trial: Trial, trial_root: Path) -> SeedTrialPayload:
    """The overrides of ``studies.definition`` (``load_study``, ``Study.cell_config``): levels, tuned values, seed."""
    return SeedTrialPayload(study.spec.experiment, (*trial.cell.overrides, *trial.tuned, ("seed", trial.seed)),
                            study.workdir, embedding_cache_dir(trial_root), trial.trial_id,
                            trial_root / trial.trial_id)


def tuning_sample_payload(study: Study, cell: Cell, trial_root: Path, label: str) -> TuningSamplePayload:
    """Every sample of ``cell``'s tuning phase (``label``: the cell's folder name) shares this payload."""
    tuning = study.spec.tuning
    assert tuning is not None
    return TuningSamplePayload(study.spec.experiment, (*cell.overrides, ("seed", tuning.seed)), study.workdir,
                               embedding_cache_dir(trial_root), tuple(tuning.space), study.tuning_metric(cell),
                               trial_root / "tune" / label)


def payload_of(config: Mapping[str, Any]) -> TrialPayload:
    """The payload of a Tune trial's config (``trial.config`` in the driver, the trainable's ``params``)."""
    payload = config[PAYLOAD_KEY]
    if not isinstance(payload, TrialPayload):
        raise TypeError(f"Tune trial config holds a {type(payload).__name__} under {PAYLOAD_KEY!r}, not a payload "
                        f"of studies.trial_payload")
    return payload


def seed_payload_of(config: Mapping[str, Any]) -> SeedTrialPayload:
    payload = payload_of(config)
    assert isinstance(payload, SeedTrialPayload), payload
    return payload


def tuning_payload_of(config: Mapping[str, Any]) -> TuningSamplePayload:
    payload = payload_of(config)
    assert isinstance(payload, TuningSamplePayload), payload
    return payload
