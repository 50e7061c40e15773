"""A study = base experiment config + a design over factors + seeds + objective + resources, from YAML."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from search_spaces import Cell, FactorSpace, design_cells
from sed_core.config.loading import apply_overrides, config_from_dict, flatten, read_yaml_mapping
from sed_core.config.schema import ExperimentConfig
from sed_core.errors import ConfigError, close_match_hint
from sed_core.training.evaluate import METRIC_NAMES


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DesignSpec(_Spec):
    type: Literal["full_factorial", "one_factor_at_a_time", "leave_one_out"] = "full_factorial"
    factors: dict[str, list[Any] | dict[str, dict[str, Any]]]
    baseline: dict[str, Any] = Field(default_factory=dict)
    exclude: list[dict[str, Any]] = Field(default_factory=list)
    ablated: dict[str, Any] = Field(default_factory=dict)  # leave_one_out: each factor's "off" level


class ObjectiveSpec(_Spec):
    metric: str = "psds1"
    mode: Literal["max", "min"] = "max"


class ResourcesSpec(_Spec):
    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)  # whole or fractional GPUs per trial (0.25 packs four small trials on a GPU)
    # measured training throughput per trial (TFLOP/s) for the dry run's GPU-hour estimate; null: an assumption
    effective_tflops: float | None = Field(None, gt=0)


class FailuresSpec(_Spec):
    """What happens to a trial that raises: Tune retries it from its last checkpoint ``max_retries`` times; an
    out-of-memory failure is retried once more at the end with twice the GPU share (fewer trials per GPU)."""

    max_retries: int = Field(0, ge=0)
    oom_retry: bool = True


class SyntheticDataSpec(_Spec):
    """Generate this synthetic preset at ``experiment.data.root`` when no dataset is there."""

    preset: str = "demo"
    seed: int = 0


class StudySpec(_Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    experiment: dict[str, Any] = Field(default_factory=dict)
    design: DesignSpec
    seeds: list[int] = Field(min_length=1)
    objective: ObjectiveSpec = ObjectiveSpec()
    metrics: list[str] = Field(default_factory=lambda: ["psds1", "psds2", "collar_f1"])
    resources: ResourcesSpec = ResourcesSpec()
    failures: FailuresSpec = FailuresSpec()
    synthetic_data: SyntheticDataSpec | None = None

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds


@dataclass(frozen=True)
class Trial:
    cell: Cell
    seed: int
    config: ExperimentConfig
    trial_id: str


@dataclass(frozen=True)
class Study:
    spec: StudySpec
    source: Path
    space: FactorSpace
    cells: tuple[Cell, ...]
    baseline: Cell
    trials: tuple[Trial, ...]

    @property
    def name(self) -> str:
        return self.spec.name


def config_hash(config: ExperimentConfig) -> str:
    """sha256 of the resolved config (seed included), independent of where the run writes."""
    flat = {k: v for k, v in flatten(config).items() if k != "output_dir"}
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()


def trial_identity(config: ExperimentConfig) -> str:
    """A trial's identity: the first 16 hex digits of its config hash."""
    return config_hash(config)[:16]


def load_study(path: str | Path, *, workdir: Path | None = None) -> Study:
    """Parse and validate a study YAML and every one of its trials' configs; no compute."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_study_error(err, str(path))) from None
    for metric in [spec.objective.metric, *spec.metrics]:
        if metric not in METRIC_NAMES:
            raise ConfigError(f"{path}: metric {metric!r} is not recorded{close_match_hint(metric, METRIC_NAMES)}; "
                              f"choose from {list(METRIC_NAMES)}")
    space = FactorSpace.from_mapping(spec.design.factors, source=str(path))
    baseline = space.cell(spec.design.baseline, source=str(path), field="design.baseline")
    cells = tuple(design_cells(space, spec.design.type, baseline, exclude=spec.design.exclude,
                               ablated=spec.design.ablated, source=str(path)))
    trials = []
    for cell in cells:
        for seed in spec.seeds:
            raw_cfg = apply_overrides(spec.experiment, [*cell.overrides, ("seed", seed)])
            config = config_from_dict(raw_cfg, source=f"{path}: cell {cell.id}")
            if workdir is not None:
                config = resolve_paths(config, workdir)
            trials.append(Trial(cell, seed, config, trial_identity(config)))
    return Study(spec, path, space, cells, baseline, tuple(trials))


def resolve_paths(config: ExperimentConfig, workdir: Path) -> ExperimentConfig:
    """Relative paths in a config are relative to the work directory; make them absolute for Ray workers."""
    root = config.data.root if config.data.root.is_absolute() else (workdir / config.data.root).resolve()
    config = config.model_copy(update={"data": config.data.model_copy(update={"root": root})})
    backbone = config.model.backbone
    if backbone.checkpoint is not None and not backbone.checkpoint.is_absolute():
        backbone = backbone.model_copy(update={"checkpoint": (workdir / backbone.checkpoint).resolve()})
        config = config.model_copy(update={"model": config.model.model_copy(update={"backbone": backbone})})
    return config


def format_study_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        dotted = ".".join(str(p) for p in e["loc"]) or "<top>"
        if e["type"] == "extra_forbidden":
            fields = list(StudySpec.model_fields) if len(e["loc"]) == 1 else []
            lines.append(f"{source}: {dotted}: unknown key{close_match_hint(str(e['loc'][-1]), fields)}")
        else:
            lines.append(f"{source}: {dotted}: {e['msg']}")
    return "\n".join(lines)
