"""A study = base experiment config + a design over factors + seeds + objective + resources, from YAML."""
from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from reports.fetch.analysis_plan import MIN_WILCOXON_SEEDS, AnalysisPlan
from reports.fetch.sequential_design import SequentialSeeds
from search_spaces import Cell, FactorSpace, design_cells
from search_spaces.display import DisplayNames, display_names
from search_spaces.factors import check_config_path, level_text
from sed_core.config.acting import InertFieldError, explain_inert, inert_reason
from sed_core.config.loading import apply_overrides, config_from_dict, flatten, read_yaml_mapping
from sed_core.config.schema import MAX_SEED, ExperimentConfig
from sed_core.errors import ConfigError, bounded_repr, close_match_hint
from sed_core.training.metric_names import METRIC_NAMES
from studies.trial_identity import trial_identity


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DesignSpec(_Spec):
    type: str = "full_factorial"  # a name in search_spaces.designs.DESIGNS
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
    # trials waiting longer than this for resources the cluster has but does not give (none of them running: another
    # study or job holds them) stop the study as an interrupt does, saying what they ask and what is free; null: wait
    wait_limit_s: float | None = Field(600.0, gt=0)


class FailuresSpec(_Spec):
    """What happens to a trial that raises: Tune retries it from its last checkpoint ``max_retries`` times; an
    out-of-memory failure is retried once more at the end with twice the GPU share (fewer trials per GPU). A
    tracking server that stops answering is waited for ``tracking_outage_s`` seconds (null: forever), trials paused,
    before the study stops and keeps its unwritten records for `sedstudy resume` (studies/tracking_outage.py)."""

    max_retries: int = Field(0, ge=0)
    oom_retry: bool = True
    tracking_outage_s: float | None = Field(1800.0, gt=0)


class SyntheticDataSpec(_Spec):
    """Generate this synthetic preset at ``experiment.data.root`` when no dataset is there."""

    preset: str = "demo"
    seed: int = 0


DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
# fields a tuning space may not sample: they define the trial or the tuning itself
UNTUNABLE = {
    "seed": "the sampled trials' training seed is tuning.seed; the seed trials use `seeds`",
    "output_dir": "the launcher chooses where trials write",
    "training.epochs": "it is ASHA's max_t (every sample trains up to training.epochs); make it a design factor",
    "evaluation": "the tuning metric is the per-epoch evaluation.selection_metric on evaluation.selection_split; "
                  "set evaluation in `experiment` or as a design factor",
}


class DistributionSpec(_Spec):
    """One dimension of a tuning space: ``uniform``/``loguniform`` floats in [low, high], ``int`` in [low, high]
    (both included), or ``choice`` among ``values`` (scalars)."""

    distribution: Literal["uniform", "loguniform", "int", "choice"]
    low: float | None = None
    high: float | None = None
    values: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> DistributionSpec:
        if self.distribution == "choice":
            if self.low is not None or self.high is not None or not self.values:
                raise ValueError("choice takes a non-empty list `values` (and no low/high), e.g. "
                                 "{distribution: choice, values: [2, 4, 8]}")
            if not all(v is None or isinstance(v, (str, int, float, bool)) for v in self.values):
                raise ValueError(f"choice values must be scalars (text, numbers, booleans), got "
                                 f"{bounded_repr(self.values)}; for lists or sections use a design factor")
            if len({json.dumps(v) for v in self.values}) != len(self.values):
                raise ValueError(f"choice values must be unique, got {bounded_repr(self.values)}")
            return self
        if self.values is not None or self.low is None or self.high is None:
            raise ValueError(f"{self.distribution} takes `low` and `high` (and no values), e.g. "
                             f"{{distribution: {self.distribution}, low: 1, high: 10}}")
        if not self.low < self.high:
            raise ValueError(f"`low < high` must hold, but got (low={self.low:g}, high={self.high:g})")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs `low > 0`, but got low={self.low:g}")
        if self.distribution == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"int needs integer bounds, but got (low={self.low:g}, high={self.high:g})")
        return self

    def probes(self) -> list[tuple[str, Any]]:
        """The values that must all be valid config values: the bounds, or every choice."""
        if self.distribution == "choice":
            return [(f"values[{i}]", v) for i, v in enumerate(self.values or [])]
        cast = int if self.distribution == "int" else float
        return [("low", cast(self.low)), ("high", cast(self.high))]

    def describe(self) -> str:
        if self.distribution == "choice":
            return f"choice {self.values}"
        cast = int if self.distribution == "int" else float
        return f"{self.distribution} [{cast(self.low):g}, {cast(self.high):g}]"


