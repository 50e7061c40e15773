"""Pull one study's trial runs from an MLflow tracking store into a tidy table (one row per trial)."""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from reports.contract import (
    BASELINE_CELL_TAG,
    FACTORS_TAG,
    KIND_TAG,
    MAX_PAGE_SIZE,
    METRICS_TAG,
    PLANNED_TRIALS_ARTIFACT,
    PLANNED_TRIALS_TAG,
    STUDY_KIND,
    STUDY_TAG,
    StudyObjective,
    find_study_parent,
    study_names,
)
from reports.errors import ReportError, StudyNotFoundError
from reports.fetch.analysis_plan import AnalysisPlan, plan_amendments
from reports.fetch.artifacts import download
from reports.fetch.display_names import DisplayNames, read_display
from reports.fetch.params import is_config_leaf, level_values
from reports.fetch.provenance import provenance_frame
from reports.fetch.recipe_params import RECIPE_PARAMS
from reports.fetch.records import (  # re-exported: the statuses are part of this module's interface
    FAILED_STATUSES,
    FINISHED,
    RUNNING_STATUSES,
    Wanted,
    postprocess_metric_keys,
    role_metric_keys,
)
from reports.fetch.sequential_design import SequentialSeeds
from reports.fetch.sql import DATABASE_URI_ENV
from reports.fetch.trial_frame import (
    PER_CLASS_COLUMNS,
    RUN_COLUMNS,
    metrics_frame,
    one_run_per_trial,
    param_texts,
    params_frame,
    parse_cell,
    per_class_frame,
    trial_frame,
)
from reports.fetch.trial_source import LOAD_METHODS, database_of, fetch_trials
from sed_core.errors import close_match_hint

__all__ = [
    "FAILED_STATUSES",
    "FINISHED",
    "PER_CLASS_COLUMNS",
    "RUNNING_STATUSES",
    "RUN_COLUMNS",
    "PlannedTrial",
    "StudyRuns",
    "list_studies",
    "load_study",
    "parse_cell",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedTrial:
    """One planned trial of the design: a cell and a seed."""

    cell: str
    seed: int


@dataclass(frozen=True, eq=False)
class StudyRuns:
    """A study's trials as recorded in the tracking store.

    `runs` has one row per trial run with columns run_id, cell, seed, status, failure, one column per factor
    (level as a string, named by the dotted factor name) and one per metric (final value, NaN when absent).
    `cells` is the design's cell order with the baseline first: planned cells in planning order, then cells
    that have runs but were not planned.
    `per_class` is long, one row per (run, metric, class) of metrics logged as `<metric>/class/<label>`, with
    columns run_id, cell, seed, status, metric, label, value (empty when no trial logs per-class metrics).
    `params` holds the factors that are config fields, typed back through the schema, one row per row of `runs`
    (same index); `level_values` maps {factor: {level text: typed value}}. `history_keys` are the per-epoch
    metric keys (`train/*`, `val/*`) seen on any trial. `recipe` holds the params of `recipe.RECIPE_PARAMS` as
    logged (text, None where absent) and `roles` the `student/<metric>`, `teacher/<metric>` and `best_epoch`
    values (NaN where absent), both one row per row of `runs`. `objective` and `objective_mode` come from the
    parent's `sedstudy.objective` tag (`contract.StudyObjective`: psds1, "max" when a store predates the tag);
    metrics other than the objective count as higher-is-better.
    """

    study: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    factors: tuple[str, ...]
    metrics: tuple[str, ...]
    baseline_cell: str
    planned: tuple[PlannedTrial, ...]
    cells: tuple[str, ...]
    runs: pd.DataFrame
    per_class: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PER_CLASS_COLUMNS)))
    params: pd.DataFrame = field(default_factory=pd.DataFrame)
    level_values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    history_keys: tuple[str, ...] = ()
    objective: str = StudyObjective.metric
    objective_mode: str = StudyObjective.mode
    loaded_from: str = ""  # "sql", "api", or either with " (cache)": how the trial table was read
    provenance: pd.DataFrame | None = None  # reports.provenance.provenance_frame: per kept run
    recipe: pd.DataFrame = field(default_factory=pd.DataFrame)
    roles: pd.DataFrame = field(default_factory=pd.DataFrame)
    # `pp/<stage>/<metric>` of each kept run (sedstudy postprocess), aligned with `runs`; NaN where not run
    postprocessed: pd.DataFrame = field(default_factory=pd.DataFrame)
    display: DisplayNames = field(default_factory=DisplayNames)  # the study's short names (reports.display)
    plan: AnalysisPlan | None = None  # the parent's declared analysis plan; None: a store older than the tag
    # plans a relaunch replaced after trials had finished, oldest first, with the finished trials at the change
    plan_amendments: tuple[tuple[AnalysisPlan, int], ...] = ()
    sequential: SequentialSeeds | None = None  # an adaptive seed design; None: fixed seeds

    @cached_property
    def cell_levels(self) -> Mapping[str, Mapping[str, str]]:
        """Factor levels of every cell: from the runs' factor tags, else parsed from the cell id."""
        first = self.runs.drop_duplicates("cell").set_index("cell")
        return {cell: ({factor: str(first.at[cell, factor]) for factor in self.factors} if cell in first.index
                       else parse_cell(cell, self.factors)) for cell in self.cells}

    @cached_property
    def factor_levels(self) -> Mapping[str, tuple[str, ...]]:
        """Levels of every factor in order of first appearance in `cells` (so the baseline level comes first)."""
        order: dict[str, dict[str, None]] = {factor: {} for factor in self.factors}
        for cell in self.cells:
            for factor, level in self.cell_levels[cell].items():
                order[factor].setdefault(level, None)
        return {factor: tuple(levels) for factor, levels in order.items()}

    def planned_seeds(self, cell: str) -> set[int]:
        """Seeds planned for one cell."""
        return set(self._planned_by_cell.get(cell, ()))

    @cached_property
    def _planned_by_cell(self) -> Mapping[str, tuple[int, ...]]:
        seeds: dict[str, list[int]] = {}
        for trial in self.planned:
            seeds.setdefault(trial.cell, []).append(trial.seed)
        return {cell: tuple(values) for cell, values in seeds.items()}


