"""The MLflow contract of a study: every name `studies` writes to the tracking store and its readers (`studies`'
status, resume, evaluate and study lookup; `reports`) read back, how a study's parent run is found, how runs are
paged through, and the objective of a study whose parent run names none. docs/ARCHITECTURE.md describes the records.

It lives in `reports` because `studies` imports `reports` and `reports` may not import `studies`. Importing it
loads the standard library only (mlflow is named for type hints), so the trial side can use it too.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

# ---- the experiment (one per study, named after it) ----
# MLflow 3's UI opens an experiment by its kind: without this tag it may guess "GenAI" and land on the Traces
# overview; with it, the study's experiment opens on the runs table.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"

# ---- every run of a study ----
PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "sedstudy.kind"
STUDY_KIND, TRIAL_KIND, TUNE_KIND = "study", "trial", "tune"  # the parent run, a seed trial, a tuning sample
STUDY_TAG = "sedstudy.study"
CODE_COMMIT_TAG = "sedstudy.code.commit"  # or "unknown" outside a git checkout
CODE_DIRTY_TAG = "sedstudy.code.dirty"
CODE_VERSION_TAG = "sedstudy.code.version"

# ---- the parent run ----
BASELINE_CELL_TAG = "sedstudy.baseline_cell"
FACTORS_TAG = "sedstudy.factors"  # JSON list of dotted factor names
METRICS_TAG = "sedstudy.metrics"  # JSON list of metric keys
OBJECTIVE_TAG = "sedstudy.objective"  # JSON {metric, mode}: read through StudyObjective
ANALYSIS_TAG = "sedstudy.analysis"  # JSON of the declared analysis plan (reports.fetch.analysis_plan)
# JSON list of {previous, finished_trials}: each plan a relaunch replaced after trials had finished, kept in order
ANALYSIS_AMENDED_TAG = "sedstudy.analysis.amended"
CELLS_TAG = "sedstudy.cells"
SEEDS_TAG = "sedstudy.seeds"
SEQUENTIAL_SEEDS_TAG = "sedstudy.seeds.sequential"  # JSON of an adaptive seed design (reports.fetch.sequential_design)
PLANNED_TRIALS_TAG = "sedstudy.planned_trials"  # JSON list of {cell, seed}; left out when over 8,000 characters
PLANNED_TRIALS_ARTIFACT = "planned_trials.json"  # always written: the list a large design keeps only here
DISPLAY_TAG, DISPLAY_ARTIFACT = "sedstudy.display", "display_names.json"  # JSON {factors, levels, cells}
STUDY_YAML_ARTIFACT = "study.yaml"
LAUNCH_TAG_PREFIX = "sedstudy.launch."  # + workdir, storage, address: what `sedstudy resume` relaunches with
TUNING_TAG = "sedstudy.tuning"  # JSON of the study's tuning spec
TUNED_CELLS_TAG = "sedstudy.tuned_cells"  # JSON {cell id: tuning metric}
BEST_CELL_TAG = "sedstudy.best_cell"
# while the study runs its driver stamps the parent run: the UTC time of its last beat (ISO 8601), and how often it
# beats (seconds); a RUNNING parent whose beats stopped has no driver (studies/heartbeat.py)
HEARTBEAT_TAG, HEARTBEAT_EVERY_TAG = "sedstudy.heartbeat", "sedstudy.heartbeat.every_s"
REPORT_ARTIFACT_DIR = "report"  # the built report's files

# ---- a trial run (kind trial) or a tuning sample (kind tune) ----
CELL_TAG = "sedstudy.cell"  # factor=level|factor=level
SEED_TAG = "sedstudy.seed"
TRIAL_ID_TAG = "sedstudy.trial_id"  # a hash of the effective config and its data's and checkpoint's content
LEGACY_TRIAL_ID_TAG = "sedstudy.trial_id_legacy"  # the id a run had under the first (path-based) scheme
CONFIG_HASH_TAG = "sedstudy.config_hash"
FACTOR_TAG_PREFIX = "sedstudy.factor."  # + dotted factor name: the run's level
FAILURE_TAG = "sedstudy.failure"
INTERRUPTED_TAG = "sedstudy.interrupted"  # a run (trial or study) a stop signal ended; resume continues it
RETRIES_TAG = "sedstudy.retries"
RETRY_TAG_PREFIX = "sedstudy.retry."  # + attempt number: why that attempt failed
RAY_NODE_TAG = "sedstudy.ray_node"
ENVIRONMENT_TAG, ENVIRONMENT_ARTIFACT = "sedstudy.environment", "environment.json"
DATA_KIND_TAG = "sedstudy.data.kind"
DATA_SHA256_TAG = "sedstudy.data.sha256"
DATA_COVERAGE_TAG = "sedstudy.data.coverage"  # "split clips / official list" per split read
BACKBONE_SHA256_TAG = "sedstudy.backbone.sha256"
METRIC_SPEC_TAG = "sedstudy.metric"  # the metric's full specification in one line
PROVENANCE_ARTIFACT = "provenance.json"
# where a number comes from (reports/provenance.py)
PROVENANCE_TAGS = (CODE_COMMIT_TAG, CODE_DIRTY_TAG, DATA_KIND_TAG, DATA_SHA256_TAG, DATA_COVERAGE_TAG,
                   BACKBONE_SHA256_TAG, METRIC_SPEC_TAG, ENVIRONMENT_TAG)
TUNE_SAMPLE_TAG = "sedstudy.tune.sample"  # index within the cell's tuning phase, over all launches
TUNE_PARAMS_TAG = "sedstudy.tune.params"  # JSON of the sampled values
TUNE_STOPPED_TAG = "sedstudy.tune.stopped_early"  # epochs trained when ASHA stopped the sample
TUNE_INTERRUPTED_TAG = "sedstudy.tune.interrupted"
TUNE_BEST_TAG = "sedstudy.tune.best"  # on a tuned cell's seed trials: JSON of the values they use
EVAL_TAG_PREFIX = "sedstudy.eval."  # + split: JSON {data_root, n_clips, checkpoint_epoch, model}
CONFIG_ARTIFACT = "config.json"  # the typed config
CHECKPOINT_ARTIFACT_DIR = "checkpoints"
SCORES_ARTIFACT_DIR = "scores"  # scores/<split>/<audio_id>.tsv: frame scores
PSD_ROC_ARTIFACT_DIR = "psd_roc"  # psd_roc/<psds1|psds2>.tsv, psd_roc/<split>/... after a re-evaluation
REFERENCE_ARTIFACT_DIR = "reference"  # reference/<split>/{ground_truth,durations}.tsv
RAW_SCORES_ARTIFACT_DIR = "raw_scores"  # raw_scores/<split>/<audio_id>.tsv: unfiltered, selection and test split
POSTPROCESS_ARTIFACT = "postprocess/median_windows.json"  # the class-wise windows tuned on the selection split
POSTPROCESS_TAG = "sedstudy.postprocess"  # JSON: the stage's settings (tuned on, windows, applied to)

# ---- metric names ----
HISTORY_PREFIXES = ("train/", "val/")  # per-epoch metrics, logged at step = epoch
CLASS_INFIX = "/class/"  # per-class metrics are logged as `<metric>/class/<label>`, e.g. psds1/class/Dog
ROLES = ("student", "teacher")  # the mean-teacher pair; each logs `<role>/<metric>` at the best epoch
BEST_EPOCH_METRIC = "best_epoch"  # the best epoch's index (from 0), logged with the final metrics
COST_METRICS = ("cost/wall_s", "cost/gpu_hours", "cost/energy_kwh", "cost/energy_measured",
                "cost/cpu_energy_measured", "cost/attempts")  # the ones reports read
TUNE_OBJECTIVE_METRIC = "tune/objective"  # a sample's best value of the tuning metric so far, every epoch
# the post-processing stage over stored scores: pp/<stage>/<metric>, e.g. pp/tuned_median/psds1
POSTPROCESS_STAGES = ("raw", "median", "tuned_median", "pipsds")
TUNE_EPOCHS_METRIC = "tune/epochs"  # epochs a sample has trained: the time ASHA and the stopper count
EVAL_METRIC_PREFIX = "eval/"  # + <split>/<final metric name>: a re-evaluation's results

MAX_PAGE_SIZE = 1000  # MLflow's most runs per search_runs page
OLDEST_FIRST = ("attributes.start_time ASC",)


def launch_tag(setting: str) -> str:
    return LAUNCH_TAG_PREFIX + setting


def eval_tag(split: str) -> str:
    return EVAL_TAG_PREFIX + split


def eval_metric(split: str, name: str) -> str:
    return f"{EVAL_METRIC_PREFIX}{split}/{name}"


def retry_tag(attempt: int) -> str:
    return f"{RETRY_TAG_PREFIX}{attempt}"


def children_filter(parent_run_id: str, kind: str | None = None) -> str:
    """The search filter of a parent run's child runs, of one kind (TRIAL_KIND, TUNE_KIND) or all."""
    where = f"tags.`{PARENT_TAG}` = '{parent_run_id}'"
    return where if kind is None else f"{where} and tags.`{KIND_TAG}` = '{kind}'"