class AshaSpec(_Spec):
    """ASHA early stopping on the tuning metric; ``max_t`` is the cell's ``training.epochs``."""

    grace_period: int = Field(1, ge=1)
    reduction_factor: float = Field(3, gt=1)


def _default_windows() -> list[int]:
    from sed_core.metrics.median_tuning import DEFAULT_WINDOWS  # sed_scores_eval: loaded when a study asks for it

    return list(DEFAULT_WINDOWS)


class PostprocessSpec(_Spec):
    """`sedstudy run` runs the post-processing stage over the finished trials before the report (what `sedstudy
    postprocess` does): class-wise median windows tuned on the selection split among `windows` (odd frame
    counts), and piPSDS."""

    windows: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: _default_windows(), min_length=1)

    @field_validator("windows")
    @classmethod
    def _odd(cls, windows: list[int]) -> list[int]:
        even = [w for w in windows if w % 2 == 0]
        if even:
            raise ValueError(f"median windows are odd frame counts, got {even}")
        return windows


class TuningSpec(_Spec):
    """Hyperparameter tuning inside cells: ``num_samples`` configs from TPE (seeded), ASHA on the per-epoch
    validation metric; the cell's seed trials then run with the best sampled values."""

    cells: list[str] = Field(default_factory=lambda: ["baseline"], min_length=1)  # cell ids, "baseline" or "all"
    space: dict[str, DistributionSpec] = Field(min_length=1)
    num_samples: int = Field(ge=1)
    seed: int = 0
    metric: str | None = None  # default: val/<evaluation.selection_split>/<evaluation.selection_metric>
    asha: AshaSpec | None = AshaSpec()
    max_concurrent: int = Field(1, ge=1)

    @field_validator("cells", mode="before")
    @classmethod
    def _one_cell(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _seeds_kind(value: Any) -> str:
    return "adaptive" if isinstance(value, (dict, SequentialSeeds)) else "fixed"


TAGGED_UNIONS = {"seeds": ("fixed", "adaptive")}  # a field's union tags, which pydantic adds to an error's location


class StudySpec(_Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    experiment: dict[str, Any] = Field(default_factory=dict)
    design: DesignSpec
    # a list: every cell runs these seeds; a mapping: adaptive seeds, added where a contrast is still undecided
    seeds: Annotated[Annotated[list[Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)]], Tag("fixed")]
                     | Annotated[SequentialSeeds, Tag("adaptive")], Discriminator(_seeds_kind)]
    objective: ObjectiveSpec = ObjectiveSpec()
    metrics: list[str] = Field(default_factory=lambda: ["psds1", "psds2", "psds1_t50", "psds2_t50", "collar_f1"])
    resources: ResourcesSpec = ResourcesSpec()
    failures: FailuresSpec = FailuresSpec()
    synthetic_data: SyntheticDataSpec | None = None
    tuning: TuningSpec | None = None
    display: dict[str, Any] = Field(default_factory=dict)  # short names: {factors: {...}, levels: {...}}
    analysis: AnalysisPlan = AnalysisPlan()  # what the report's verdicts are about, declared before the study runs
    postprocess: PostprocessSpec | None = None  # the second stage over stored scores, run before the report

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int] | SequentialSeeds) -> list[int] | SequentialSeeds:
        if isinstance(seeds, list):
            if not 1 <= len(seeds) <= 10_000:
                raise ValueError(f"seeds must list 1 to 10,000 seeds, got {len(seeds)}")
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds

    @property
    def seed_values(self) -> list[int]:
        """Every seed a cell may run: the list, or an adaptive design's seeds up to its max."""
        return self.seeds.seeds if isinstance(self.seeds, SequentialSeeds) else list(self.seeds)

    @property
    def sequential(self) -> SequentialSeeds | None:
        return self.seeds if isinstance(self.seeds, SequentialSeeds) else None


@dataclass(frozen=True)
class Trial:
    cell: Cell
    seed: int
    config: ExperimentConfig
    trial_id: str
    tuned: tuple[tuple[str, Any], ...] = ()  # the tuning phase's best values, applied on top of the cell's levels

    @property
    def key(self) -> str:
        """What the tracker keys this run by."""
        return self.trial_id