def load_study(tracking_uri: str, study: str, *, page_size: int = MAX_PAGE_SIZE, cache_dir: str | Path | None = None,
               method: str = "auto") -> StudyRuns:
    """Read the study's parent run and every trial run under it (paginated, `page_size` runs per request).

    `method`: "sql" reads only the needed columns of a SQL-backed store (fast), "api" goes through the MLflow
    client (any store), "auto" takes "sql" where the URI allows and falls back to "api". With `cache_dir`, the
    fetched trials are kept in a local file keyed by study and the trials' last-update stamp and reused while
    the stamp holds (never while a trial runs, on the "api" path).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be in [1, {MAX_PAGE_SIZE}], but got {page_size}")
    if method not in LOAD_METHODS:
        raise ValueError(f"method must be one of {list(LOAD_METHODS)}, but got {method!r}")
    if method == "sql" and database_of(tracking_uri) is None:
        raise ValueError(f"method 'sql' needs a database tracking URI (sqlite:///, postgresql://, ...) or, for a "
                         f"tracking server, its backend store in ${DATABASE_URI_ENV}, but got {tracking_uri!r}; use "
                         f"method 'api' or 'auto'")
    _check_store_exists(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None or experiment.lifecycle_stage != "active":
        state = "no experiment" if experiment is None else "only a deleted experiment"
        raise StudyNotFoundError(_not_found_message(client, tracking_uri, study, f"{state} named {study!r}"))
    parent = find_study_parent(client, experiment.experiment_id, study)
    if parent is None:
        raise StudyNotFoundError(_not_found_message(
            client, tracking_uri, study,
            f"experiment {study!r} exists but holds no parent run tagged {KIND_TAG}={STUDY_KIND}, "
            f"{STUDY_TAG}={study}"))
    factors = tuple(_json_tag(parent, FACTORS_TAG, list))
    metrics = tuple(_json_tag(parent, METRICS_TAG, list))
    if not metrics:
        raise ReportError(f"study {study!r}: parent run {parent.info.run_id} has an empty {METRICS_TAG} list; "
                          "expected at least one metric key to report")
    baseline = _required_tag(parent, BASELINE_CELL_TAG)
    try:
        objective = StudyObjective.of(parent.data.tags)
        plan = AnalysisPlan.of(parent.data.tags)
        amendments = plan_amendments(parent.data.tags)
        sequential = SequentialSeeds.of(parent.data.tags)
    except ValueError as error:
        raise ReportError(f"parent run {parent.info.run_id}: {error}") from error
    planned = _planned_trials(client, parent)

    factor_params = [factor for factor in factors if is_config_leaf(factor)]
    wanted = Wanted.for_study(factors, metrics, list(dict.fromkeys([*factor_params, *RECIPE_PARAMS])))
    fetched, source = fetch_trials(client, tracking_uri, study, experiment.experiment_id, parent, wanted,
                                   page_size=page_size, cache_dir=cache_dir, method=method)
    frame = trial_frame(fetched.records, study, factors, metrics)
    frame = one_run_per_trial(frame, study)

    cells = _cell_order(planned, frame, baseline, study)
    order = {cell: i for i, cell in enumerate(cells)}
    frame = (frame.assign(_order=frame["cell"].map(order))
             .sort_values(["_order", "seed", "run_id"], kind="stable")
             .drop(columns=["_order", "_start"]).reset_index(drop=True))
    params = params_frame(fetched.records, frame, factor_params)
    logger.info("study %r: %d trial runs under parent run %s (%d planned), read via %s", study, len(frame),
                parent.info.run_id, len(planned), source)
    return StudyRuns(study=study, tracking_uri=tracking_uri, experiment_id=experiment.experiment_id,
                     parent_run_id=parent.info.run_id, factors=factors, metrics=metrics, baseline_cell=baseline,
                     planned=planned, cells=cells, runs=frame, per_class=per_class_frame(fetched.records, frame),
                     params=params, level_values=level_values(params, frame, factors),
                     history_keys=fetched.history_keys, objective=objective.metric, objective_mode=objective.mode,
                     loaded_from=source, provenance=provenance_frame(fetched.records, frame),
                     recipe=param_texts(fetched.records, frame, RECIPE_PARAMS),
                     roles=metrics_frame(fetched.records, frame, role_metric_keys(metrics)),
                     postprocessed=metrics_frame(fetched.records, frame, postprocess_metric_keys(metrics)),
                     display=read_display(client, parent), plan=plan, plan_amendments=amendments,
                     sequential=sequential)


def list_studies(tracking_uri: str) -> list[str]:
    """Names of the studies (parent runs tagged `sedstudy.kind=study`) in the tracking store, sorted."""
    _check_store_exists(tracking_uri)
    return study_names(MlflowClient(tracking_uri=tracking_uri))


def _check_store_exists(tracking_uri: str) -> None:
    """Refuse a local store that does not exist: opening it would create an empty one."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        path = tracking_uri[len("sqlite:///"):].split("?", 1)[0] if tracking_uri.startswith("sqlite:///") else ""
        if path in ("", ":memory:"):
            return
    elif parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else tracking_uri
    else:
        return
    if not Path(path).exists():
        raise ReportError(
            f"tracking URI {tracking_uri!r}: expected an existing MLflow store at {path}, but found nothing there; "
            "pass the --tracking-uri the study was run with"
        )


