"""``sedstudy evaluate``: rescore the stored checkpoints of a study's trials (or of one run) on another split and
log the results to the same MLflow runs, without retraining.

Per run: metrics `eval/<split>/<metric>` (as the trainer's final metrics: the reported model's plain names,
`student/*`, `teacher/*`, `psds1/class/<label>`, `psds2/class/<label>`), artifacts `scores/<split>/`,
`psd_roc/<split>/`, `reference/<split>/`, and the tag `sedstudy.eval.<split>` (JSON: data_root, n_clips,
checkpoint_epoch, model). `eval/<split>/psds1` is logged last: a run that has it is complete and is skipped
unless forced. The run's status is left as it was.
"""
from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Metric, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from reports.contract import (
    CELL_TAG,
    CHECKPOINT_ARTIFACT_DIR,
    CONFIG_ARTIFACT,
    SEED_TAG,
    TRIAL_KIND,
    children_filter,
    eval_metric,
    eval_tag,
    find_study_parent,
    iter_runs,
)
from sed_core.config import ExperimentConfig, config_from_dict
from sed_core.data.dataset import ClipDataset
from sed_core.errors import CheckpointError, SedStudyError
from sed_core.inference import (
    check_eval_split,
    open_eval_split,
    read_checkpoint,
    rescore,
)
from sed_core.training.trainer import BEST_FILE
from studies.study_ref import unknown_study
from studies.tracking import open_client

CHECKPOINT_ARTIFACT = f"{CHECKPOINT_ARTIFACT_DIR}/{BEST_FILE}"
MAX_METRICS_PER_BATCH = 1000  # MLflow's limit of one log_batch call


@dataclass(frozen=True)
class RunEval:
    """One run's evaluation on the split: its values, or ``skipped`` when the store already had them."""

    run_id: str
    cell: str
    seed: str
    psds1: float | None
    psds2: float | None
    skipped: bool = False


@dataclass(frozen=True)
class _Checked:
    run: Run
    config: ExperimentConfig
    data_root: Path
    dataset: ClipDataset


def find_runs(client: MlflowClient, target: str, tracking_uri: str) -> list[Run]:
    """Every FINISHED trial run of study ``target``'s parent run, or the run whose id is ``target``."""
    experiment = client.get_experiment_by_name(target)
    if experiment is not None:
        parent = find_study_parent(client, experiment.experiment_id, target)
        if parent is None:
            raise SedStudyError(f"study {target!r} in {tracking_uri} has no parent run; was it started by sedstudy?")
        query = f"{children_filter(parent.info.run_id, TRIAL_KIND)} and attributes.status = 'FINISHED'"
        runs = list(iter_runs(client, [experiment.experiment_id], query))
        if not runs:
            raise SedStudyError(f"study {target!r} has no finished trial runs yet; see `sedstudy status {target}`")
        return sorted(runs, key=lambda r: (r.data.tags.get(CELL_TAG, ""), r.data.tags.get(SEED_TAG, "")))
    if re.fullmatch(r"[0-9a-f]{32}", target):
        with contextlib.suppress(MlflowException):  # not a run id of this store: the error below says what to give
            return [client.get_run(target)]
    raise unknown_study(target, tracking_uri, client, what="study or run")


def _describe(run: Run) -> str:
    tags = run.data.tags
    return f"run {run.info.run_id} ({tags.get(CELL_TAG, run.info.run_name)} seed={tags.get(SEED_TAG, '?')})"


