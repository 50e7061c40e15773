"""A fabricated MLflow SQLite store that follows the studies -> reports contract exactly.

Study `quickstart`: factors model.pooling x training.mixup.probability (2 x 2), seeds 0..2, metrics psds1, psds2,
collar_f1. Planted effect: psds1 = 0.30 + 0.10 [pooling=attention] + 0.05 [mixup=0.5] + (-0.02, 0, +0.02)[seed];
psds2 = psds1 + 0.30; collar_f1 = psds1 + 0.10. Seed 2 of cell B failed, seed 0 of cell C was never started,
seed 2 of cell D finished without logging collar_f1. Also in the store: study `other`, study `dup` with two parent
runs, and experiment `no_parent` without a parent run.

Study `ragged` (pooling attention/max/mean x mixup 0.5/0.0, seeds 0..3 planned): failed trials, a cell whose
trials all failed, a running trial, missing trials, uneven seeds, per-class metrics `psds1/class/<label>`,
PSD-ROC artifacts and frame-score artifacts for two cells. Study `planted` (pooling x mixup, 6 seeds, noise):
pooling=mean truly shifts psds1 by PLANTED_SHIFT, mixup has no effect. Study `solo`: no factors, seeds only.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

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
STEPS_PER_EPOCH = 66  # 10 epochs: 660 steps, fewer than the EMA's horizon of 1 / (1 - 0.999) = 1000 steps
TEACHER_SHARE = 0.2  # quickstart's teacher scores a fifth of its student: nearly untrained
# the shared recipe every fabricated trial logs (param texts as studies/ logs them)
RECIPE = {"preset": "quick", "training.optimizer.lr": "0.001", "data.batch.synthetic_train": "6",
          "data.batch.strong_train": "3", "data.batch.weak_train": "6", "data.batch.unlabelled_train": "6",
          "data.clip_seconds": "5.0", "data.root": "data/synth/demo",
          "evaluation.selection_split": "synthetic_validation",
          "evaluation.selection_metric": "intersection_f1", "evaluation.test_split": "validation",
          "evaluation.report_model": "student", "training.ema_decay": "0.999",
          "training.steps_per_epoch": str(STEPS_PER_EPOCH)}


def psds1(cell: str, seed: int) -> float:
    pooling, mixup = LEVELS[cell]
    return 0.30 + 0.10 * (pooling == "attention") + 0.05 * (mixup == "0.5") + SEED_OFFSET[seed]


RAGGED_POOLING = ("attention", "max", "mean")
RAGGED_MIXUP = ("0.5", "0.0")
RAGGED_SEEDS = (0, 1, 2, 3)
RAGGED_LABELS = ("Cat", "Dog", "Speech")
# (pooling, mixup) -> {seed: status}; planned seeds without an entry were never started
RAGGED_TRIALS = {
    ("attention", "0.5"): {0: "FINISHED", 1: "FINISHED", 2: "FINISHED", 3: "FINISHED"},  # baseline
    ("attention", "0.0"): {0: "FINISHED", 1: "FINISHED", 2: "FINISHED", 3: "FAILED"},
    ("max", "0.5"): {0: "FAILED", 1: "FAILED", 2: "KILLED", 3: "FAILED"},  # no finished run at all
    ("max", "0.0"): {0: "FINISHED", 1: "FINISHED", 2: "RUNNING"},  # seed 3 missing
    ("mean", "0.5"): {0: "FINISHED"},  # seeds 1..3 missing: n = 1
    ("mean", "0.0"): {1: "FINISHED", 2: "FINISHED", 3: "FINISHED"},  # seed 0 missing
}
RAGGED_WITH_CURVES = (("attention", "0.5"), ("attention", "0.0"))
SCORE_CLIPS = ("clip_a", "clip_b", "clip_c", "clip_d")
PLANTED_SEEDS = tuple(range(6))
PLANTED_SHIFT = -0.04


def ragged_cell(pooling: str, mixup: str) -> str:
    return f"model.pooling={pooling}|training.mixup.probability={mixup}"


def ragged_psds1(pooling: str, mixup: str, seed: int) -> float:
    return 0.40 + {"attention": 0.05, "max": 0.0, "mean": -0.05}[pooling] + 0.01 * (mixup == "0.5") + 0.01 * seed


@dataclass(frozen=True)
class Store:
    uri: str
    root: Path
    parent_run_id: str
    run_ids: dict[tuple[str, int], str]
    ragged_run_ids: dict[tuple[str, int], str] = field(default_factory=dict)
    planted_values: dict[tuple[str, int], float] = field(default_factory=dict)


def _parent(client: MlflowClient, experiment_id: str, study: str, planned: list[dict], start_time: int, *,
            factors: list[str] = FACTORS, baseline: str = CELL_A, extra: Mapping[str, str] | None = None) -> str:
    tags = {"sedstudy.kind": "study", "sedstudy.study": study, "sedstudy.baseline_cell": baseline,
            "sedstudy.factors": json.dumps(factors), "sedstudy.metrics": json.dumps(METRICS),
            "sedstudy.planned_trials": json.dumps(planned), **(extra or {})}
    return client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=study).info.run_id


def write_trial(client: MlflowClient, experiment_id: str, parent_id: str, study: str, *, cell: str,
                levels: Mapping[str, str], seed: int, start_time: int, status: str, final: Mapping[str, float],
                failure: str | None = None, artifacts: Mapping[str, str] | None = None) -> str:
    """One trial run as studies/ writes it: tags, params, per-epoch history, final metrics, status."""
    tags = {"mlflow.parentRunId": parent_id, "sedstudy.kind": "trial", "sedstudy.study": study,
            "sedstudy.cell": cell, "sedstudy.seed": str(seed),
            "sedstudy.trial_id": hashlib.sha1(f"{cell}/{seed}".encode()).hexdigest()[:12]}
    tags.update({f"sedstudy.factor.{factor}": level for factor, level in levels.items()})
    run_id = client.create_run(experiment_id, start_time=start_time, tags=tags).info.run_id
    params = [Param(factor, level) for factor, level in levels.items()]
    params += [Param("seed", str(seed)), Param("training.epochs", str(LAST_EPOCH + 1))]
    params += [Param(key, value) for key, value in RECIPE.items() if key not in levels]
    epochs = LAST_EPOCH + 1 if status == "FINISHED" else 3
    metrics = [Metric(f"train/{name}", share / (epoch + 1) + 0.01 * seed, start_time + epoch, epoch)
               for epoch in range(epochs)
               for name, share in (("loss", 1.0), ("loss_strong", 0.5), ("loss_weak", 0.3), ("loss_consistency", 0.2))]
    metrics += [Metric("val/synthetic_validation/intersection_f1", 0.05 * epoch, start_time + epoch, epoch)
                for epoch in range(epochs)]
    metrics += [Metric(key, value, start_time + LAST_EPOCH, LAST_EPOCH) for key, value in final.items()]
    extra_tags = [RunTag("sedstudy.failure", failure)] if failure else []
    client.log_batch(run_id, metrics=metrics, params=params, tags=extra_tags)
    for path, text in (artifacts or {}).items():
        client.log_text(run_id, text, path)
    if status != "RUNNING":
        client.set_terminated(run_id, status=status, end_time=start_time + 100)
    return run_id


def _trial(client: MlflowClient, experiment_id: str, parent_id: str, study: str, cell: str, seed: int,
           start_time: int) -> str:
    levels = dict(zip(FACTORS, LEVELS[cell]))
    if (cell, seed) == FAILED:
        run_id = write_trial(client, experiment_id, parent_id, study, cell=cell, levels=levels, seed=seed,
                             start_time=start_time, status="FAILED", final={}, failure="CUDA out of memory")
        return run_id
    value = psds1(cell, seed)
    final = {"psds1": value, "psds2": value + 0.30, "collar_f1": value + 0.10, "intersection_f1": value + 0.2}
    if (cell, seed) == NO_COLLAR:
        del final["collar_f1"]
    final.update({f"student/{key}": v for key, v in list(final.items())})
    final.update({f"teacher/{key}": TEACHER_SHARE * v for key, v in list(final.items()) if "/" not in key})
    final["best_epoch"] = float(LAST_EPOCH - seed)
    return write_trial(client, experiment_id, parent_id, study, cell=cell, levels=levels, seed=seed,
                       start_time=start_time, status="FINISHED", final=final)


def _psd_roc(seed: int) -> str:
    points = [(0.0, 0.0), (10.0, 0.2 + 0.01 * seed), (40.0, 0.5), (100.0, 0.6)]
    return "efpr\ttpr\n" + "".join(f"{x}\t{y}\n" for x, y in points)


def _scores(pooling: str, seed: int, clip: str) -> str:
    """A sed_scores_eval score file: onset, offset, one column per class; cell attention/0.0 scores Dog higher."""
    boost = 0.2 if pooling == "attention" else 0.0
    base = 0.1 * SCORE_CLIPS.index(clip) + 0.01 * seed
    return ("onset\toffset\tCat\tDog\n" + f"0.0\t0.5\t{base:.3f}\t{base + boost:.3f}\n"
            + f"0.5\t1.0\t{base + 0.05:.3f}\t{base + 0.05 + boost:.3f}\n")


def _ragged(client: MlflowClient, root: Path) -> dict[tuple[str, int], str]:
    experiment_id = client.create_experiment("ragged", artifact_location=(root / "artifacts" / "ragged").as_uri())
    factors = ["model.pooling", "training.mixup.probability"]
    cells = [(pooling, mixup) for pooling in RAGGED_POOLING for mixup in RAGGED_MIXUP]
    planned = [{"cell": ragged_cell(*cell), "seed": seed} for cell in cells for seed in RAGGED_SEEDS]
    parent_id = _parent(client, experiment_id, "ragged", planned, 1_000, factors=factors,
                        baseline=ragged_cell("attention", "0.5"),
                        extra={"sedstudy.objective": json.dumps({"metric": "psds1", "mode": "max"})})
    run_ids = {}
    start = 2_000
    for pooling, mixup in cells:
        for seed, status in RAGGED_TRIALS[(pooling, mixup)].items():
            final: dict[str, float] = {}
            artifacts: dict[str, str] = {}
            if status == "FINISHED":
                value = ragged_psds1(pooling, mixup, seed)
                final = {"psds1": value, "psds2": value + 0.2, "collar_f1": value + 0.1}
                final.update({f"psds1/class/{label}": value + 0.1 * k - 0.1
                              for k, label in enumerate(RAGGED_LABELS)})
                if (pooling, mixup) in RAGGED_WITH_CURVES:
                    artifacts["psd_roc/psds1.tsv"] = _psd_roc(seed)
                    if seed < 3:
                        artifacts.update({f"scores/validation/{clip}.tsv": _scores(pooling if mixup == "0.0"
                                                                                    else "other", seed, clip)
                                          for clip in SCORE_CLIPS})
            cell = ragged_cell(pooling, mixup)
            run_ids[(cell, seed)] = write_trial(
                client, experiment_id, parent_id, "ragged", cell=cell, levels=dict(zip(factors, (pooling, mixup))),
                seed=seed, start_time=start, status=status, final=final, artifacts=artifacts,
                failure="ValueError: NaN loss" if status in ("FAILED", "KILLED") else None)
            start += 1_000
    client.set_terminated(parent_id, status="FINISHED")
    return run_ids


def _planted(client: MlflowClient, root: Path) -> dict[tuple[str, int], float]:
    experiment_id = client.create_experiment("planted", artifact_location=(root / "artifacts" / "planted").as_uri())
    planned = [{"cell": cell, "seed": seed} for cell in PLANNED_ORDER for seed in PLANTED_SEEDS]
    parent_id = _parent(client, experiment_id, "planted", planned, 1_000)
    rng = np.random.default_rng(7)
    seed_effect = rng.normal(0.0, 0.01, len(PLANTED_SEEDS))
    values = {}
    start = 2_000
    for cell in PLANNED_ORDER:
        pooling, _ = LEVELS[cell]
        for seed in PLANTED_SEEDS:
            value = 0.40 + PLANTED_SHIFT * (pooling == "mean") + seed_effect[seed] + rng.normal(0.0, 0.01)
            values[(cell, seed)] = value
            write_trial(client, experiment_id, parent_id, "planted", cell=cell, levels=dict(zip(FACTORS, LEVELS[cell])),
                        seed=seed, start_time=start, status="FINISHED",
                        final={"psds1": value, "psds2": value + 0.3, "collar_f1": value + 0.1})
            start += 1_000
    client.set_terminated(parent_id, status="FINISHED")
    return values


def _solo(client: MlflowClient, root: Path) -> None:
    experiment_id = client.create_experiment("solo", artifact_location=(root / "artifacts" / "solo").as_uri())
    parent_id = _parent(client, experiment_id, "solo", [{"cell": "", "seed": seed} for seed in (1, 2, 3)], 1_000,
                        factors=[], baseline="")
    for seed in (1, 2):
        write_trial(client, experiment_id, parent_id, "solo", cell="", levels={}, seed=seed, start_time=2_000 + seed,
                    status="FINISHED", final={"psds1": 0.3 + 0.01 * seed, "psds2": 0.5, "collar_f1": 0.4})
    client.set_terminated(parent_id, status="FINISHED")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Create the store once for all report tests (SQLite store creation runs migrations: a few seconds)."""
    root = tmp_path_factory.mktemp("mlflow_store")
    uri = f"sqlite:///{root}/mlflow.db"
    event.listen(Engine, "connect", _no_sync)
    try:
        return _fill(uri, root)
    finally:
        event.remove(Engine, "connect", _no_sync)


def _no_sync(connection: object, record: object) -> None:
    """Skip fsync while the fixture writes (a throwaway store): a third of the fixture's time otherwise."""
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _fill(uri: str, root: Path) -> Store:
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
    ragged_run_ids = _ragged(client, root)
    planted_values = _planted(client, root)
    _solo(client, root)
    return Store(uri=uri, root=root, parent_run_id=parent_id, run_ids=run_ids, ragged_run_ids=ragged_run_ids,
                 planted_values=planted_values)


UI_BASE = "http://mlflow.example:5000"


@pytest.fixture(scope="session")
def ragged_report(store: Store, tmp_path_factory: pytest.TempPathFactory):
    """The full report of the ragged study (failed, running, missing trials, uneven seeds), built once."""
    from reports.build import build_report

    return build_report(store.uri, "ragged", tmp_path_factory.mktemp("ragged_report"), ui_base=UI_BASE,
                        clip_statistic=mean_dog_score, clip_resamples=50)


def mean_dog_score(frame) -> float:
    """A clip-set statistic for the bootstrap over clips: the mean Dog score over all frames."""
    return float(frame["Dog"].mean())
