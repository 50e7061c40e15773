"""Benchmark: load a study of 10,000 trial runs from a SQLite MLflow store and build its report.

    .venv/bin/python bench/report_load.py                      # 10,000 runs, store kept in /tmp/sedstudy_bench
    .venv/bin/python bench/report_load.py --runs 2000 --writer client

The store is filled once with synthetic trial runs that follow the studies -> reports contract (about 90 params,
per-epoch history, final and per-class metrics, failed and missing trials) and reused on later runs. Times are
printed per 1,000 runs and as ratios against MLflow's own `search_runs` over the same runs, measured in the same
process: the ratio carries over between machines better than seconds do. Nothing here asserts a time.

Writers: `client` uses MlflowClient (create_run, log_batch, set_terminated), about 50 ms per run; `sql` (the
default) inserts the same rows into MLflow's own tables (its SQLAlchemy table models) in bulk, a few seconds for
10,000 runs. tests/reports/test_report_bench.py checks that both writers give the same study.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from mlflow.entities import Metric, Param, ViewType
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
from mlflow.tracking import MlflowClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.build import build_report
from reports.fetch.load import load_study
from sed_core.config.loading import config_from_dict, flatten

STUDY = "bench_report"
FACTORS = {"model.pooling": ["attention", "max", "mean", "linear_softmax", "auto_pool"],
           "training.mixup.probability": [0.5, 0.0, 0.25, 0.75, 1.0],
           "model.rnn.num_layers": [2, 1, 3, 4],
           "training.optimizer.lr": [0.001, 0.0005, 0.002, 0.0001, 0.003]}  # 500 cells
METRICS = ["psds1", "psds2", "collar_f1"]
CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
           "Running_water", "Speech", "Vacuum_cleaner"]
EPOCHS = 10
FAILED_EVERY = 50  # one trial in 50 fails
MISSING_EVERY = 97  # one planned trial in 97 never ran
EFFECTS = {"model.pooling": [0.0, -0.03, -0.05, -0.01, -0.02], "training.mixup.probability": [0.0, -0.01, 0.0, 0.01,
                                                                                               -0.02]}


@dataclass(frozen=True)
class Trial:
    """One synthetic trial: its cell, seed, status and what it logs."""

    cell: str
    seed: int
    levels: dict[str, object]
    status: str
    start_time: int
    tags: dict[str, str]
    params: dict[str, str]
    history: list[tuple[str, float, int]]  # (key, value, step)
    final: dict[str, float]


def level_text(value: object) -> str:
    """As studies/ writes levels: str as is, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def design() -> list[dict[str, object]]:
    """The cells: every combination of the factors' levels."""
    return [dict(zip(FACTORS, values)) for values in itertools.product(*FACTORS.values())]


def cell_id(levels: dict[str, object]) -> str:
    return "|".join(f"{name}={level_text(value)}" for name, value in levels.items())


def planned(n_runs: int, *, missing_every: int = MISSING_EVERY) -> list[tuple[dict[str, object], int, bool]]:
    """(levels, seed, missing) of the planned trials, cells x seeds in order, until `n_runs` are recorded."""
    cells = design()
    out: list[tuple[int, dict[str, object], int, bool]] = []
    recorded = 0
    for seed in itertools.count():  # seed-major: a small study has every cell once before any cell twice
        for position, levels in enumerate(cells):
            if recorded == n_runs:
                in_design_order = sorted(out, key=lambda trial: (trial[0], trial[2]))  # by cell, then seed
                return [(levels, seed, missing) for _, levels, seed, missing in in_design_order]
            missing = len(out) % missing_every == missing_every - 1
            recorded += not missing
            out.append((position, levels, seed, missing))
    raise AssertionError("unreachable")


