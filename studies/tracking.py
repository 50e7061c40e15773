"""MLflow records of a study: one experiment, one parent run, one child run per trial (re-attached by trial id)."""
from __future__ import annotations

import fcntl
import functools
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from reports.contract import (
    ANALYSIS_AMENDED_TAG,
    ANALYSIS_TAG,
    BASELINE_CELL_TAG,
    BEST_CELL_TAG,
    CELL_TAG,
    CELLS_TAG,
    CONFIG_ARTIFACT,
    CONFIG_HASH_TAG,
    DISPLAY_ARTIFACT,
    DISPLAY_TAG,
    ENVIRONMENT_ARTIFACT,
    ENVIRONMENT_TAG,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    FACTOR_TAG_PREFIX,
    FACTORS_TAG,
    FAILURE_TAG,
    HEARTBEAT_EVERY_TAG,
    HEARTBEAT_TAG,
    INTERRUPTED_TAG,
    KIND_TAG,
    LEGACY_TRIAL_ID_TAG,
    METRICS_TAG,
    OBJECTIVE_TAG,
    PARENT_TAG,
    PLANNED_TRIALS_ARTIFACT,
    PLANNED_TRIALS_TAG,
    PROVENANCE_ARTIFACT,
    RAY_NODE_TAG,
    REPORT_ARTIFACT_DIR,
    RETRIES_TAG,
    SEED_TAG,
    SEEDS_TAG,
    SEQUENTIAL_SEEDS_TAG,
    STUDY_KIND,
    STUDY_TAG,
    STUDY_YAML_ARTIFACT,
    TRIAL_ID_TAG,
    TRIAL_KIND,
    TUNE_BEST_TAG,
    TUNE_INTERRUPTED_TAG,
    TUNE_KIND,
    TUNE_PARAMS_TAG,
    TUNE_SAMPLE_TAG,
    TUNED_CELLS_TAG,
    TUNING_TAG,
    children_filter,
    find_study_parent,
    iter_runs,
    launch_tag,
    retry_tag,
)
from reports.fetch.records import TrialRecord, Wanted
from reports.fetch.trial_source import database_of, read_trials
from search_spaces.factors import level_text
from sed_core.config.loading import flatten
from sed_core.config.schema import ExperimentConfig
from studies.cost import PREFIX as COST_PREFIX
from studies.definition import Sample, Study, Trial
from studies.heartbeat import beat_text
from studies.provenance import RunProvenance, code_version, environment_text
from studies.study_summary import run_state, study_summary
from studies.tracking_outage import Journal, Outage, PatientClient, TrackingUnreachable
from studies.trial_identity import config_hash, legacy_trial_identity
from studies.write_lanes import WriteLanes

logger = logging.getLogger(__name__)

MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 8000  # longer tag values are cut; the JSON lists of the parent run are left to their artifacts
SUMMARY_EVERY_S = 60.0  # the parent run's summary is refreshed at most this often while trials end
SUMMARY_SHARE = 0.05  # ... and at most this share of the time (it reads every trial run of the study)


def open_client(tracking_uri: str) -> MlflowClient:
    """An MlflowClient whose store is open. Opening a SQLite store creates or migrates its tables, and two
    processes doing it at once (a study starting while `sedstudy status` or another study opens the same file)
    break each other's migrations; so a SQLite store is first opened under an exclusive lock on `<file>.lock`."""
    database = make_url(tracking_uri).database if tracking_uri.startswith("sqlite:") else None
    if not database or database == ":memory:":
        return MlflowClient(tracking_uri)
    with open(f"{database}.lock", "a") as lock:  # closing the file releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = MlflowClient(tracking_uri)
        client.search_experiments(max_results=1)  # the store is created or migrated by now
    return client


def default_tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


def journal_path(workdir: Path, study: str) -> Path:
    """Where a study keeps the records its tracking server did not take (studies/tracking_outage.py)."""
    return workdir / "tracking_journal" / f"{study}.jsonl"