@dataclass(frozen=True)
class StudyObjective:
    """The metric a study ranks by and whether higher ("max") or lower ("min") is better.

    Every study sedstudy records names it in the parent's `sedstudy.objective` tag. A parent without the tag (a
    store older than the tag) gets the default, psds1 maximised, as does a tag that names no metric or mode.
    """

    metric: str = "psds1"
    mode: str = "max"

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> StudyObjective:
        """The objective of a parent run's tags; ValueError naming the tag when it is not JSON {metric, mode}."""
        raw = tags.get(OBJECTIVE_TAG)
        if raw is None:
            return cls()
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"tag {OBJECTIVE_TAG!r} must hold JSON, but got {raw!r} ({error})") from error
        if not isinstance(value, dict):
            raise ValueError(f"tag {OBJECTIVE_TAG!r} must be a JSON dict, but got {type(value).__name__}: {raw!r}")
        objective = cls(str(value.get("metric", cls.metric)), str(value.get("mode", cls.mode)))
        if objective.mode not in ("max", "min"):
            raise ValueError(f"tag {OBJECTIVE_TAG!r} must have mode 'max' or 'min', but got {objective.mode!r}")
        return objective

    def better(self, value: float, than: float | None) -> bool:
        """Whether ``value`` beats ``than`` (None: nothing yet, so it does)."""
        return than is None or (value > than if self.mode == "max" else value < than)