def trials(n_runs: int, parent_id: str, *, study: str = STUDY, seed: int = 0, failed_every: int = FAILED_EVERY,
           missing_every: int = MISSING_EVERY) -> Iterator[Trial]:
    """The recorded trials of the study (planned ones minus the missing), reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    base = {key: value for key, value in flatten(config_from_dict({"preset": "quick"})).items() if key != "output_dir"}
    plan = planned(n_runs, missing_every=missing_every)
    seed_effect = rng.normal(0, 0.01, max(s for _, s, _ in plan) + 1)
    for k, (levels, s, missing) in enumerate(plan):
        if missing:
            continue
        cell = cell_id(levels)
        config = {**base, **levels, "training.seed": s}
        params = {key: level_text(value)[:6000] for key, value in sorted(config.items())}
        tags = {"mlflow.parentRunId": parent_id, "sedstudy.kind": "trial", "sedstudy.study": study,
                "sedstudy.cell": cell, "sedstudy.seed": str(s),
                "sedstudy.trial_id": hashlib.sha256(f"{cell}/{s}".encode()).hexdigest()[:16],
                **{f"sedstudy.factor.{name}": level_text(value) for name, value in levels.items()}}
        failed = k % failed_every == failed_every - 1
        epochs = 3 if failed else EPOCHS
        history = [(key, float(value), epoch) for epoch in range(epochs)
                   for key, value in (("train/loss", 1.0 / (epoch + 1)), ("train/consistency", 0.1 / (epoch + 1)),
                                      ("train/strong", 0.5 / (epoch + 1)),
                                      ("val/synthetic_validation/intersection_f1", 0.05 * epoch))]
        final: dict[str, float] = {}
        if failed:
            tags["sedstudy.failure"] = "RuntimeError: CUDA out of memory (synthetic)"
        else:
            value = 0.40 + sum(EFFECTS.get(name, [0.0] * 5)[FACTORS[name].index(level)]
                               for name, level in levels.items()) + seed_effect[s] + rng.normal(0, 0.01)
            final = {"psds1": value, "psds2": value + 0.3, "collar_f1": value + 0.1, "intersection_f1": value + 0.2,
                     "best_epoch": float(EPOCHS - 1),
                     **{f"{model}/{metric}": value for model in ("student", "teacher") for metric in METRICS},
                     **{f"psds1/class/{label}": value + 0.01 * i - 0.05 for i, label in enumerate(CLASSES)}}
        yield Trial(cell=cell, seed=s, levels=levels, status="FAILED" if failed else "FINISHED",
                    start_time=1_700_000_000_000 + 1000 * k, tags=tags, params=params, history=history, final=final)


def create_study(client: MlflowClient, root: Path, n_runs: int, study: str = STUDY, *,
                 missing_every: int = MISSING_EVERY) -> tuple[str, str]:
    """The experiment and parent run (tags and planned-trials artifact as studies/ writes them)."""
    experiment_id = client.create_experiment(study, artifact_location=(root / "artifacts" / study).as_uri())
    cells = design()
    plan = [{"cell": cell_id(levels), "seed": s} for levels, s, _ in planned(n_runs, missing_every=missing_every)]
    seeds = sorted({entry["seed"] for entry in plan})
    tags = {"sedstudy.kind": "study", "sedstudy.study": study, "sedstudy.baseline_cell": cell_id(cells[0]),
            "sedstudy.factors": json.dumps(list(FACTORS)), "sedstudy.metrics": json.dumps(METRICS),
            "sedstudy.objective": json.dumps({"metric": "psds1", "mode": "max"}),
            "sedstudy.cells": json.dumps([cell_id(levels) for levels in cells]), "sedstudy.seeds": json.dumps(seeds)}
    parent_id = client.create_run(experiment_id, run_name=study, tags=tags).info.run_id
    client.log_dict(parent_id, plan, "planned_trials.json")
    client.set_terminated(parent_id, "FINISHED")
    return experiment_id, parent_id


def write_client(client: MlflowClient, experiment_id: str, trial: Trial) -> str:
    """One trial through the MLflow client, as studies/ does (params in batches of 100)."""
    run_id = client.create_run(experiment_id, start_time=trial.start_time, tags=trial.tags).info.run_id
    params = [Param(key, value) for key, value in trial.params.items()]
    metrics = [Metric(key, value, trial.start_time + step, step) for key, value, step in trial.history]
    metrics += [Metric(key, value, trial.start_time + EPOCHS, EPOCHS) for key, value in trial.final.items()]
    for i in range(0, len(params), 100):
        client.log_batch(run_id, params=params[i:i + 100])
    client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, trial.status, end_time=trial.start_time + 100_000)
    return run_id


def write_sql(engine: Engine, experiment_id: str, artifact_root: str, batch: Sequence[Trial]) -> None:
    """Many trials in one transaction: the rows `write_client` would leave, inserted into MLflow's tables."""
    runs, tags, params, metrics, latest = [], [], [], [], []
    for trial in batch:
        run_id = uuid.uuid4().hex
        name = f"{trial.cell} seed={trial.seed}"
        runs.append({"run_uuid": run_id, "name": name, "source_type": "UNKNOWN", "source_name": "",
                     "entry_point_name": "", "user_id": "unknown", "status": trial.status,
                     "start_time": trial.start_time, "end_time": trial.start_time + 100_000, "deleted_time": None,
                     "source_version": "", "lifecycle_stage": "active",
                     "artifact_uri": f"{artifact_root}/{run_id}/artifacts", "experiment_id": int(experiment_id)})
        tags += [{"run_uuid": run_id, "key": key, "value": value}
                 for key, value in {**trial.tags, "mlflow.runName": name}.items()]
        params += [{"run_uuid": run_id, "key": key, "value": value} for key, value in trial.params.items()]
        newest: dict[str, dict[str, object]] = {}
        logged = [(key, value, trial.start_time + step, step) for key, value, step in trial.history]
        logged += [(key, value, trial.start_time + EPOCHS, EPOCHS) for key, value in trial.final.items()]
        for key, value, timestamp, step in logged:
            row = {"run_uuid": run_id, "key": key, "value": value, "timestamp": timestamp, "step": step,
                   "is_nan": False}
            metrics.append(row)
            newest[key] = row  # steps only grow: the last logged value is the latest
        latest += list(newest.values())
    with engine.begin() as connection:
        for table, rows in ((SqlRun, runs), (SqlTag, tags), (SqlParam, params), (SqlMetric, metrics),
                            (SqlLatestMetric, latest)):
            connection.execute(sa.insert(table.__table__), rows)