def journaled(method: Callable) -> Callable:
    """A write of a trial's records. Made in the background when the tracker writes there (``background_writes``:
    queued on the trial's lane, in order, and None returned). It outlives a tracking outage: its calls wait for
    the server (``PatientClient``); once the study gave up waiting, the write is kept in the journal whole, for
    ``sedstudy resume`` to make, instead of being made (or half made). A write inside another is part of that one."""
    stamped = "at_ms" in inspect.signature(method).parameters  # a metric's time is fixed once, so a replay equals it

    @functools.wraps(method)
    def write(self: StudyTracker, item: Trial | Sample, *args, **kwargs):
        if stamped and kwargs.get("at_ms") is None:
            kwargs["at_ms"] = int(time.time() * 1000)
        if self._lanes is not None and not self._lanes.on_lane:
            self._lanes.submit(item.key, functools.partial(write, self, item, *args, **kwargs))
            return None
        if getattr(self._local, "writing", False):
            return method(self, item, *args, **kwargs)
        if self.outage.gave_up and self.journal is not None:
            self.journal.append(method.__name__, item, args, kwargs)
            return None
        self._local.writing = True
        try:
            return method(self, item, *args, **kwargs)
        except TrackingUnreachable:
            if self.journal is None:
                raise
            self.journal.append(method.__name__, item, args, kwargs)
            return None
        finally:
            self._local.writing = False

    return write


def write_lanes_for(tracking_uri: str) -> int:
    """Background write lanes for a store: a tracking server takes writes side by side; SQLite makes them one at a
    time (and a second writer waits on its lock), so it gets one lane, which still takes them off Tune's loop."""
    return 4 if tracking_uri.startswith(("http://", "https://")) else 1


RUNTIME_STATE = {"client", "_direct", "_local", "_lanes", "_runs", "_ended", "_kinds", "_logged_epochs",
                 "_logged_keys", "_failed_writes", "_existing", "_read", "_summary_lock"}
IDENTITY_TAGS = (KIND_TAG, TRIAL_ID_TAG, CELL_TAG, SEED_TAG)