@dataclass(frozen=True)
class Sample:
    """One config a tuning phase sampled for a cell: the cell's overrides + ``values``, seed = tuning.seed."""

    cell: Cell
    index: int  # order of sampling within the cell's tuning phase, over all launches
    values: tuple[tuple[str, Any], ...]
    config: ExperimentConfig
    trial_id: str

    @property
    def key(self) -> str:
        # two samples may draw the same values (a choice-only space): the index keeps their runs apart
        return f"tune:{self.cell.id}:{self.index}"

    @property
    def seed(self) -> int:
        return self.config.seed


@dataclass(frozen=True)
class Study:
    spec: StudySpec
    source: Path
    space: FactorSpace
    cells: tuple[Cell, ...]
    baseline: Cell
    trials: tuple[Trial, ...]  # tuned cells: with the cell's own values, before tuning (see with_tuned)
    tuned_cells: tuple[Cell, ...] = ()
    workdir: Path | None = None
    display: DisplayNames | None = None  # None: the defaults of search_spaces.display
    # fields of the `experiment:` block that act in some cells and not in others: (dotted field, those cells' ids)
    partly_inert: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def names(self) -> DisplayNames:
        """Short names of the factors, levels and cells for tables, figures and the terminal."""
        return self.display or display_names(self.space, None, source=str(self.source))

    def display_record(self) -> dict[str, Any]:
        """The display names as stored on the parent run: factors, renamed levels and every cell's name."""
        names = self.names
        return {**names.as_dict(), "cells": {cell.id: names.cell(cell) for cell in self.cells}}

    def tuning_metric(self, cell: Cell) -> str:
        """The per-epoch validation metric the tuning of ``cell`` optimises (checked at load)."""
        return selection_key(self.cell_config(cell))

    def cell_config(self, cell: Cell, values: Mapping[str, Any] | None = None,
                    seed: int | None = None) -> ExperimentConfig:
        """The config of ``cell`` with ``values`` laid over its levels; seed defaults to tuning.seed."""
        if seed is None:
            assert self.spec.tuning is not None
            seed = self.spec.tuning.seed
        return build_config(self.spec.experiment, [*cell.overrides, *(values or {}).items(), ("seed", seed)],
                            source=f"{self.source}: cell {cell.id}", workdir=self.workdir)

    def sample(self, cell: Cell, index: int, values: Mapping[str, Any]) -> Sample:
        config = self.cell_config(cell, values)
        return Sample(cell, index, tuple(values.items()), config, trial_identity(config))

    def with_tuned(self, best: Mapping[str, Mapping[str, Any]]) -> tuple[Trial, ...]:
        """The study's trials with each tuned cell's best values applied (``best``: cell id -> values); the trials
        of a tuned cell missing from ``best`` (its tuning found nothing) are left out."""
        tuned = {c.id for c in self.tuned_cells}
        out = []
        for trial in self.trials:
            if trial.cell.id not in tuned:
                out.append(trial)
            elif trial.cell.id in best:
                values = dict(best[trial.cell.id])
                config = self.cell_config(trial.cell, values, seed=trial.seed)
                out.append(Trial(trial.cell, trial.seed, config, trial_identity(config), tuple(values.items())))
        return tuple(out)