@contextmanager
def no_fsync() -> Iterator[None]:
    """Skip fsync on the bench store while filling it (a throwaway file)."""
    def pragma(connection: object, record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    event.listen(Engine, "connect", pragma)
    try:
        yield
    finally:
        event.remove(Engine, "connect", pragma)


def populate(uri: str, root: Path, n_runs: int, writer: str, study: str = STUDY, *, failed_every: int = FAILED_EVERY,
             missing_every: int = MISSING_EVERY) -> None:
    """Write the study into the store at `uri` with `writer` ("sql" or "client")."""
    client = MlflowClient(tracking_uri=uri)
    experiment_id, parent_id = create_study(client, root, n_runs, study, missing_every=missing_every)
    stream = trials(n_runs, parent_id, study=study, failed_every=failed_every, missing_every=missing_every)
    started = time.perf_counter()
    if writer == "client":
        for i, trial in enumerate(stream, start=1):
            write_client(client, experiment_id, trial)
            if i % 500 == 0:
                print(f"  {i} runs written ({time.perf_counter() - started:.0f} s)", flush=True)
        return
    if writer != "sql":
        raise ValueError(f"writer must be 'sql' or 'client', but got {writer!r}")
    engine = sa.create_engine(uri)
    artifact_root = (root / "artifacts" / study).as_uri()
    try:
        while batch := list(itertools.islice(stream, 500)):
            write_sql(engine, experiment_id, artifact_root, batch)
    finally:
        engine.dispose()


def fill(root: Path, n_runs: int, writer: str) -> str:
    """Create the store under `root` (reused when it already holds the study) and return its URI."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    marker = root / "filled.json"
    wanted = {"runs": n_runs, "writer": writer, "version": 2}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return uri
    for stale in ("mlflow.db", "filled.json"):
        (root / stale).unlink(missing_ok=True)
    started = time.perf_counter()
    with no_fsync():
        populate(uri, root, n_runs, writer)
    print(f"filled {uri} with {n_runs} runs ({writer} writer) in {time.perf_counter() - started:.1f} s")
    marker.write_text(json.dumps(wanted))
    return uri


def raw_search(uri: str, limit: int) -> tuple[int, float]:
    """MLflow's search_runs over the study's trial runs (pages of 1,000, at most `limit` runs): (runs, seconds)."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(STUDY)
    parent = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'study'")[0].info.run_id
    started = time.perf_counter()
    count, token = 0, None
    while count < limit:
        page = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'",
                                  run_view_type=ViewType.ACTIVE_ONLY, max_results=min(1000, limit - count),
                                  page_token=token)
        count += len(page)
        token = page.token
        if not token:
            break
    return count, time.perf_counter() - started