class StudyTracker:
    """The only writer of a study's MLflow records."""

    def __init__(self, tracking_uri: str, study: Study, artifact_root: Path | None = None,
                 launch: Mapping[str, str] | None = None,
                 provenance: Callable[[ExperimentConfig], RunProvenance] | None = None,
                 journal: Path | None = None, database_uri: str | None = None) -> None:
        """``journal``: where the records a tracking server did not take are kept (``journal_path``), and written
        from first; without one, a write the server does not take within ``failures.tracking_outage_s`` raises.
        ``database_uri``: a tracking server's backend store, from which the study's trial runs are read (column by
        column, reports.fetch.trial_source.read_trials); default $SEDSTUDY_DATABASE_URI."""
        self.outage = Outage(tracking_uri, study.spec.failures.tracking_outage_s)
        self.journal = Journal(journal) if journal is not None else None
        self._local = threading.local()  # .writing: inside a journaled write, in this thread
        self._lanes: WriteLanes | None = None
        self._failed_writes: list[BaseException] = []  # what the lanes could not write, once they stopped
        self._direct = open_client(tracking_uri)  # the heartbeat's: a beat that fails is skipped, never waited for
        self.client = PatientClient(self._direct, self.outage)
        self.tracking_uri = tracking_uri
        self.database = database_of(tracking_uri, database_uri)
        self.study = study
        experiment = self.client.get_experiment_by_name(study.name)
        if experiment is None:
            # a local store keeps artifacts beside it; a tracking server decides where its artifacts go
            local = not tracking_uri.startswith(("http://", "https://"))
            location = artifact_root.resolve().as_uri() + f"/{study.name}" if artifact_root and local else None
            self.experiment_id = self.client.create_experiment(study.name, artifact_location=location,
                                                               tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
        else:
            self.experiment_id = experiment.experiment_id
            if EXPERIMENT_KIND_TAG not in experiment.tags:  # a store made before the tag: the UI lands on runs too
                self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        self.launch = dict(launch or {})
        self.provenance = provenance
        self.parent_run_id = self._parent_run()
        self._runs: dict[str, str] = {}
        self._ended: set[str] = set()  # keys whose run this launch closed (end_trial)
        self._logged_epochs: dict[str, set[int]] = {}  # re-attached runs: epochs already in the store
        self._logged_keys: dict[str, set[str]] = {}  # re-attached runs: metric keys already in the store
        self._summary_at = 0.0  # time.monotonic() of the last summary written to the parent run
        self._kinds: dict[str, str] = {}  # key -> TRIAL_KIND or TUNE_KIND of the runs this launch opened
        self._existing: dict[str, str] | None = None  # trial id -> its run, as finished_trial_ids read them
        self._read: list[TrialRecord] | None = None  # the trial runs adopt_legacy_trial_ids read, for the next read
        self._summary_s = 0.0  # how long the last summary took
        self._summary_lock = threading.Lock()  # one summary at a time, whichever lane's trial ended
        self.replayed = self._replay_journal()

    def __getstate__(self) -> dict:
        # Ray pickles callbacks with the experiment state; a client is rebuilt from the URI
        # (and Tune never restores a study: a resume starts a new launch), so lanes, threads and the per-run
        # bookkeeping their threads change while this is pickled are left out
        state = {k: v for k, v in self.__dict__.items() if k not in RUNTIME_STATE}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local, self._lanes, self._failed_writes = threading.local(), None, []
        self._runs, self._ended, self._kinds, self._logged_epochs, self._logged_keys = {}, set(), {}, {}, {}
        self._existing = self._read = None
        self._direct = MlflowClient(self.tracking_uri)
        self.client = PatientClient(self._direct, self.outage)
        self._summary_at = 0.0  # another process's monotonic clock
        self._summary_lock = threading.Lock()

    def _replay_journal(self) -> int:
        """Make the writes an earlier launch kept when its tracking server stopped answering, in their order;
        returns how many. Should the server stop answering again, the rest go back to the journal."""
        if self.journal is None:
            return 0
        entries = self.journal.take(self.study)
        for method, item, args, kwargs in entries:
            getattr(self, method)(item, *args, **kwargs)
        if entries:
            logger.warning("study %s: wrote the %d record(s) kept in %s while its tracking server did not answer",
                           self.study.name, len(entries), self.journal.path)
        self.raise_if_unavailable()
        return len(entries)

    def start_background_writes(self, lanes: int) -> None:
        """From now on trial writes are queued on ``lanes`` threads (studies/write_lanes.py), off Tune's loop."""
        if self._lanes is None:
            self._lanes = WriteLanes(lanes)

    def flush(self) -> None:
        """Wait until every queued write is made (or journaled); raises a write that failed."""
        if self._lanes is not None:
            self._lanes.flush()

    def stop_background_writes(self) -> None:
        """Make what is queued and write in the caller's thread again; a failed write is raised by ``flush``."""
        lanes, self._lanes = self._lanes, None
        if lanes is not None:
            lanes.close()
            self._failed_writes = lanes.failed

    def raise_failed_writes(self) -> None:
        if self._failed_writes:
            raise self._failed_writes[0]

    def raise_if_unavailable(self) -> None:
        """Raise ``TrackingUnavailable`` (the study stops, exit 69) once the study gave up on its tracking server."""
        if self.outage.gave_up:
            raise self.outage.stopped(self.journal)

    def _parent_run(self) -> str:
        parent = find_study_parent(self.client, self.experiment_id, self.study.name)
        amended: dict[str, str] = {}
        if parent is not None:
            run_id = parent.info.run_id
            if INTERRUPTED_TAG in parent.data.tags:
                self.client.delete_tag(run_id, INTERRUPTED_TAG)
            self.client.update_run(run_id, status="RUNNING")
            amended = self._plan_amendment(parent)
        else:
            run_id = self.client.create_run(self.experiment_id, run_name=self.study.name,
                                            tags={KIND_TAG: STUDY_KIND, STUDY_TAG: self.study.name}).info.run_id
        study = self.study
        tags = {
            BASELINE_CELL_TAG: study.baseline.id,
            FACTORS_TAG: json.dumps(list(study.space.names)),
            METRICS_TAG: json.dumps(study.spec.metrics),
            OBJECTIVE_TAG: json.dumps(study.spec.objective.model_dump()),
            ANALYSIS_TAG: study.spec.analysis.record(),
            CELLS_TAG: json.dumps([c.id for c in study.cells]),
            SEEDS_TAG: json.dumps(study.spec.seed_values),
            **({SEQUENTIAL_SEEDS_TAG: study.spec.sequential.record()} if study.spec.sequential else {}),
            **{launch_tag(k): v for k, v in self.launch.items()},
            **code_version(),
            **amended,
        }
        if study.spec.tuning is not None:
            tags[TUNING_TAG] = json.dumps(study.spec.tuning.model_dump(mode="json", exclude_none=False))
            tags[TUNED_CELLS_TAG] = json.dumps({c.id: study.tuning_metric(c) for c in study.tuned_cells})
        adaptive = study.spec.sequential  # plans its first look here, each later look when it decides to take it
        first_look = set(adaptive.seeds[:adaptive.initial]) if adaptive else set(study.spec.seed_values)
        planned = [{"cell": t.cell.id, "seed": t.seed} for t in study.trials if t.seed in first_look]
        self.client.log_dict(run_id, planned, PLANNED_TRIALS_ARTIFACT)
        if len(json.dumps(planned)) <= MAX_TAG_CHARS:  # large designs keep only the artifact
            tags[PLANNED_TRIALS_TAG] = json.dumps(planned)
        display = study.display_record()
        self.client.log_dict(run_id, display, DISPLAY_ARTIFACT)
        if len(json.dumps(display)) <= MAX_TAG_CHARS:
            tags[DISPLAY_TAG] = json.dumps(display)
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self.client.log_text(run_id, study.source.read_text(encoding="utf-8"), STUDY_YAML_ARTIFACT)
        return run_id

    def _plan_amendment(self, parent: Run) -> dict[str, str]:
        """The amendments tag with the recorded plan appended, when this launch declares another plan and trials
        have finished under the recorded one (a plan changed after results is no longer declared before them);
        else nothing. The first plan is never lost."""
        recorded = parent.data.tags.get(ANALYSIS_TAG)
        if recorded is None or json.loads(recorded) == json.loads(self.study.spec.analysis.record()):
            return {}
        query = children_filter(parent.info.run_id, TRIAL_KIND) + " and attributes.status = 'FINISHED'"
        finished = sum(1 for _ in iter_runs(self.client, [self.experiment_id], query))
        if not finished:
            return {}
        history = json.loads(parent.data.tags.get(ANALYSIS_AMENDED_TAG, "[]"))
        history.append({"previous": json.loads(recorded), "finished_trials": finished})
        logger.warning("study %s: the analysis plan changed after %d trials finished; the report says so, and "
                       "keeps the plan first declared", self.study.name, finished)
        return {ANALYSIS_AMENDED_TAG: json.dumps(history)}

    def _children(self, kind: str, where: str = "") -> list:
        """The parent's child runs of ``kind`` (TRIAL_KIND, TUNE_KIND), with ``where`` ANDed to the filter."""
        query = children_filter(self.parent_run_id, kind) + (f" and {where}" if where else "")
        return list(iter_runs(self.client, [self.experiment_id], query))

    def _records(self, kind: str, metrics: Sequence[str] = ()) -> list[TrialRecord]:
        """The parent's child runs of ``kind``, newest first, each reduced to its identity tags, times and the latest
        values of ``metrics``: read from the store's database where there is one (the columns asked for, about
        0.2 ms a run), else through the client (whole runs, 6 to 12 ms a run)."""
        wanted = Wanted(tags=IDENTITY_TAGS, metrics=tuple(metrics), params=())
        fetched = read_trials(self.client, self.experiment_id, self.parent_run_id, wanted, database_uri=self.database,
                              what=f"study {self.study.name}")
        records = [r for r in fetched.records if r.tags.get(KIND_TAG) == kind]
        return sorted(records, key=lambda r: (-r.start_time, r.run_id))

    def _trial_records(self) -> list[TrialRecord]:
        """The trial runs as ``adopt_legacy_trial_ids`` read them, when it changed nothing since; else read now."""
        records, self._read = self._read, None
        return records if records is not None else self._records(TRIAL_KIND)

    def finished_trial_ids(self) -> set[str]:
        """Trial ids that already have a FINISHED trial run (not a tuning sample): these are never run again. Reads
        every trial run of the study once, and keeps which run each trial has for ``start_trial``."""
        finished: set[str] = set()
        existing: dict[str, str] = {}
        for run in self._trial_records():  # newest first: a trial recorded twice re-attaches its newest run
            trial_id = run.tags.get(TRIAL_ID_TAG, "")
            existing.setdefault(trial_id, run.run_id)
            if run.status == "FINISHED":
                finished.add(trial_id)
        self._existing = existing
        return finished

    def finished_values(self, metric: str) -> tuple[dict[tuple[str, int], float], set[tuple[str, int]]]:
        """The FINISHED trial runs as ({(cell, seed): final `metric`} of those that logged it, every (cell, seed))."""
        values: dict[tuple[str, int], float] = {}
        keys: set[tuple[str, int]] = set()
        for run in self._records(TRIAL_KIND, (metric,)):
            if run.status != "FINISHED":
                continue
            key = (run.tags.get(CELL_TAG, ""), int(run.tags.get(SEED_TAG, "-1")))
            keys.add(key)
            if metric in run.metrics:
                values[key] = float(run.metrics[metric])
        return values, keys

    def trial_hours(self) -> float:
        """Wall hours of every ended trial run (finished or failed) of the study."""
        total_ms = sum(run.end_time - run.start_time for run in self._records(TRIAL_KIND)
                       if run.end_time and run.start_time and run.status != "RUNNING")
        return total_ms / 3_600_000

    def record_planned(self, trials: Sequence[Trial]) -> None:
        """The trials planned so far (an adaptive study plans a look at a time), in the parent's artifact and tag."""
        planned = [{"cell": t.cell.id, "seed": t.seed} for t in trials]
        self.client.log_dict(self.parent_run_id, planned, PLANNED_TRIALS_ARTIFACT)
        if len(json.dumps(planned)) <= MAX_TAG_CHARS:
            self.client.set_tag(self.parent_run_id, PLANNED_TRIALS_TAG, json.dumps(planned))

    def adopt_legacy_trial_ids(self, trials: Sequence[Trial]) -> int:
        """Give the runs recorded under the first, path-based identity scheme their trial's content-based id (the
        old one kept in LEGACY_TRIAL_ID_TAG), so a resume counts them; returns how many it re-tagged. The old ids
        hash absolute paths: only runs made from this same work directory are recognised."""
        current = {t.trial_id for t in trials}
        records = self._records(TRIAL_KIND)
        strangers = [r for r in records if r.tags.get(TRIAL_ID_TAG, "") not in current]
        legacy = {legacy_trial_identity(t.config): t for t in trials} if strangers else {}
        adopted = 0
        for run in strangers:
            old = run.tags.get(TRIAL_ID_TAG, "")
            trial = legacy.get(old)
            if trial is not None and trial.trial_id != old:
                self.client.set_tag(run.run_id, LEGACY_TRIAL_ID_TAG, old)
                self.client.set_tag(run.run_id, TRIAL_ID_TAG, trial.trial_id)
                self.client.set_tag(run.run_id, CONFIG_HASH_TAG, config_hash(trial.config))
                adopted += 1
        self._read = None if adopted else records  # what finished_trial_ids reads next, unless re-tagged
        return adopted

    def tune_runs(self, cell_id: str) -> list:
        """The tuning-sample runs of a cell, every status, by sample index."""
        runs = [r for r in self._children(TUNE_KIND) if r.data.tags.get(CELL_TAG) == cell_id]
        return sorted(runs, key=lambda r: int(r.data.tags.get(TUNE_SAMPLE_TAG, "0")))

    def mark_interrupted(self, run_id: str) -> None:
        """A sample whose driver went away (still RUNNING in the store): KILLED, never re-attached; a new sample
        takes its place."""
        self.client.set_tag(run_id, TUNE_INTERRUPTED_TAG, "the launch that ran it stopped; a new sample replaced it")
        self.client.set_terminated(run_id, "KILLED")

    def _new_run(self, item: Trial | Sample, kind: str, run_name: str, extra: Mapping[str, str]) -> str:
        tags = {PARENT_TAG: self.parent_run_id, KIND_TAG: kind, STUDY_TAG: self.study.name, CELL_TAG: item.cell.id,
                SEED_TAG: str(item.seed), TRIAL_ID_TAG: item.trial_id, CONFIG_HASH_TAG: config_hash(item.config),
                **code_version(), **extra}
        tags.update({FACTOR_TAG_PREFIX + name: level_text(value) for name, value in item.cell.levels})
        provenance = self.provenance(item.config) if self.provenance is not None else None
        if provenance is not None:
            tags.update({k: v[:MAX_TAG_CHARS] for k, v in provenance.tags.items()})
        run_id = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags).info.run_id
        self._describe(run_id, item, provenance)
        return run_id

    def _describe(self, run_id: str, item: Trial | Sample, provenance: RunProvenance | None) -> None:
        """A new run's params and its config and provenance artifacts."""
        if provenance is not None:
            self.client.log_dict(run_id, provenance.document, PROVENANCE_ARTIFACT)
        params = [Param(k, level_text(v)[:MAX_PARAM_CHARS]) for k, v in sorted(flatten(item.config).items())
                  if k != "output_dir"]
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        self.client.log_dict(run_id, item.config.model_dump(mode="json"), CONFIG_ARTIFACT)

    def _reattach(self, item: Trial | Sample, run_id: str) -> None:
        key = item.key
        run = self.client.get_run(run_id)
        if not run.data.params:  # its creation was cut short (the tracking server went away): finish it
            self._describe(run_id, item, self.provenance(item.config) if self.provenance is not None else None)
        tags = run.data.tags
        failure = tags.get(FAILURE_TAG)
        if failure is not None:  # an earlier pass failed it (an OOM retried with more GPU, a resume): now a retry
            self._count_retry(run_id, failure)
            self.client.delete_tag(run_id, FAILURE_TAG)
        if INTERRUPTED_TAG in tags:  # a stop signal ended it: it continues from its checkpoint, no retry counted
            self.client.delete_tag(run_id, INTERRUPTED_TAG)
        self.client.update_run(run_id, status="RUNNING")
        self._logged_epochs[key] = {m.step for m in self.client.get_metric_history(run_id, "epoch")}
        self._logged_keys[key] = set(run.data.metrics)

    @journaled
    def start_trial(self, trial: Trial) -> str:
        """The child run of ``trial``: re-attached if one exists (unfinished), else created with params and tags.
        Where this launch read the study's trial runs (``finished_trial_ids``) no request asks for it."""
        run_id = self._runs.get(trial.key) or (self._existing or {}).get(trial.trial_id)
        if run_id is None and self._existing is None:
            found = self.client.search_runs(
                [self.experiment_id], f"{children_filter(self.parent_run_id, TRIAL_KIND)} and "
                                      f"tags.`{TRIAL_ID_TAG}` = '{trial.trial_id}'", max_results=1)
            run_id = found[0].info.run_id if found else None
        if run_id is not None:
            self._reattach(trial, run_id)
        else:
            extra = {TUNE_BEST_TAG: json.dumps(dict(trial.tuned))} if trial.tuned else {}
            run_id = self._new_run(trial, TRIAL_KIND, f"{trial.cell.id} seed={trial.seed}", extra)
        self._runs[trial.key] = run_id
        self._kinds[trial.key] = TRIAL_KIND
        return run_id

    @journaled
    def start_sample(self, sample: Sample) -> str:
        """The run of a tuning sample (keyed by cell and sample index): re-attached if it has one (a Tune retry of
        the sample, records kept through a tracking outage), else created."""
        run_id = self._runs.get(sample.key)
        if run_id is None:
            existing = [r for r in self._children(TUNE_KIND, f"tags.`{TUNE_SAMPLE_TAG}` = '{sample.index}'")
                        if r.data.tags.get(CELL_TAG) == sample.cell.id]
            run_id = existing[0].info.run_id if existing else None
        if run_id is not None:
            self._reattach(sample, run_id)
        else:
            extra = {TUNE_SAMPLE_TAG: str(sample.index), TUNE_PARAMS_TAG: json.dumps(dict(sample.values))}
            run_id = self._new_run(sample, TUNE_KIND, f"{sample.cell.id} tune #{sample.index}", extra)
        self._runs[sample.key] = run_id
        self._kinds[sample.key] = TUNE_KIND
        return run_id

    @journaled
    def log_metrics(self, trial: Trial | Sample, metrics: Mapping[str, float], step: int,
                    at_ms: int | None = None, tags: Mapping[str, str] | None = None) -> None:
        """Log one report, stamped ``at_ms`` (now), with ``tags`` (the node it ran on, its environment) in the same
        request. What a resumed trial reports again is not logged twice: an epoch the store holds, and the final
        metrics of a trial that ended while its driver could not record it (a killed driver, a tracking outage);
        its cost so far (``cost/*``) is always logged."""
        new_epoch = False
        if "epoch" in metrics:
            logged = self._logged_epochs.setdefault(trial.key, set())
            new_epoch = step not in logged
            if not new_epoch:
                metrics = {}
            logged.add(step)
        elif self._logged_keys.get(trial.key):
            held = self._logged_keys[trial.key]
            metrics = {k: v for k, v in metrics.items() if k not in held or k.startswith(COST_PREFIX)}
        now = int(time.time() * 1000) if at_ms is None else at_ms
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        labels = [RunTag(k, v[:MAX_TAG_CHARS]) for k, v in (tags or {}).items()]
        if not batch and not labels:
            return
        run_id = self._run_id(trial)
        try:
            for i in range(0, max(len(batch), 1), 500):
                self.client.log_batch(run_id, metrics=batch[i:i + 500], tags=labels if i == 0 else [])
        except TrackingUnreachable:
            if new_epoch:  # kept in the journal: its replay must log it
                self._logged_epochs[trial.key].discard(step)
            raise

    @journaled
    def log_result(self, trial: Trial, metrics: Mapping[str, float], step: int, at_ms: int | None = None, *,
                   node: str | None = None, environment: Mapping | None = None) -> None:
        """A trial's report: its metrics (``log_metrics``), with the node it runs on (tag `sedstudy.ray_node`, when
        it changed) and the machine and packages of its attempt (tag `sedstudy.environment` and a JSON artifact,
        on an attempt's first report) in the metrics' request."""
        tags = {} if node is None else {RAY_NODE_TAG: node}
        if environment is not None:
            tags[ENVIRONMENT_TAG] = environment_text(environment)
            self.client.log_dict(self._run_id(trial), dict(environment), ENVIRONMENT_ARTIFACT)
        self.log_metrics(trial, metrics, step, at_ms=at_ms, tags=tags)

    def _run_id(self, item: Trial | Sample) -> str:
        """The run of ``item``: the one this launch opened, else its run started (re-attached) now; a write kept
        through a tracking outage, or a trial that failed before Tune started it, gets its run here."""
        run_id = self._runs.get(item.key)
        if run_id is None:
            run_id = self.start_sample(item) if isinstance(item, Sample) else self.start_trial(item)
        return run_id

    @journaled
    def log_artifact(self, trial: Trial, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self._run_id(trial), str(path), artifact_path)

    @journaled
    def log_artifacts(self, trial: Trial, directory: Path, artifact_path: str) -> None:
        self.client.log_artifacts(self._run_id(trial), str(directory), artifact_path)

    @journaled
    def set_tag(self, trial: Trial | Sample, key: str, value: str) -> None:
        self.client.set_tag(self._run_id(trial), key, value)

    @journaled
    def note_retry(self, trial: Trial | Sample, reason: str) -> None:
        """A failed attempt that Tune retries: counted and explained on the run, which stays RUNNING."""
        self._count_retry(self._run_id(trial), reason)

    def _count_retry(self, run_id: str, reason: str) -> None:
        attempts = int(self.client.get_run(run_id).data.tags.get(RETRIES_TAG, "0")) + 1
        self.client.set_tag(run_id, RETRIES_TAG, str(attempts))
        self.client.set_tag(run_id, retry_tag(attempts), reason[:5000])

    @journaled
    def end_trial(self, trial: Trial | Sample, *, failure: str | None = None) -> None:
        """Close the trial's run; a trial that failed before Tune started it (its worker died while being placed)
        gets its run here, so the failure is recorded rather than lost."""
        run_id = self._run_id(trial)
        if failure is not None:
            self.client.set_tag(run_id, FAILURE_TAG, failure[:5000])
        self.client.set_terminated(run_id, "FAILED" if failure is not None else "FINISHED")
        self._ended.add(trial.key)
        if time.monotonic() - self._summary_at >= max(SUMMARY_EVERY_S, self._summary_s / SUMMARY_SHARE):
            self.log_summary(wait=False)

    def log_summary(self, *, wait: bool = True) -> None:
        """The study at a glance on the parent run (``studies.study_summary``): the objective's mean per cell over
        its finished trials, the best cell (tag ``sedstudy.best_cell``) and the trials per state, from the store.

        One at a time: trials ending on two write lanes at once would write the same new metric keys to the parent
        run concurrently, and MLflow's SQL store then fails one of them on its latest_metrics key (PostgreSQL's
        UniqueViolation ended a 10,000-trial study). ``wait=False``: skipped while another lane writes one."""
        if not self._summary_lock.acquire(blocking=wait):
            return
        try:
            self._write_summary()
        finally:
            self._summary_lock.release()

    def _write_summary(self) -> None:
        started = time.monotonic()
        objective = self.study.spec.objective
        latest: dict[tuple[str, str], tuple[str, float | None]] = {}  # (cell, seed) -> (state, objective value)
        for run in self._records(TRIAL_KIND, (objective.metric,)):
            key = (run.tags.get(CELL_TAG, "?"), run.tags.get(SEED_TAG, "?"))
            state = run_state(run.status)
            if latest.get(key, ("",))[0] != "finished":
                latest[key] = (state, run.metrics.get(objective.metric))
        states = dict.fromkeys(("finished", "running", "failed"), 0)
        values: dict[str, list[float]] = {}
        for (cell, _), (state, value) in sorted(latest.items()):
            states[state] += 1
            if state == "finished" and value is not None:
                values.setdefault(cell, []).append(value)
        summary = study_summary(objective.metric, objective.mode, values, states)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in sorted(summary.metrics.items())]
        for i in range(0, len(metrics), 500):
            self.client.log_batch(self.parent_run_id, metrics=metrics[i:i + 500])
        if summary.best_cell is not None:
            self.client.set_tag(self.parent_run_id, BEST_CELL_TAG, summary.best_cell[:MAX_TAG_CHARS])
        self._summary_at = time.monotonic()
        self._summary_s = self._summary_at - started

    def beat(self, every_s: float) -> None:
        """The driver is alive (studies/heartbeat.py): the parent run's heartbeat tag set to now, and how often the
        driver beats, ``every_s`` seconds."""
        self._direct.log_batch(self.parent_run_id, tags=[RunTag(HEARTBEAT_TAG, beat_text(time.time())),
                                                         RunTag(HEARTBEAT_EVERY_TAG, f"{every_s:g}")])

    def end_study(self) -> None:
        self.log_summary()
        self.client.set_terminated(self.parent_run_id, "FINISHED")

    def ended(self, item: Trial | Sample) -> bool:
        """Whether this launch closed the run of ``item`` (finished or failed)."""
        self.flush()
        return item.key in self._ended

    def interrupt_study(self, reason: str) -> int:
        """A stop signal ended the launch: every run it opened and did not close ends KILLED with ``reason``
        (seed trials keep their checkpoints and are re-attached by a resume; tuning samples are replaced), and so
        does the parent run, so nothing looks finished or running. Returns the trial runs it closed."""
        closed = 0
        for key, run_id in self._runs.items():
            if key in self._ended:
                continue
            if self._kinds.get(key) == TUNE_KIND:
                self.mark_interrupted(run_id)
            else:
                self.client.set_tag(run_id, INTERRUPTED_TAG, reason)
                self.client.set_terminated(run_id, "KILLED")
            self._ended.add(key)
            closed += 1
        self.log_summary()
        self.client.set_tag(self.parent_run_id, INTERRUPTED_TAG, reason)
        self.client.set_terminated(self.parent_run_id, "KILLED")
        return closed


def log_report(tracking_uri: str, study: str, files: list[Path]) -> None:
    """Attach the built report to the study's parent run (artifact folder ``report/``)."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return
    parent = find_study_parent(client, experiment.experiment_id, study)
    for path in files:
        if parent is not None and Path(path).is_file():
            client.log_artifact(parent.info.run_id, str(path), REPORT_ARTIFACT_DIR)