def load_study(path: str | Path, *, workdir: Path | None = None) -> Study:
    """Parse and validate a study YAML and every one of its trials' configs; no compute."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found; give the path of a study YAML (e.g. studies/quickstart.yaml)")
    raw = read_yaml_mapping(path)
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_study_error(err, str(path))) from None
    for metric in [spec.objective.metric, *spec.metrics]:
        if metric not in METRIC_NAMES:
            raise ConfigError(f"{path}: metric {metric!r} is not recorded{close_match_hint(metric, METRIC_NAMES)}; "
                              f"choose from {list(METRIC_NAMES)}")
    check_analysis_plan(spec, source=str(path))
    space = FactorSpace.from_mapping(spec.design.factors, source=str(path))
    baseline = space.cell(spec.design.baseline, source=str(path), field="design.baseline")
    cells = tuple(design_cells(space, spec.design.type, baseline, exclude=spec.design.exclude,
                               ablated=spec.design.ablated, source=str(path)))
    if spec.sequential is not None and len(cells) < 2:
        raise ConfigError(f"{path}: seeds: adaptive seeds decide each cell against the baseline, and the design has "
                          f"{len(cells)} cell; add a factor, or list fixed seeds")
    trials = []
    for cell in cells:
        for seed in spec.seed_values:
            try:
                config = build_config(spec.experiment, [*cell.overrides, ("seed", seed)],
                                      source=f"{path}: cell {cell.id}", workdir=workdir)
            except InertFieldError as err:
                raise inert_in_cell(err, spec, space, cell, source=str(path)) from None
            except ConfigError as err:
                raise blame(err, spec, space, cell, seed, source=str(path)) from None
            trials.append(Trial(cell, seed, config, trial_identity(config)))
    check_distinct_cells(cells, trials, source=str(path))
    partly_inert = check_experiment_fields_act(spec, trials, source=str(path))
    tuned = check_tuning(spec, space, cells, baseline, source=str(path)) if spec.tuning is not None else ()
    display = display_names(space, spec.display, source=str(path))
    return Study(spec, path, space, cells, baseline, tuple(trials), tuned, workdir, display, partly_inert)


def check_analysis_plan(spec: StudySpec, *, source: str) -> None:
    """Refuse a plan the study cannot answer: a primary metric it does not record, main effects without factors,
    a Wilcoxon test with too few seeds to ever reach alpha."""
    plan = spec.analysis
    metric = plan.primary_metric(spec.objective.metric)
    if metric not in spec.metrics:
        raise ConfigError(f"{source}: analysis.metric: {metric!r} is not among the study's metrics {spec.metrics}; "
                          f"add it to `metrics`, or choose one of them")
    if plan.family == "main_effects" and not spec.design.factors:
        raise ConfigError(f"{source}: analysis.family: main_effects needs factors, and design.factors is empty; "
                          "choose family: vs_baseline")
    sequential = spec.sequential
    if sequential is not None:
        wrong = [f"analysis.{field}: {value} ({why})" for field, value, ok, why in (
            ("family", plan.family, plan.family == "vs_baseline", "adaptive seeds decide each cell against the "
                                                                   "baseline"),
            ("test", plan.test, plan.test in (None, "paired_t"), "the sequential test is a paired t-test"),
            ("correction", plan.correction, plan.correction == "holm", "adaptive seeds keep the family-wise rate by "
                                                                        "splitting alpha over the contrasts"),
        ) if not ok]
        if wrong:
            raise ConfigError(f"{source}: seeds: an adaptive design takes the plan vs_baseline, paired_t, holm; got "
                              f"{'; '.join(wrong)}; change the analysis block, or list fixed seeds")
        if sequential.budget_gpu_hours is not None and spec.resources.gpu == 0:
            raise ConfigError(f"{source}: seeds.budget_gpu_hours: {sequential.budget_gpu_hours:g} counts GPU hours, "
                              "and resources.gpu is 0; remove it, or give the trials a GPU")
    elif plan.primary_test == "wilcoxon" and len(spec.seed_values) < MIN_WILCOXON_SEEDS:
        n = len(spec.seed_values)
        raise ConfigError(f"{source}: analysis.test: wilcoxon with {n} seeds can never reach alpha "
                          f"{plan.alpha:g} (its smallest two-sided p is 2 / 2^{n} = {2 / 2 ** n:.3f}); "
                          f"use {MIN_WILCOXON_SEEDS} or more seeds, or test: paired_t")


def check_experiment_fields_act(spec: StudySpec, trials: Sequence[Trial], *,
                                source: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Refuse a field of the ``experiment:`` block that no cell reads (its other choices make it inert, or every
    cell's levels set it); return those that some cells do not read, with those cells."""
    first = {}  # one trial per cell
    for trial in trials:
        first.setdefault(trial.cell.id, trial)
    partly = []
    for path in flatten(spec.experiment):
        if path in ("preset", "seed"):
            continue
        overridden = [t.cell.id for t in first.values() if any(p == path for p, _ in t.cell.overrides)]
        inert = [t for t in first.values() if inert_reason(t.config, path) is not None]
        unread = {t.cell.id for t in inert} | set(overridden)
        if len(unread) == len(first):
            if inert:
                why = explain_inert(inert[0].config, path).removeprefix(f"{path}: ")
                raise InertFieldError(f"{source}: experiment.{path}: no cell reads it; in cell {inert[0].cell.id} "
                                      f"(and {len(unread) - 1} other(s)): {why}", path, why)
            raise ConfigError(f"{source}: experiment.{path}: every cell's levels set it, so its value here is "
                              f"never used; remove it from the experiment block")
        if unread:
            partly.append((path, tuple(c.id for c in (t.cell for t in first.values()) if c.id in unread)))
    return tuple(partly)