def timed(label: str, function, *args, **kwargs) -> tuple[object, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:7.2f} s", flush=True)
    return result, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="trial runs in the store (default: 10,000)")
    parser.add_argument("--store", type=Path, default=Path("/tmp/sedstudy_bench"),
                        help="folder of the bench store; reused when it holds the same study")
    parser.add_argument("--writer", choices=("sql", "client"), default="sql", help="how the store is filled")
    parser.add_argument("--baseline-runs", type=int, default=2_000,
                        help="runs read by the raw search_runs baseline (per-1,000 time extrapolates)")
    parser.add_argument("--api", action="store_true", help="also time load_study through the MLflow client")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = args.store / f"{args.runs}_{args.writer}"
    uri = fill(root, args.runs, args.writer)

    print(f"study {STUDY!r}: {args.runs} trial runs, store {uri}")
    (count, raw_seconds) = raw_search(uri, args.baseline_runs)
    raw_per_k = raw_seconds / count * 1000
    print(f"  {'baseline: MlflowClient.search_runs':<44} {raw_seconds:7.2f} s for {count} runs "
          f"({raw_per_k:.2f} s per 1,000)")
    cache = root / "cache"
    for path in cache.glob("*.pkl"):
        path.unlink()
    runs, load_seconds = timed("load_study (SQL path, cold cache)", load_study, uri, STUDY, cache_dir=cache)
    _, cached_seconds = timed("load_study (cache hit)", load_study, uri, STUDY, cache_dir=cache)
    rows = {"load (SQL, cold)": load_seconds, "load (cache hit)": cached_seconds}
    if args.api:
        _, rows["load (client API)"] = timed("load_study (client API path)", load_study, uri, STUDY, method="api")
    out = root / "report"
    paths, build_seconds = timed("build_report (load from cache + everything)", build_report, uri, STUDY, out,
                                 cache_dir=cache)
    rows["build_report (cached load)"] = build_seconds
    for path in cache.glob("*.pkl"):
        path.unlink()
    _, cold_build = timed("build_report (cold: load + everything)", build_report, uri, STUDY, out, cache_dir=cache)
    rows["build_report (cold)"] = cold_build
    n = len(runs.runs)  # type: ignore[attr-defined]
    print(f"\n{n} trial runs loaded; raw search_runs: {raw_per_k:.2f} s per 1,000 runs")
    print(f"{'step':<30} {'seconds':>8} {'s / 1,000 runs':>15} {'x raw search':>13}")
    for label, seconds in rows.items():
        per_k = seconds / n * 1000
        print(f"{label:<30} {seconds:8.2f} {per_k:15.3f} {per_k / raw_per_k:13.3f}")
    print(f"\nreport: {paths.html}")  # type: ignore[attr-defined]
    print(f"cold load + report for {n} runs: {cold_build:.1f} s (target: under 30 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
