"""``sedstudy status``: a study's cells done / running / failed / not started, and the best result so far.

Read from the tracking store alone, so it works for a running study (from another shell) and a finished one.
"""
from __future__ import annotations

import json
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from reports.contract import (
    BASELINE_CELL_TAG,
    CELL_TAG,
    CELLS_TAG,
    KIND_TAG,
    PLANNED_TRIALS_ARTIFACT,
    SEED_TAG,
    TUNE_KIND,
    TUNED_CELLS_TAG,
    TUNING_TAG,
    StudyObjective,
    children_filter,
    find_study_parent,
    iter_runs,
    launch_tag,
)
from reports.fetch.analysis_plan import AnalysisPlan
from reports.fetch.records import Wanted
from reports.fetch.sequential_design import SequentialSeeds
from reports.fetch.trial_source import database_of, read_trials
from reports.stats.sequential import contrast_alpha
from sed_core.errors import SedStudyError
from studies.adaptive_seeds import needs
from studies.heartbeat import driver_gone_since
from studies.progress import clock_text
from studies.study_ref import unknown_study
from studies.study_summary import run_state
from studies.tracking import default_tracking_uri, open_client
from studies.tuning import TuningState, sample_index, tuning_summary

STATES = ("finished", "running", "failed", "not started")


@dataclass
class CellStatus:
    cell: str
    planned: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    best: float | None = None  # the cell's best objective over its finished seeds
    contrast: str = ""  # adaptive seeds: the contrast with the baseline (undecided, better, worse, equivalent)


