"""Pull one study's trial runs from an MLflow tracking store into a tidy table (one row per trial)."""
from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient

from reports.errors import ReportError, StudyNotFoundError
from sed_core.errors import close_match_hint

logger = logging.getLogger(__name__)

TAG_PARENT = "mlflow.parentRunId"
TAG_KIND = "sedstudy.kind"
TAG_STUDY = "sedstudy.study"
TAG_BASELINE = "sedstudy.baseline_cell"
TAG_FACTORS = "sedstudy.factors"
TAG_METRICS = "sedstudy.metrics"
TAG_PLANNED = "sedstudy.planned_trials"
PLANNED_ARTIFACT = "planned_trials.json"  # large designs: the list exceeds a tag's 8,000 characters
TAG_CELL = "sedstudy.cell"
TAG_SEED = "sedstudy.seed"
TAG_FAILURE = "sedstudy.failure"
TAG_FACTOR_PREFIX = "sedstudy.factor."

FINISHED = "FINISHED"
FAILED_STATUSES = frozenset({"FAILED", "KILLED"})
RUNNING_STATUSES = frozenset({"RUNNING", "SCHEDULED"})
MAX_PAGE_SIZE = 1000
RUN_COLUMNS = ("run_id", "cell", "seed", "status", "failure")

# Preference when one (cell, seed) has several runs: a finished one, then a live one, then a failed one.
_STATUS_RANK = {FINISHED: 0, "RUNNING": 1, "SCHEDULED": 1, "FAILED": 2, "KILLED": 2}


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


def parse_cell(cell: str, factors: Sequence[str]) -> dict[str, str]:
    """Split a cell id `a.b=x|c.d=y` into {factor: level}; a `|` inside a level is kept when no factor follows it."""
    parts: list[str] = []
    for piece in cell.split("|"):
        if parts and not any(piece.startswith(f"{factor}=") for factor in factors):
            parts[-1] += "|" + piece
        else:
            parts.append(piece)
    found = dict(part.split("=", 1) for part in parts if "=" in part)
    missing = [factor for factor in factors if factor not in found]
    if missing:
        raise ReportError(
            f"cell {cell!r}: expected a level for every factor {list(factors)}, but found none for {missing}; "
            f"the cell id must read 'factor=level|factor=level' (fix the study's {TAG_PLANNED} or {TAG_CELL} tags)"
        )
    return {factor: found[factor] for factor in factors}


