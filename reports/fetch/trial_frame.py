"""Trial records -> the tidy tables of a study: one row per trial, per-class metrics, typed params."""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pandas as pd

from reports.contract import (
    CELL_TAG,
    CLASS_INFIX,
    FACTOR_TAG_PREFIX,
    FAILURE_TAG,
    KIND_TAG,
    PLANNED_TRIALS_TAG,
    SEED_TAG,
    TRIAL_KIND,
    TUNE_KIND,
)
from reports.errors import ReportError
from reports.fetch.params import typed_params
from reports.fetch.records import FINISHED, TrialRecord

logger = logging.getLogger(__name__)

RUN_COLUMNS = ("run_id", "cell", "seed", "status", "failure")
PER_CLASS_COLUMNS = ("run_id", "cell", "seed", "status", "metric", "label", "value")
# Preference when one (cell, seed) has several runs: a finished one, then a live one, then a failed one.
_STATUS_RANK = {FINISHED: 0, "RUNNING": 1, "SCHEDULED": 1, "FAILED": 2, "KILLED": 2}


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
            f"the cell id must read 'factor=level|factor=level' (fix the study's {PLANNED_TRIALS_TAG} or "
            f"{CELL_TAG} tags)"
        )
    return {factor: found[factor] for factor in factors}


SHOWN_RUNS = 3  # runs named in a warning about many runs


def trial_frame(records: Sequence[TrialRecord], study: str, factors: Sequence[str],
                metrics: Sequence[str]) -> pd.DataFrame:
    """One row per trial run: RUN_COLUMNS, `_start` (start time, for de-duplication), factor levels, metrics.

    Levels come from the `sedstudy.factor.*` tags, else from the cell id; a missing metric is NaN (and a warning
    when the run finished). Tuning samples (`sedstudy.kind=tune`) are skipped; other runs under the parent that
    are not trials are skipped with a warning.
    """
    clash = set(factors) & (set(metrics) | set(RUN_COLUMNS))
    if clash:
        raise ReportError(f"study {study!r}: factor names {sorted(clash)} clash with metric or run column names")
    rows = []
    lacking: dict[str, list[str]] = {metric: [] for metric in metrics}  # metric -> finished runs without it
    for record in records:
        tags = record.tags
        if tags.get(KIND_TAG) == TUNE_KIND:  # a tuning sample, not a seed of its cell
            continue
        if tags.get(KIND_TAG) != TRIAL_KIND:
            logger.warning("run %s under the parent of study %r has %s=%r, expected 'trial'; skipped",
                           record.run_id, study, KIND_TAG, tags.get(KIND_TAG))
            continue
        cell = tags.get(CELL_TAG)
        seed = tags.get(SEED_TAG)
        try:
            seed_int = int(seed)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            seed_int = None
        if cell is None or seed_int is None:
            raise ReportError(f"trial run {record.run_id} of study {study!r}: expected tags {CELL_TAG} and an "
                              f"integer {SEED_TAG}, but found cell={cell!r}, seed={seed!r}")
        levels = {factor: tags.get(FACTOR_TAG_PREFIX + factor) for factor in factors}
        if any(level is None for level in levels.values()):
            levels = parse_cell(cell, factors)
        row: dict[str, object] = {"run_id": record.run_id, "cell": cell, "seed": seed_int,
                                  "status": record.status, "failure": tags.get(FAILURE_TAG, ""),
                                  "_start": record.start_time, **levels}
        for metric in metrics:
            value = record.metrics.get(metric, math.nan)
            if record.status == FINISHED and math.isnan(value):
                lacking[metric].append(f"{record.run_id} (cell {cell!r}, seed {seed_int})")
            row[metric] = float(value)
        rows.append(row)
    for metric, runs in lacking.items():
        if runs:
            shown = ", ".join(runs[:SHOWN_RUNS]) + (f" and {len(runs) - SHOWN_RUNS} more" if len(runs) > SHOWN_RUNS
                                                     else "")
            logger.warning("%d finished trial run(s) have no metric %r: %s", len(runs), metric, shown)
    columns = [*RUN_COLUMNS, "_start", *factors, *metrics]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"seed": "int64", **{metric: "float64" for metric in metrics}})


def per_class_frame(records: Sequence[TrialRecord], frame: pd.DataFrame) -> pd.DataFrame:
    """Long table of `<metric>/class/<label>` values of the kept runs, in the runs' order, then metric, label."""
    position = {run_id: i for i, run_id in enumerate(frame["run_id"])}
    rows = []
    for record in records:
        i = position.get(record.run_id)
        if i is None:
            continue
        for key, value in record.metrics.items():
            metric, sep, label = key.partition(CLASS_INFIX)
            if sep:
                rows.append((i, record.run_id, metric, label, float(value)))
    long = pd.DataFrame(rows, columns=["_i", "run_id", "metric", "label", "value"])
    long = long.sort_values(["_i", "metric", "label"], kind="stable").reset_index(drop=True)
    info = frame.iloc[long["_i"].to_numpy()][["cell", "seed", "status"]].reset_index(drop=True)
    out = pd.concat([long[["run_id"]], info, long[["metric", "label", "value"]]], axis=1)
    return out.astype({"seed": "int64", "value": "float64"})[list(PER_CLASS_COLUMNS)]


def params_frame(records: Sequence[TrialRecord], frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Typed params (`keys`) of the kept runs, aligned with `frame` (same index)."""
    return typed_params(param_texts(records, frame, keys), keys)


def param_texts(records: Sequence[TrialRecord], frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Params (`keys`) of the kept runs as logged (text; None where a run lacks one), aligned with `frame`."""
    by_run = {record.run_id: record.params for record in records}
    return pd.DataFrame([{key: by_run.get(run_id, {}).get(key) for key in keys} for run_id in frame["run_id"]],
                        index=frame.index, columns=list(keys), dtype=object)


def metrics_frame(records: Sequence[TrialRecord], frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Latest values of metric `keys` of the kept runs (NaN where absent), aligned with `frame`."""
    by_run = {record.run_id: record.metrics for record in records}
    return pd.DataFrame([[by_run.get(run_id, {}).get(key, math.nan) for key in keys] for run_id in frame["run_id"]],
                        index=frame.index, columns=list(keys), dtype="float64")


def one_run_per_trial(frame: pd.DataFrame, study: str) -> pd.DataFrame:
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