def check_distinct_cells(cells: Sequence[Cell], trials: Sequence[Trial], *, source: str) -> None:
    """Refuse two cells whose configs are equal once validated (levels such as ``1`` and ``1.0``, or ``2`` and
    ``2.0`` for an integer field): they would train one model twice under one trial id."""
    first: dict[str, Cell] = {}
    for trial in trials:
        other = first.setdefault(trial.trial_id, trial.cell)
        if other is not trial.cell:
            differ = [f"{name}: {bounded_repr(level_text(a))} and {bounded_repr(level_text(b))}"
                      for (name, a), (_, b) in zip(other.levels, trial.cell.levels) if level_text(a) != level_text(b)]
            raise ConfigError(f"{source}: cells {other.id} and {trial.cell.id} would train the same model: their "
                              f"configs are equal once validated ({'; '.join(differ)} are the same value, or name "
                              f"the same data or checkpoint content); list each level once")


def inert_in_cell(err: InertFieldError, spec: StudySpec, space: FactorSpace, cell: Cell, *,
                  source: str) -> ConfigError:
    """A field the study writes has no effect in ``cell``: name the cell, the field and where the study writes it."""
    levels = dict(cell.levels)
    writers = [f"design.factors.{f.name} (level {level_text(levels[f.name])})" for f in space.factors
               if any(p == err.field for p, _ in f.overrides(levels[f.name]))]
    return InertFieldError(
        f"{source}: cell {cell.id}: {err.detail}. The study writes it in {' and '.join(writers) or 'its levels'}: "
        f"write it only in the levels where it acts (a bundle factor sets several fields per level, e.g. "
        f"{{cross_attention: {{model.fusion.name: cross_attention, model.fusion.heads: 8}}}}), or leave it out",
        err.field, err.detail)


def blame(err: ConfigError, spec: StudySpec, space: FactorSpace, cell: Cell, seed: int, *,
          source: str) -> ConfigError:
    """A cell's config is invalid: name what makes it so. The ``experiment:`` block by itself
    (``study.yaml: experiment.training.epochs: ...``), else one factor level laid over it
    (``study.yaml: design.factors.training.epochs: level x: ...``), else the cell's combination of levels. A
    part may write fields that act only with the rest of the cell: its own inert fields do not blame it."""
    try:
        build_config(spec.experiment, [("seed", seed)], source=EXPERIMENT_MARK)
    except ConfigError as own:
        return ConfigError("\n".join(f"{source}: experiment.{line.removeprefix(EXPERIMENT_MARK + ': ')}"
                                      if line.startswith(EXPERIMENT_MARK + ": ") else line
                                      for line in str(own).splitlines()))
    levels = dict(cell.levels)
    for factor in space.factors:
        level = levels[factor.name]
        try:
            build_config(spec.experiment, [*factor.overrides(level), ("seed", seed)],
                         source=f"{source}: design.factors.{factor.name}: level {level_text(level)}")
        except InertFieldError:
            continue
        except ConfigError as own:
            return own
    return err


EXPERIMENT_MARK = "<experiment>"


def build_config(experiment: Mapping[str, Any], overrides: Sequence[tuple[str, Any]], *, source: str,
                 workdir: Path | None = None) -> ExperimentConfig:
    """The study's experiment dict with dotted ``overrides`` set, validated; paths resolved against ``workdir``.
    Every field an override writes must act; the ``experiment:`` block's fields are shared by the cells, and
    must act in one of them at least (``check_experiment_fields_act``)."""
    config = config_from_dict(apply_overrides(experiment, overrides), source=source,
                              written=[path for path, _ in overrides if path not in ("seed", "preset")])
    return resolve_paths(config, workdir) if workdir is not None else config


def selection_key(config: ExperimentConfig) -> str:
    """The validation metric the trainer reports every epoch (and selects the best epoch on)."""
    return f"val/{config.evaluation.selection_split}/{config.evaluation.selection_metric}"