def load_study(tracking_uri: str, study: str, *, page_size: int = MAX_PAGE_SIZE) -> StudyRuns:
    """Read the study's parent run and every trial run under it (paginated, `page_size` runs per request)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be in [1, {MAX_PAGE_SIZE}], but got {page_size}")
    _check_store_exists(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None or experiment.lifecycle_stage != "active":
        state = "no experiment" if experiment is None else "only a deleted experiment"
        raise StudyNotFoundError(_not_found_message(client, tracking_uri, study, f"{state} named {study!r}"))
    parent = _find_parent(client, tracking_uri, study, experiment.experiment_id)
    factors = tuple(_json_tag(parent, TAG_FACTORS, list))
    metrics = tuple(_json_tag(parent, TAG_METRICS, list))
    if not metrics:
        raise ReportError(f"study {study!r}: parent run {parent.info.run_id} has an empty {TAG_METRICS} list; "
                          "expected at least one metric key to report")
    baseline = _required_tag(parent, TAG_BASELINE)
    planned = _planned_trials(client, parent)

    trial_runs = _search_all(client, [experiment.experiment_id], f"tags.`{TAG_PARENT}` = '{parent.info.run_id}'",
                             page_size=page_size)
    frame = _trial_frame(trial_runs, study, factors, metrics)
    frame = _one_run_per_trial(frame, study)

    cells = _cell_order(planned, frame, baseline, study)
    order = {cell: i for i, cell in enumerate(cells)}
    frame = (frame.assign(_order=frame["cell"].map(order))
             .sort_values(["_order", "seed", "run_id"], kind="stable")
             .drop(columns=["_order", "_start"]).reset_index(drop=True))
    logger.info("study %r: %d trial runs under parent run %s (%d planned)", study, len(frame),
                parent.info.run_id, len(planned))
    return StudyRuns(study=study, tracking_uri=tracking_uri, experiment_id=experiment.experiment_id,
                     parent_run_id=parent.info.run_id, factors=factors, metrics=metrics, baseline_cell=baseline,
                     planned=planned, cells=cells, runs=frame)


def list_studies(tracking_uri: str) -> list[str]:
    """Names of the studies (parent runs tagged `sedstudy.kind=study`) in the tracking store, sorted."""
    _check_store_exists(tracking_uri)
    return _existing_studies(MlflowClient(tracking_uri=tracking_uri))


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


def _find_parent(client: MlflowClient, tracking_uri: str, study: str, experiment_id: str) -> Run:
    parents = _search_all(client, [experiment_id],
                          f"tags.`{TAG_KIND}` = 'study' AND tags.`{TAG_STUDY}` = {_quote(study)}")
    if not parents:
        raise StudyNotFoundError(_not_found_message(
            client, tracking_uri, study,
            f"experiment {study!r} exists but holds no parent run tagged {TAG_KIND}=study, {TAG_STUDY}={study}"))
    parents.sort(key=lambda run: (run.info.start_time or 0, run.info.run_id), reverse=True)
    if len(parents) > 1:
        logger.warning("study %r has %d parent runs (%s); expected one, using the newest, %s", study, len(parents),
                       ", ".join(run.info.run_id for run in parents), parents[0].info.run_id)
    return parents[0]


def _not_found_message(client: MlflowClient, tracking_uri: str, study: str, what: str) -> str:
    existing = _existing_studies(client)
    listed = ", ".join(repr(name) for name in existing) if existing else "none"
    return (f"study {study!r} not found in tracking store {tracking_uri!r}: {what}. "
            f"Studies in this store: {listed}{close_match_hint(study, existing)}. "
            "Pass one of these names, or the --tracking-uri the study was run with.")


def _existing_studies(client: MlflowClient) -> list[str]:
    experiments = []
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=MAX_PAGE_SIZE, page_token=token)
        experiments.extend(page)
        token = page.token
        if not token:
            break
    names: set[str] = set()
    ids = [experiment.experiment_id for experiment in experiments]
    for start in range(0, len(ids), 100):
        for run in _search_all(client, ids[start:start + 100], f"tags.`{TAG_KIND}` = 'study'"):
            name = run.data.tags.get(TAG_STUDY)
            if name:
                names.add(name)
    return sorted(names)


def _search_all(client: MlflowClient, experiment_ids: list[str], filter_string: str, *,
                page_size: int = MAX_PAGE_SIZE) -> list[Run]:
    """Every active run matching the filter, fetched page by page."""
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string=filter_string, run_view_type=ViewType.ACTIVE_ONLY,
                                  max_results=page_size, order_by=["attributes.start_time ASC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ReportError(f"study name {value!r} holds both quote characters; expected a name without quotes")


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
    if TAG_PLANNED in parent.data.tags:
        entries = _json_tag(parent, TAG_PLANNED, list)
    else:
        entries = _planned_artifact(client, parent)
    if entries is None:
        logger.warning("parent run %s has neither a %s tag nor a %s artifact; missing trials cannot be counted "
                       "(only recorded runs are reported)", parent.info.run_id, TAG_PLANNED, PLANNED_ARTIFACT)
        return ()
    planned = []
    for i, entry in enumerate(entries):
        try:
            planned.append(PlannedTrial(cell=str(entry["cell"]), seed=int(entry["seed"])))
        except (TypeError, KeyError, ValueError) as error:
            raise ReportError(f"parent run {parent.info.run_id}: {TAG_PLANNED}[{i}] must be "
                              f'{{"cell": str, "seed": int}}, but got {entry!r}') from error
    return tuple(planned)


def _trial_frame(runs: list[Run], study: str, factors: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    clash = set(factors) & (set(metrics) | set(RUN_COLUMNS))
    if clash:
        raise ReportError(f"study {study!r}: factor names {sorted(clash)} clash with metric or run column names")
    rows = []
    for run in runs:
        tags = run.data.tags
        if tags.get(TAG_KIND) != "trial":
            logger.warning("run %s under the parent of study %r has %s=%r, expected 'trial'; skipped",
                           run.info.run_id, study, TAG_KIND, tags.get(TAG_KIND))
            continue
        cell = tags.get(TAG_CELL)
        seed = tags.get(TAG_SEED)
        try:
            seed_int = int(seed)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            seed_int = None
        if cell is None or seed_int is None:
            raise ReportError(f"trial run {run.info.run_id} of study {study!r}: expected tags {TAG_CELL} and an "
                              f"integer {TAG_SEED}, but found cell={cell!r}, seed={seed!r}")
        levels = {factor: tags.get(TAG_FACTOR_PREFIX + factor) for factor in factors}
        if any(level is None for level in levels.values()):
            levels = parse_cell(cell, factors)
        row: dict[str, object] = {"run_id": run.info.run_id, "cell": cell, "seed": seed_int,
                                  "status": run.info.status, "failure": tags.get(TAG_FAILURE, ""),
                                  "_start": run.info.start_time or 0, **levels}
        for metric in metrics:
            value = run.data.metrics.get(metric, math.nan)
            if run.info.status == FINISHED and math.isnan(value):
                logger.warning("finished trial run %s (cell %r, seed %d) has no metric %r", run.info.run_id, cell,
                               seed_int, metric)
            row[metric] = float(value)
        rows.append(row)
    columns = [*RUN_COLUMNS, "_start", *factors, *metrics]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"seed": "int64", **{metric: "float64" for metric in metrics}})


def _one_run_per_trial(frame: pd.DataFrame, study: str) -> pd.DataFrame:
    """Keep one run per (cell, seed): finished over running over failed, then the newest."""
    if not frame.duplicated(["cell", "seed"]).any():
        return frame
    ranked = frame.assign(_rank=frame["status"].map(_STATUS_RANK).fillna(3))
    ranked = ranked.sort_values(["_rank", "_start", "run_id"], ascending=[True, False, True], kind="stable")
    kept = ranked.drop_duplicates(["cell", "seed"], keep="first")
    dropped = ranked.drop(index=kept.index)
    logger.warning("study %r: %d trials have several runs; kept the finished (else newest) run of each and left out "
                   "runs %s", study, dropped[["cell", "seed"]].drop_duplicates().shape[0],
                   ", ".join(sorted(dropped["run_id"])))
    return kept.drop(columns="_rank")


def _cell_order(planned: Sequence[PlannedTrial], frame: pd.DataFrame, baseline: str, study: str) -> tuple[str, ...]:
    order = dict.fromkeys(trial.cell for trial in planned)
    unplanned = sorted(set(frame["cell"]) - set(order))
    if unplanned and planned:
        logger.warning("study %r: cells %s have runs but are not in %s; listed after the planned cells",
                       study, unplanned, TAG_PLANNED)
    order.update(dict.fromkeys(unplanned))
    if baseline not in order:
        raise ReportError(f"study {study!r}: baseline cell {baseline!r} is neither planned nor recorded; expected one "
                          f"of {list(order)}{close_match_hint(baseline, order)}")
    return (baseline, *(cell for cell in order if cell != baseline))


def _planned_artifact(client: MlflowClient, parent: Run) -> list | None:
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    if PLANNED_ARTIFACT not in names:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(parent.info.run_id, PLANNED_ARTIFACT, tmp)
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ReportError(f"parent run {parent.info.run_id}: artifact {PLANNED_ARTIFACT} must hold a JSON list")
    return entries
