"""A fabricated MLflow SQLite store that follows the studies -> reports contract exactly.

Study `quickstart`: factors model.pooling x training.mixup.probability (2 x 2), seeds 0..2, metrics psds1, psds2,
collar_f1. Planted effect: psds1 = 0.30 + 0.10 [pooling=attention] + 0.05 [mixup=0.5] + (-0.02, 0, +0.02)[seed];
psds2 = psds1 + 0.30; collar_f1 = psds1 + 0.10. Seed 2 of cell B failed, seed 0 of cell C was never started,
seed 2 of cell D finished without logging collar_f1. Also in the store: study `other`, study `dup` with two parent
runs, and experiment `no_parent` without a parent run.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

STUDY = "quickstart"
FACTORS = ["model.pooling", "training.mixup.probability"]
METRICS = ["psds1", "psds2", "collar_f1"]
CELL_A = "model.pooling=attention|training.mixup.probability=0.5"  # baseline
CELL_B = "model.pooling=attention|training.mixup.probability=0.0"
CELL_C = "model.pooling=mean|training.mixup.probability=0.5"
CELL_D = "model.pooling=mean|training.mixup.probability=0.0"
LEVELS = {CELL_A: ("attention", "0.5"), CELL_B: ("attention", "0.0"), CELL_C: ("mean", "0.5"),
          CELL_D: ("mean", "0.0")}
PLANNED_ORDER = [CELL_B, CELL_A, CELL_C, CELL_D]  # baseline not first on purpose: reports must move it first
SEEDS = [0, 1, 2]
SEED_OFFSET = {0: -0.02, 1: 0.0, 2: 0.02}
FAILED = (CELL_B, 2)
MISSING = (CELL_C, 0)
NO_COLLAR = (CELL_D, 2)
LAST_EPOCH = 9


def psds1(cell: str, seed: int) -> float:
    pooling, mixup = LEVELS[cell]
    return 0.30 + 0.10 * (pooling == "attention") + 0.05 * (mixup == "0.5") + SEED_OFFSET[seed]


@dataclass(frozen=True)
class Store:
    uri: str
    root: Path
    parent_run_id: str
    run_ids: dict[tuple[str, int], str]


def _parent(client: MlflowClient, experiment_id: str, study: str, planned: list[dict], start_time: int) -> str:
    tags = {"sedstudy.kind": "study", "sedstudy.study": study, "sedstudy.baseline_cell": CELL_A,
            "sedstudy.factors": json.dumps(FACTORS), "sedstudy.metrics": json.dumps(METRICS),
            "sedstudy.planned_trials": json.dumps(planned)}
    return client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=study).info.run_id


def _trial(client: MlflowClient, experiment_id: str, parent_id: str, study: str, cell: str, seed: int,
           start_time: int) -> str:
    trial_id = hashlib.sha1(f"{cell}/{seed}".encode()).hexdigest()[:12]
    tags = {"mlflow.parentRunId": parent_id, "sedstudy.kind": "trial", "sedstudy.study": study,
            "sedstudy.cell": cell, "sedstudy.seed": str(seed), "sedstudy.trial_id": trial_id}
    tags.update({f"sedstudy.factor.{factor}": level for factor, level in zip(FACTORS, LEVELS[cell])})
    run_id = client.create_run(experiment_id, start_time=start_time, tags=tags).info.run_id
    params = [Param(factor, level) for factor, level in zip(FACTORS, LEVELS[cell])]
    params += [Param("training.seed", str(seed)), Param("training.epochs", str(LAST_EPOCH + 1))]
    metrics = [Metric("train/loss", 1.0 / (epoch + 1), start_time + epoch, epoch) for epoch in range(LAST_EPOCH + 1)]
    metrics += [Metric("val/synthetic_validation/intersection_f1", 0.05 * epoch, start_time + epoch, epoch)
                for epoch in range(LAST_EPOCH + 1)]
    if (cell, seed) == FAILED:
        client.log_batch(run_id, metrics=metrics[:3], params=params,
                         tags=[RunTag("sedstudy.failure", "CUDA out of memory")])
        client.set_terminated(run_id, status="FAILED", end_time=start_time + 100)
        return run_id
    value = psds1(cell, seed)
    final = {"psds1": value, "psds2": value + 0.30, "collar_f1": value + 0.10, "intersection_f1": value + 0.2}
    if (cell, seed) == NO_COLLAR:
        del final["collar_f1"]
    metrics += [Metric(key, v, start_time + LAST_EPOCH, LAST_EPOCH) for key, v in final.items()]
    client.log_batch(run_id, metrics=metrics, params=params)
    client.set_terminated(run_id, status="FINISHED", end_time=start_time + 100)
    return run_id


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Create the store once for all report tests (SQLite store creation runs migrations: a few seconds)."""
    root = tmp_path_factory.mktemp("mlflow_store")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)

    experiment_id = client.create_experiment(STUDY, artifact_location=(root / "artifacts" / STUDY).as_uri())
    planned = [{"cell": cell, "seed": seed} for cell in PLANNED_ORDER for seed in SEEDS]
    parent_id = _parent(client, experiment_id, STUDY, planned, start_time=1_000)
    run_ids = {}
    start = 2_000
    for cell in PLANNED_ORDER:
        for seed in SEEDS:
            if (cell, seed) != MISSING:
                run_ids[(cell, seed)] = _trial(client, experiment_id, parent_id, STUDY, cell, seed, start)
                start += 1_000
    client.set_terminated(parent_id, status="FINISHED")

    other_id = client.create_experiment("other", artifact_location=(root / "artifacts" / "other").as_uri())
    other_parent = _parent(client, other_id, "other", [{"cell": CELL_A, "seed": 0}], start_time=1_000)
    _trial(client, other_id, other_parent, "other", CELL_A, 0, 2_000)

    dup_id = client.create_experiment("dup", artifact_location=(root / "artifacts" / "dup").as_uri())
    old_parent = _parent(client, dup_id, "dup", [{"cell": CELL_A, "seed": 0}], start_time=1_000)
    _trial(client, dup_id, old_parent, "dup", CELL_A, 0, 2_000)
    new_parent = _parent(client, dup_id, "dup", [{"cell": CELL_A, "seed": 1}], start_time=5_000)
    _trial(client, dup_id, new_parent, "dup", CELL_A, 1, 6_000)

    client.create_experiment("no_parent", artifact_location=(root / "artifacts" / "no_parent").as_uri())
    return Store(uri=uri, root=root, parent_run_id=parent_id, run_ids=run_ids)