def iter_runs(client: MlflowClient, experiment_ids: Sequence[str], filter_string: str, *,
              page_size: int = MAX_PAGE_SIZE, order_by: Sequence[str] | None = None) -> Iterator[Run]:
    """Every active run of the experiments that matches the filter, page by page (``page_size`` runs a request),
    in ``order_by`` (e.g. OLDEST_FIRST; None: the store's order, newest first)."""
    token = None
    while True:
        page = client.search_runs(list(experiment_ids), filter_string, max_results=page_size,
                                  order_by=None if order_by is None else list(order_by), page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def find_study_parent(client: MlflowClient, experiment_id: str, study: str) -> Run | None:
    """The parent run of ``study`` in its experiment (tags kind=study and study=<name>), None when there is none.

    A study has one parent run, which every launch re-attaches to. Should a store hold several, the newest (by
    start time, then run id) is taken and a warning names how many there are and which one was taken.
    """
    parents = [run for run in iter_runs(client, [experiment_id], f"tags.`{KIND_TAG}` = '{STUDY_KIND}'")
               if run.data.tags.get(STUDY_TAG) == study]
    if not parents:
        return None
    parents.sort(key=lambda run: (run.info.start_time or 0, run.info.run_id), reverse=True)
    if len(parents) > 1:
        logger.warning("study %r has %d parent runs (%s); expected one, using the newest, %s", study, len(parents),
                       ", ".join(run.info.run_id for run in parents), parents[0].info.run_id)
    return parents[0]


def study_names(client: MlflowClient) -> list[str]:
    """The studies in a tracking store, sorted: the active experiments that hold a parent run (so MLflow's empty
    ``Default`` experiment is not one)."""
    from mlflow.entities import ViewType

    name_of: dict[str, str] = {}
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=MAX_PAGE_SIZE, page_token=token)
        name_of.update((experiment.experiment_id, experiment.name) for experiment in page)
        token = page.token
        if not token:
            break
    ids = list(name_of)
    names: set[str] = set()
    for start in range(0, len(ids), 100):  # MLflow searches at most 100 experiments at once
        names.update(name_of[run.info.experiment_id]
                     for run in iter_runs(client, ids[start:start + 100], f"tags.`{KIND_TAG}` = '{STUDY_KIND}'"))
    return sorted(names)


def postprocess_metric(stage: str, metric: str) -> str:
    """`pp/<stage>/<metric>`: a metric of the post-processing stage (POSTPROCESS_STAGES) on the test split."""
    return f"pp/{stage}/{metric}"