def _not_found_message(client: MlflowClient, tracking_uri: str, study: str, what: str) -> str:
    existing = study_names(client)
    listed = ", ".join(repr(name) for name in existing) if existing else "none"
    return (f"study {study!r} not found in tracking store {tracking_uri!r}: {what}. "
            f"Studies in this store: {listed}{close_match_hint(study, existing)}. "
            "Pass one of these names, or the --tracking-uri the study was run with.")


def _required_tag(run: Run, key: str) -> str:
    value = run.data.tags.get(key)
    if value is None:
        raise ReportError(f"parent run {run.info.run_id}: expected tag {key!r}, but it is missing; the study was "
                          "not recorded by a sedstudy version that follows the reports contract")
    return value


def _json_tag(run: Run, key: str, kind: type) -> object:
    raw = _required_tag(run, key)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ReportError(f"parent run {run.info.run_id}: tag {key!r} must hold JSON, but got {raw!r} ({error})") \
            from error
    if not isinstance(value, kind):
        raise ReportError(f"parent run {run.info.run_id}: tag {key!r} must be a JSON {kind.__name__}, "
                          f"but got {type(value).__name__}: {raw!r}")
    return value


def _planned_trials(client: MlflowClient, parent: Run) -> tuple[PlannedTrial, ...]:
    if PLANNED_TRIALS_TAG in parent.data.tags:
        entries = _json_tag(parent, PLANNED_TRIALS_TAG, list)
    else:
        entries = _planned_artifact(client, parent)
    if entries is None:
        logger.warning("parent run %s has neither a %s tag nor a %s artifact; missing trials cannot be counted "
                       "(only recorded runs are reported)", parent.info.run_id, PLANNED_TRIALS_TAG,
                       PLANNED_TRIALS_ARTIFACT)
        return ()
    planned = []
    for i, entry in enumerate(entries):
        try:
            planned.append(PlannedTrial(cell=str(entry["cell"]), seed=int(entry["seed"])))
        except (TypeError, KeyError, ValueError) as error:
            raise ReportError(f"parent run {parent.info.run_id}: {PLANNED_TRIALS_TAG}[{i}] must be "
                              f'{{"cell": str, "seed": int}}, but got {entry!r}') from error
    return tuple(planned)


def _cell_order(planned: Sequence[PlannedTrial], frame: pd.DataFrame, baseline: str, study: str) -> tuple[str, ...]:
    order = dict.fromkeys(trial.cell for trial in planned)
    unplanned = sorted(set(frame["cell"]) - set(order))
    if unplanned and planned:
        logger.warning("study %r: cells %s have runs but are not in %s; listed after the planned cells",
                       study, unplanned, PLANNED_TRIALS_TAG)
    order.update(dict.fromkeys(unplanned))
    if baseline not in order:
        raise ReportError(f"study {study!r}: baseline cell {baseline!r} is neither planned nor recorded; expected one "
                          f"of {list(order)}{close_match_hint(baseline, order)}")
    return (baseline, *(cell for cell in order if cell != baseline))


def _planned_artifact(client: MlflowClient, parent: Run) -> list | None:
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    if PLANNED_TRIALS_ARTIFACT not in names:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = download(client, parent.info.run_id, PLANNED_TRIALS_ARTIFACT, tmp)
        entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ReportError(f"parent run {parent.info.run_id}: artifact {PLANNED_TRIALS_ARTIFACT} must hold a JSON list")
    return entries
