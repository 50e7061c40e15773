"""MLflow records of a study: one experiment, one parent run, one child run per trial (re-attached by trial id)."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from search_spaces.factors import level_text
from sed_core.config.loading import flatten
from studies.definition import Study, Trial, config_hash
from studies.provenance import code_version

logger = logging.getLogger(__name__)

KIND, STUDY, CELL, SEED, TRIAL_ID = "sedstudy.kind", "sedstudy.study", "sedstudy.cell", "sedstudy.seed", "sedstudy.trial_id"
PARENT = "mlflow.parentRunId"
MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 8000
PLANNED_ARTIFACT = "planned_trials.json"


def default_tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


class StudyTracker:
    """The only writer of a study's MLflow records."""

    def __init__(self, tracking_uri: str, study: Study, artifact_root: Path | None = None,
                 launch: Mapping[str, str] | None = None) -> None:
        self.client = MlflowClient(tracking_uri)
        self.tracking_uri = tracking_uri
        self.study = study
        experiment = self.client.get_experiment_by_name(study.name)
        if experiment is None:
            # a local store keeps artifacts beside it; a tracking server decides where its artifacts go
            local = not tracking_uri.startswith(("http://", "https://"))
            location = artifact_root.resolve().as_uri() + f"/{study.name}" if artifact_root and local else None
            self.experiment_id = self.client.create_experiment(study.name, artifact_location=location)
        else:
            self.experiment_id = experiment.experiment_id
        self.launch = dict(launch or {})
        self.parent_run_id = self._parent_run()
        self._runs: dict[str, str] = {}
        self._logged_epochs: dict[str, set[int]] = {}  # re-attached runs: epochs already in the store

    def __getstate__(self) -> dict:
        # Ray pickles callbacks with the experiment state; a client is rebuilt from the URI
        state = dict(self.__dict__)
        state.pop("client")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.client = MlflowClient(self.tracking_uri)

    def _parent_run(self) -> str:
        runs = self.client.search_runs([self.experiment_id], f"tags.`{KIND}` = 'study'", max_results=1,
                                       order_by=["attributes.start_time DESC"])
        if runs:
            run_id = runs[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
        else:
            run_id = self.client.create_run(self.experiment_id, run_name=self.study.name,
                                            tags={KIND: "study", STUDY: self.study.name}).info.run_id
        study = self.study
        tags = {
            "sedstudy.baseline_cell": study.baseline.id,
            "sedstudy.factors": json.dumps(list(study.space.names)),
            "sedstudy.metrics": json.dumps(study.spec.metrics),
            "sedstudy.objective": json.dumps(study.spec.objective.model_dump()),
            "sedstudy.cells": json.dumps([c.id for c in study.cells]),
            "sedstudy.seeds": json.dumps(study.spec.seeds),
            **{f"sedstudy.launch.{k}": v for k, v in self.launch.items()},
            **code_version(),
        }
        planned = [{"cell": t.cell.id, "seed": t.seed} for t in study.trials]
        self.client.log_dict(run_id, planned, PLANNED_ARTIFACT)
        if len(json.dumps(planned)) <= MAX_TAG_CHARS:  # large designs keep only the artifact
            tags["sedstudy.planned_trials"] = json.dumps(planned)
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self.client.log_text(run_id, study.source.read_text(encoding="utf-8"), "study.yaml")
        return run_id

    def finished_trial_ids(self) -> set[str]:
        """Trial ids that already have a FINISHED child run: these are never run again."""
        done: set[str] = set()
        page_token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], f"tags.`{PARENT}` = '{self.parent_run_id}' and attributes.status = 'FINISHED'",
                max_results=1000, page_token=page_token)
            done.update(r.data.tags.get(TRIAL_ID, "") for r in page)
            page_token = page.token
            if not page_token:
                return done

    def start_trial(self, trial: Trial) -> str:
        """The child run of ``trial``: re-attached if one exists (unfinished), else created with params and tags."""
        existing = self.client.search_runs(
            [self.experiment_id], f"tags.`{PARENT}` = '{self.parent_run_id}' and tags.`{TRIAL_ID}` = '{trial.trial_id}'",
            max_results=1)
        if existing:
            run_id = existing[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            self._logged_epochs[trial.trial_id] = {m.step for m in self.client.get_metric_history(run_id, "epoch")}
        else:
            tags = {PARENT: self.parent_run_id, KIND: "trial", STUDY: self.study.name, CELL: trial.cell.id,
                    SEED: str(trial.seed), TRIAL_ID: trial.trial_id, "sedstudy.config_hash": config_hash(trial.config),
                    **code_version()}
            tags.update({f"sedstudy.factor.{name}": level_text(value) for name, value in trial.cell.levels})
            run_id = self.client.create_run(self.experiment_id, run_name=f"{trial.cell.id} seed={trial.seed}",
                                            tags=tags).info.run_id
            params = [Param(k, level_text(v)[:MAX_PARAM_CHARS]) for k, v in sorted(flatten(trial.config).items())
                      if k != "output_dir"]
            for i in range(0, len(params), 100):
                self.client.log_batch(run_id, params=params[i:i + 100])
            self.client.log_dict(run_id, trial.config.model_dump(mode="json"), "config.json")
        self._runs[trial.trial_id] = run_id
        return run_id

    def log_metrics(self, trial: Trial, metrics: Mapping[str, float], step: int) -> None:
        """Log one report; an epoch a resumed trial replays that the store already holds is not logged twice."""
        if "epoch" in metrics:
            logged = self._logged_epochs.setdefault(trial.trial_id, set())
            if step in logged:
                return
            logged.add(step)
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for i in range(0, len(batch), 500):
            self.client.log_batch(self._runs[trial.trial_id], metrics=batch[i:i + 500])

    def log_artifact(self, trial: Trial, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self._runs[trial.trial_id], str(path), artifact_path)

    def log_artifacts(self, trial: Trial, directory: Path, artifact_path: str) -> None:
        self.client.log_artifacts(self._runs[trial.trial_id], str(directory), artifact_path)

    def set_tag(self, trial: Trial, key: str, value: str) -> None:
        self.client.set_tag(self._runs[trial.trial_id], key, value)

    def note_retry(self, trial: Trial, reason: str) -> None:
        """A failed attempt that Tune retries: counted and explained on the run, which stays RUNNING."""
        run_id = self._runs[trial.trial_id]
        attempts = int(self.client.get_run(run_id).data.tags.get("sedstudy.retries", "0")) + 1
        self.client.set_tag(run_id, "sedstudy.retries", str(attempts))
        self.client.set_tag(run_id, f"sedstudy.retry.{attempts}", reason[:5000])

    def end_trial(self, trial: Trial, *, failure: str | None = None) -> None:
        run_id = self._runs[trial.trial_id]
        if failure is not None:
            self.client.set_tag(run_id, "sedstudy.failure", failure[:5000])
        self.client.set_terminated(run_id, "FAILED" if failure is not None else "FINISHED")

    def end_study(self) -> None:
        self.client.set_terminated(self.parent_run_id, "FINISHED")


def log_report(tracking_uri: str, study: str, files: list[Path]) -> None:
    """Attach the built report to the study's parent run (artifact folder ``report/``)."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return
    parents = client.search_runs([experiment.experiment_id], f"tags.`{KIND}` = 'study'", max_results=1,
                                 order_by=["attributes.start_time DESC"])
    for path in files:
        if parents and Path(path).is_file():
            client.log_artifact(parents[0].info.run_id, str(path), "report")