def check_run(client: MlflowClient, run: Run, split: str, data_root: Path | None) -> _Checked:
    """The run's config, checkpoint and split are all in place; else an error naming the run and the fix."""
    run_id = run.info.run_id
    top = {a.path for a in client.list_artifacts(run_id)}
    if CONFIG_ARTIFACT not in top:
        raise SedStudyError(f"{_describe(run)}: no artifact {CONFIG_ARTIFACT}; only trial runs recorded by "
                            f"`sedstudy run` can be re-evaluated")
    if CHECKPOINT_ARTIFACT not in {a.path for a in client.list_artifacts(run_id, CHECKPOINT_ARTIFACT_DIR)}:
        raise SedStudyError(f"{_describe(run)}: no artifact {CHECKPOINT_ARTIFACT}; the trial's checkpoint was not "
                            f"stored: delete the run and rerun its trial (`sedstudy resume STUDY`), or leave it out "
                            f"by evaluating the other runs by id")
    with tempfile.TemporaryDirectory() as tmp:
        raw = json.loads(Path(client.download_artifacts(run_id, CONFIG_ARTIFACT, tmp)).read_text(encoding="utf-8"))
    config = config_from_dict(raw, source=f"{_describe(run)} {CONFIG_ARTIFACT}", recorded=True)
    root = Path(data_root) if data_root is not None else Path(config.data.root)
    if split == config.evaluation.test_split and root.resolve() != Path(config.data.root).resolve():
        raise SedStudyError(f"{_describe(run)}: {split!r} is the run's own test split, whose stored scores/{split}/ "
                            f"and reference/{split}/ (read by reports) come from {config.data.root}; scoring it "
                            f"from {root} would overwrite them: copy the data into a split of another name, or "
                            f"leave out --data-root")
    try:
        dataset = open_eval_split(config, split, root)
    except SedStudyError as err:
        where = "--data-root" if data_root is not None else "the run's data.root"
        raise SedStudyError(f"{_describe(run)}: cannot read split {split!r} from {where}: {err}; pass "
                            f"--data-root with the DESED-layout dataset the split is in") from None
    return _Checked(run, config, root, dataset)


def reevaluate(tracking_uri: str, target: str, split: str, *, data_root: Path | None = None, force: bool = False,
               on_run: Callable[[RunEval], None] | None = None) -> list[RunEval]:
    """Rescore the best checkpoint of each run of ``target`` (study name or run id) on ``split`` and log it.

    Runs that already have `eval/<split>/psds1` are skipped unless ``force``. Every run to evaluate is checked
    (config, checkpoint, split) before any is scored. ``on_run`` hears of each run as it is done or skipped.
    """
    check_eval_split(split)
    client = open_client(tracking_uri)
    marker = eval_metric(split, "psds1")
    results: list[RunEval] = []
    todo = []
    for run in find_runs(client, target, tracking_uri):
        if marker in run.data.metrics and not force:
            done = RunEval(run.info.run_id, run.data.tags.get(CELL_TAG, run.info.run_name),
                           run.data.tags.get(SEED_TAG, "?"), run.data.metrics[marker],
                           run.data.metrics.get(eval_metric(split, "psds2")), skipped=True)
            results.append(done)
            if on_run:
                on_run(done)
        else:
            todo.append(run)
    checked = [check_run(client, run, split, data_root) for run in todo]
    for item in checked:
        done = _evaluate_run(client, item, split)
        results.append(done)
        if on_run:
            on_run(done)
    return results


def _evaluate_run(client: MlflowClient, item: _Checked, split: str) -> RunEval:
    run_id = item.run.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(run_id, CHECKPOINT_ARTIFACT, tmp))
        try:
            checkpoint = read_checkpoint(local)
        except CheckpointError as err:  # the downloaded copy's path is gone when this is read: name the artifact
            where = f"run {run_id} ({item.run.info.run_name}), artifact {CHECKPOINT_ARTIFACT}"
            raise CheckpointError(str(err).replace(str(local), where, 1) + "; the trial must be run again to "
                                  "rescore it (delete its run, then sedstudy resume)") from None
        result = rescore(item.config, checkpoint, item.dataset, Path(tmp) / "out")
        client.log_artifacts(run_id, str(result.out_dir))  # scores/<split>/, psd_roc/<split>/, reference/<split>/
    info = {"data_root": str(item.data_root),
            "n_clips": result.n_clips, "checkpoint_epoch": result.checkpoint_epoch, "model": result.report_model}
    client.set_tag(run_id, eval_tag(split), json.dumps(info, sort_keys=True))
    marker = eval_metric(split, "psds1")
    now = int(time.time() * 1000)
    metrics = [Metric(eval_metric(split, k), v, now, result.checkpoint_epoch) for k, v in result.metrics.items()]
    metrics.sort(key=lambda m: m.key == marker)  # the marker last: a run that has it has everything
    for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])
    tags = item.run.data.tags
    return RunEval(run_id, tags.get(CELL_TAG, item.run.info.run_name), tags.get(SEED_TAG, "?"), result.metrics["psds1"],
                   result.metrics["psds2"])