@dataclass
class StudyStatus:
    study: str
    parent_status: str
    objective: str
    mode: str
    cells: list[CellStatus]
    best: tuple[float, str, int] | None  # (value, cell, seed)
    tuning: list[dict] = field(default_factory=list)  # per tuned cell: samples finished/stopped early/failed, best
    time_left_s: float | None = None  # at the pace of the finished trials, with as many at a time as now run
    driver_gone_since: float | None = None  # RUNNING, but its driver's last beat (Unix time) is long past
    resume: str = ""  # the command that continues it

    @property
    def elapsed_note(self) -> str:
        if self.driver_gone_since is not None:
            since = datetime.fromtimestamp(self.driver_gone_since, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            return (f"driver gone: no heartbeat since {since} (the process that ran it stopped without ending it); "
                    f"`{self.resume}` continues it")
        return "" if self.time_left_s is None else f"~{clock_text(self.time_left_s)} left at the current pace"

    @property
    def totals(self) -> dict[str, int]:
        return {s: sum(c.counts[s] for c in self.cells) for s in STATES}


def study_status(tracking_uri: str, study: str) -> StudyStatus:
    client = open_client(tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        raise unknown_study(study, tracking_uri, client)
    parent = find_study_parent(client, experiment.experiment_id, study)
    if parent is None:
        raise SedStudyError(f"study {study!r} in {tracking_uri} has no parent run; was it started by sedstudy?")
    try:
        objective = StudyObjective.of(parent.data.tags)
    except ValueError as error:
        raise SedStudyError(f"study {study!r}: parent run {parent.info.run_id}: {error}") from None
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # one small file; no bar on the status screen
    with tempfile.TemporaryDirectory() as tmp:
        planned_file = client.download_artifacts(parent.info.run_id, PLANNED_TRIALS_ARTIFACT, tmp)
        planned = json.loads(Path(planned_file).read_text())
    cells: dict[str, CellStatus] = {}
    for trial in planned:
        cells.setdefault(trial["cell"], CellStatus(trial["cell"])).planned += 1
    seen: dict[tuple[str, str], str] = {}
    best = None
    samples: dict[str, list] = {}
    durations: list[float] = []
    cell_best: dict[str, float] = {}
    adaptive = SequentialSeeds.of(parent.data.tags)
    plan = AnalysisPlan.of(parent.data.tags) or AnalysisPlan()
    decided_on = plan.primary_metric(objective.metric)
    values: dict[tuple[str, int], float] = {}
    ended: set[tuple[str, int]] = set()
    wanted = Wanted(tags=(KIND_TAG, CELL_TAG, SEED_TAG), metrics=tuple(dict.fromkeys((objective.metric, decided_on))),
                    params=())
    fetched = read_trials(client, experiment.experiment_id, parent.info.run_id, wanted,
                          database_uri=database_of(tracking_uri), what=f"study {study}")
    for run in sorted(fetched.records, key=lambda r: (-r.start_time, r.run_id)):  # newest first
        if run.tags.get(KIND_TAG) == TUNE_KIND:  # tuning samples are not seeds of their cell (read whole below)
            continue
        key = (run.tags.get(CELL_TAG, "?"), run.tags.get(SEED_TAG, "?"))
        state = run_state(run.status)
        if seen.get(key) == "finished":
            continue
        seen[key] = state
        value = run.metrics.get(objective.metric)
        if state == "finished" and run.end_time and run.start_time:
            durations.append((run.end_time - run.start_time) / 1000)
        if state in ("finished", "failed") and key[1].lstrip("-").isdigit():
            ended.add((key[0], int(key[1])))
            if state == "finished" and decided_on in run.metrics:
                values[(key[0], int(key[1]))] = run.metrics[decided_on]
        if state == "finished" and value is not None:
            if objective.better(value, None if best is None else best[0]):
                best = (value, key[0], int(key[1]) if key[1].lstrip("-").isdigit() else -1)
            if objective.better(value, cell_best.get(key[0])):
                cell_best[key[0]] = value
    for (cell, _), state in seen.items():
        cells.setdefault(cell, CellStatus(cell)).counts[state] += 1
    for status in cells.values():
        status.counts["not started"] = max(status.planned - sum(status.counts[s] for s in STATES[:3]), 0)
        status.best = cell_best.get(status.cell)
    if adaptive is not None:
        baseline = parent.data.tags.get(BASELINE_CELL_TAG, "")
        order = json.loads(parent.data.tags.get(CELLS_TAG, "[]")) or list(cells)
        state = needs(adaptive, alpha=contrast_alpha(plan.alpha, len(order) - 1), cells=order, baseline=baseline,
                      values=values, ended=ended)
        for cell, contrast in state.contrasts.items():
            looks = f"look {state.looks_done[cell]} of {len(adaptive.looks)}"
            text = f"{contrast.decision} ({looks})" if contrast.decided_at is None else \
                f"{contrast.decision} at {contrast.decided_at} seed pairs ({looks})"
            cells.setdefault(cell, CellStatus(cell)).contrast = text
        if baseline in cells:
            cells[baseline].contrast = "baseline"
    totals = {s: sum(c.counts[s] for c in cells.values()) for s in STATES}
    gone = driver_gone_since(parent.data.tags, time.time()) if parent.info.status == "RUNNING" else None
    left = None
    if durations and gone is None and parent.info.status == "RUNNING" and (totals["running"] or totals["not started"]):
        at_once = max(totals["running"], 1)
        left = sum(durations) / len(durations) * (totals["not started"] + 0.5 * totals["running"]) / at_once
    tuning = []
    spec = json.loads(parent.data.tags.get(TUNING_TAG, "null"))
    if spec is not None:
        for run in iter_runs(client, [experiment.experiment_id], children_filter(parent.info.run_id, TUNE_KIND)):
            samples.setdefault(run.data.tags.get(CELL_TAG, "?"), []).append(run)
        for cell, metric in json.loads(parent.data.tags.get(TUNED_CELLS_TAG, "{}")).items():
            runs = tuple(sorted(samples.get(cell, []), key=sample_index))
            tuning.append({**tuning_summary(TuningState(cell, spec["num_samples"], runs)), "metric": metric})
    return StudyStatus(study, parent.info.status, objective.metric, objective.mode, list(cells.values()), best,
                       tuning, left, gone, resume_command(study, tracking_uri, parent.data.tags))


def resume_command(study: str, tracking_uri: str, tags: dict[str, str]) -> str:
    """`sedstudy resume <study>` with the work directory it was launched in, and the store unless it is that
    directory's own."""
    workdir = tags.get(launch_tag("workdir"))
    words = ["sedstudy", "resume", study] + (["--workdir", workdir] if workdir else [])
    if not workdir or tracking_uri != default_tracking_uri(Path(workdir)):
        words += ["--tracking-uri", tracking_uri]
    return shlex.join(words)


MAX_CELL_ROWS = 40  # a sweep of thousands of cells lists those with running or failed trials, then the best ones


def shown_cells(status: StudyStatus, limit: int | None) -> list[CellStatus]:
    """The cells ``format_status`` lists, in the study's order: every one up to ``limit``; past it the cells with
    running or failed trials, then the best by the objective, then those not started, ``limit`` in all."""
    cells = status.cells
    if limit is None or len(cells) <= limit:
        return cells
    sign = 1.0 if status.mode == "max" else -1.0

    def priority(c: CellStatus) -> tuple:
        active = c.counts["running"] > 0 or c.counts["failed"] > 0
        return (not active, c.best is None, -sign * c.best if c.best is not None else 0.0)

    chosen = {id(c) for c in sorted(cells, key=priority)[:limit]}
    return [c for c in cells if id(c) in chosen]


def format_status(status: StudyStatus, *, max_cells: int | None = MAX_CELL_ROWS) -> str:
    totals = status.totals
    lines = [f"study {status.study} ({status.parent_status.lower()}): " + ", ".join(f"{totals[s]} {s}" for s in STATES)
             + (f"; {status.elapsed_note}" if status.elapsed_note else "")]
    if status.best is not None:
        value, cell, seed = status.best
        lines.append(f"best {status.objective} so far: {value:.4f} ({cell}, seed {seed})")
    best_title = f"best {status.objective}"
    lines.append(f"{'finished':>8} {'running':>7} {'failed':>6} {'todo':>4} {best_title:>{len(best_title)}}  cell")
    shown = shown_cells(status, max_cells)
    for c in shown:
        best = "–" if c.best is None else f"{c.best:.4f}"
        lines.append(f"{c.counts['finished']:>8} {c.counts['running']:>7} {c.counts['failed']:>6} "
                     f"{c.counts['not started']:>4} {best:>{len(best_title)}}  {c.cell}"
                     + (f"  [{c.contrast}]" if c.contrast else ""))
    if len(shown) < len(status.cells):
        lines.append(f"... {len(status.cells) - len(shown)} more cells of {len(status.cells)} (shown: those with "
                     f"running or failed trials, then the best by {status.objective}); --all lists every cell")
    if status.tuning:
        lines.append("tuning samples (stopped: by ASHA; best: a sample's best epoch on the tuning metric):")
        lines.append(f"{'samples':>8} {'stopped':>7} {'failed':>6} {'running':>7}  cell: best so far")
        for t in status.tuning:
            best = t["best"]
            shown = "none yet" if best is None else \
                f"{t['metric']}={best['value']:.4f} (sample {best['sample']}: {json.dumps(best['values'])})"
            lines.append(f"{t['finished'] + t['failed']:>4}/{t['num_samples']:<3} {t['stopped_early']:>7} "
                         f"{t['failed']:>6} {t['running']:>7}  {t['cell']}: {shown}")
    return "\n".join(lines)