def check_tuning(spec: StudySpec, space: FactorSpace, cells: Sequence[Cell], baseline: Cell, *,
                 source: str) -> tuple[Cell, ...]:
    """The cells ``spec.tuning`` tunes; every space path, bound, choice and the metric checked for each."""
    tuning = spec.tuning
    assert tuning is not None
    by_id = {c.id: c for c in cells}
    tuned: dict[str, Cell] = {}
    for i, name in enumerate(tuning.cells):
        if name == "all":
            tuned.update(by_id)
        elif name == "baseline":
            tuned[baseline.id] = baseline
        elif name in by_id:
            tuned[name] = by_id[name]
        else:
            raise ConfigError(f"{source}: tuning.cells[{i}]: {name!r} is not a cell of the design"
                              f"{close_match_hint(name, by_id)}; give a cell id (listed by `sedstudy validate`), "
                              f"'baseline' or 'all'")
    set_by = {}  # config path -> the factor whose levels set it
    for factor in space.factors:
        for path in [factor.name] if not factor.bundles else [p for _, items in factor.bundles for p, _ in items]:
            set_by[path] = factor.name
    for path in tuning.space:
        field = f"tuning.space.{path}"
        check_config_path(path, source=source, field=field)
        for refused, why in UNTUNABLE.items():
            if path == refused or path.startswith(refused + "."):
                raise ConfigError(f"{source}: {field}: {path} cannot be tuned: {why}")
        for set_path, factor in set_by.items():
            if path == set_path or path.startswith(set_path + ".") or set_path.startswith(path + "."):
                raise ConfigError(f"{source}: {field}: {set_path} is set by the design factor {factor}; tuning it "
                                  f"would silently override the factor's levels. Remove it from tuning.space or "
                                  f"from design.factors")
    asha = tuning.asha
    for cell in tuned.values():
        where = f"{source}: cell {cell.id}"
        base = build_config(spec.experiment, cell.overrides, source=where)
        key = selection_key(base)
        ecfg = base.evaluation
        if ecfg.selection_split == ecfg.test_split:
            raise ConfigError(f"{where}: evaluation.selection_split is the test split {ecfg.test_split!r}; tuning "
                              f"must never select on the test split. Choose a validation split")
        if tuning.metric is not None and tuning.metric != key:
            test = f"/{ecfg.test_split}/" in tuning.metric
            raise ConfigError(f"{source}: tuning.metric: {tuning.metric!r} "
                              + ("is a test-split metric; tuning must never select on the test split. " if test else
                                 "is not reported every epoch. ")
                              + f"Trials report one validation metric per epoch, {key!r} in cell {cell.id} "
                                f"(evaluation.selection_split/selection_metric); set tuning.metric to it or null")
        if asha is not None and asha.grace_period > base.training.epochs:
            raise ConfigError(f"{source}: tuning.asha.grace_period: {asha.grace_period} is more than "
                              f"training.epochs ({base.training.epochs}) of cell {cell.id}; lower it")
        for path, dist in tuning.space.items():
            for what, value in dist.probes():
                try:
                    config = build_config(spec.experiment, [*cell.overrides, (path, value)], source=where)
                except InertFieldError as err:
                    raise InertFieldError(f"{source}: tuning.space.{path}: tuning it changes nothing in cell "
                                          f"{cell.id}: {err.detail}; tune a field that acts there, or tune "
                                          f"other cells", err.field, err.detail) from None
                except ConfigError as err:
                    raise ConfigError(f"{source}: tuning.space.{path}.{what}: {bounded_repr(value)} is not a valid "
                                      f"value in cell {cell.id}:\n{err}") from None
                stored = flatten(config).get(path)
                if dist.distribution in ("uniform", "loguniform") and isinstance(stored, int) \
                        and not isinstance(stored, bool):
                    raise ConfigError(f"{source}: tuning.space.{path}: an integer field; use "
                                      f"{{distribution: int, low: {int(dist.low or 0)}, high: {int(dist.high or 0)}}}")
    return tuple(c for c in cells if c.id in tuned)  # in design order


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
        loc = e["loc"] = _untagged(e["loc"])
        dotted = ".".join(str(p) for p in loc) or "<top>"
        if e["type"] == "extra_forbidden":
            fields = _fields_at(e["loc"][:-1])
            lines.append(f"{source}: {dotted}: unknown key{close_match_hint(str(e['loc'][-1]), fields)}")
        else:
            lines.append(f"{source}: {dotted}: {e['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def _untagged(loc: Sequence[Any]) -> tuple[Any, ...]:
    """The error location without the union tag pydantic puts after a TAGGED_UNIONS field."""
    out = list(loc)
    if len(out) > 1 and out[0] in TAGGED_UNIONS and out[1] in TAGGED_UNIONS[out[0]]:
        del out[1]
    return tuple(out)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation names, through unions and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _fields_at(loc: Sequence[Any]) -> list[str]:
    """The keys of the study-spec section at ``loc`` (for close-match hints); [] where it is not a section."""
    model: Any = StudySpec
    keyed = False  # the previous part was a dict field: this part is one of its keys
    for part in loc:
        if keyed:
            keyed = False
            continue
        field = model.model_fields.get(str(part)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        keyed = typing.get_origin(field.annotation) is dict
        model = next(_models_in(field.annotation), None)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
