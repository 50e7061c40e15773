"""Launching a study: validate everything, make the data, skip finished trials, run the rest on Ray Tune."""
from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sed_core.data.clip_ends import FeatureFrame
from sed_core.data.layout import SPLITS
from sed_core.data.splits import SplitData, check_scorable, load_split
from sed_core.errors import ConfigError, SedStudyError
from sed_core.models.build import build_model
from sed_core.models.pretrained import pretrained_checkpoint
from sed_core.training.trainer import required_splits, scored_splits
from studies.definition import Study, Trial, load_study
from studies.endpoints import check_storage, check_tracking_uri, connect_ray
from studies.heartbeat import Heartbeat, heartbeat_every_s
from studies.interrupt import StudyInterrupted, TrackingUnavailable, sigterm_as_sigint
from studies.platform_probes import skip_absent_platform_probes
from studies.provenance import ProvenanceBook
from studies.quiet import quiet_third_party
from studies.resources_check import check_resources, cluster_nodes, local_node

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyOutcome:
    study: Study
    tracking_uri: str
    parent_run_id: str
    ran: int
    skipped: int
    failed: int  # failed seed trials, and those of tuned cells whose tuning found nothing
    sampled: int = 0  # tuning samples run by this launch


def check_study(study: Study, *, require_checkpoints: bool = True) -> list[str]:
    """Everything that can be checked without training: every cell's model builds (on the meta device) and the
    backbone checkpoints it starts from exist. Errors name the study file and the cell. With
    ``require_checkpoints=False`` (a dry run) a missing checkpoint is returned as a warning instead; a real run
    always refuses it before any compute."""
    warnings: list[str] = []
    seen: set[str] = set()
    for trial in study.trials:
        key = model_key(trial.config)
        if key not in seen:  # cells that differ only in what no model is built from are checked once
            seen.add(key)
            try:
                build_model(trial.config, device="meta")
            except SedStudyError as err:
                raise type(err)(f"{study.source}: cell {trial.cell.id}: {err}") from None
            try:
                pretrained_checkpoint(trial.config)
            except SedStudyError as err:
                if require_checkpoints:
                    raise type(err)(f"{study.source}: cell {trial.cell.id}: {err}") from None
                warnings.append(f"cell {trial.cell.id}: {err}")
    return warnings


def model_key(config) -> str:
    """What a model and its backbone checkpoint are built from: the data, the features, the model and the
    training precision (an fp16 encoder). A builder (``sed_core.models.registries.MODELS``) reads these."""
    return json.dumps([config.model_dump(mode="json", include={"data", "features", "model"}),
                       config.training.precision], sort_keys=True)


def generate_missing_data(study: Study) -> bool:
    """Generate the study's synthetic dataset where it is missing; True when it generated one."""
    from sed_core.data.synth import generate_dataset

    generated = False
    for root in sorted({t.config.data.root for t in study.trials}):
        if study.spec.synthetic_data is not None and not (root / "manifest.json").exists() \
                and not (root / SPLITS["validation"].audio_dir).exists():
            spec = study.spec.synthetic_data
            print(f"generating the synthetic '{spec.preset}' dataset (seed {spec.seed}) at {root}", flush=True)
            generate_dataset(spec.preset, root, seed=spec.seed, workers=os.cpu_count() or 1,
                             progress=print_progress("clips"))
            generated = True
    return generated


def ensure_data(study: Study) -> dict[tuple[Path, str], SplitData]:
    """Generate the study's synthetic dataset where it is missing, then read every split the trials use."""
    generate_missing_data(study)
    loaded: dict[tuple[Path, str], SplitData] = {}
    for trial in study.trials:
        cfg = trial.config
        for name in required_splits(cfg):
            if (cfg.data.root, name) not in loaded:
                loaded[(cfg.data.root, name)] = load_split(cfg.data.root, name, classes=cfg.data.classes,
                                                           check_audio=cfg.data.check_audio_files,
                                                           frame=FeatureFrame.of(cfg))
        for name, role in scored_splits(cfg).items():
            try:
                check_scorable(loaded[(cfg.data.root, name)], cfg.data.classes, role=role, root=cfg.data.root)
            except SedStudyError as err:
                raise type(err)(f"{study.source}: cell {trial.cell.id}: {err}") from None
    return loaded


def print_progress(unit: str, steps: int = 10) -> Callable[[int, int], None]:
    """A progress callback that prints a line at every tenth of the work."""
    shown = [-1]

    def report(done: int, total: int) -> None:
        tenth = done * steps // max(total, 1)
        if tenth > shown[0]:
            shown[0] = tenth
            print(f"  {done}/{total} {unit}", flush=True)

    return report


def run_study(path: str | Path, *, workdir: Path, tracking_uri: str | None = None, address: str | None = None,
              storage: str | None = None, fit: Callable[..., Any] | None = None) -> StudyOutcome:
    """Run the study's unfinished trials. ``fit`` replaces the trainer (``studies.trainable.run_trial``) for the
    scale benchmark's simulated trials; seed trials only, and never set by a command."""
    # Our progress lines replace Tune's own console output and its checkpoint-frequency warnings.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # MLflow prints a "View run ... at: <url>" line whenever a run on a tracking server ends; ours say it once
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # Tune's own CSV, JSON and TensorBoard result files per trial: the study's records are MLflow's, and writing
    # them was a tenth of the driver's CPU at 64 concurrent trials (bench/scale.py); set it to 0 to have them back
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    quiet_third_party()
    skip_absent_platform_probes()
    import ray

    from studies.store_relocation import local_store_uri
    from studies.tracking import StudyTracker, journal_path, write_lanes_for
    from studies.tracking_outage import TrackingUnreachable

    beat_every_s = heartbeat_every_s()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    study = load_study(path, workdir=workdir)
    check_study(study)
    if not address:  # a cluster is checked once joined (_start_ray); a Ray the caller started declares its own
        check_resources(study, cluster_nodes() if ray.is_initialized() else [local_node()])
    tracking_uri = tracking_uri or local_store_uri(workdir)
    check_tracking_uri(tracking_uri, cluster=bool(address))
    check_storage(storage, cluster=bool(address))
    if generate_missing_data(study):  # trial ids hash the data: count them again now that it is there
        study = load_study(path, workdir=workdir)
    splits = ensure_data(study)
    launch = {"workdir": str(workdir), "storage": storage or "", "address": address or ""}
    try:
        tracker = StudyTracker(tracking_uri, study, artifact_root=workdir / "mlartifacts", launch=launch,
                               provenance=ProvenanceBook(splits), journal=journal_path(workdir, study.name))
    except TrackingUnreachable as gone:
        raise TrackingUnavailable(f"{gone}; the study did not start") from None
    storage_path = storage or str(workdir / "ray_results")
    trial_root = Path(storage_path) / study.name / "trials" if storage else workdir / "trials" / study.name
    gpu = study.spec.resources.gpu
    failed = sampled = ran = done = 0
    started_here = False
    stopped: StudyInterrupted | None = None
    heartbeat = Heartbeat(tracker.beat, beat_every_s)  # `sedstudy status` tells a driver that is gone by it
    heartbeat.start()
    tracker.start_background_writes(write_lanes_for(tracking_uri))  # trial records are written off Tune's loop
    try:
        if study.tuned_cells:
            from studies.tuning import best_values, run_tuning, tuning_state

            for cell in study.tuned_cells:
                state = tuning_state(tracker, study, cell)
                for run in state.with_status("RUNNING", "SCHEDULED"):  # left by a launch that stopped
                    tracker.mark_interrupted(run.info.run_id)
                if not state.complete:
                    started_here = _start_ray(address, study) or started_here
                    with sigterm_as_sigint():
                        sampled += run_tuning(study, cell, tracker, trial_root, storage_path, gpu=gpu)
                    if not tuning_state(tracker, study, cell).complete:  # Tune returned early: a stop signal
                        raise StudyInterrupted
            best = best_values(tracker, study)
            for cell in study.tuned_cells:
                if cell.id not in best:
                    print(f"tuning {cell.id}: no sample finished with a result; its seed trials cannot run "
                          f"(see its sedstudy.kind=tune runs)", flush=True)
                else:
                    print(f"tuning {cell.id}: best {json.dumps(best[cell.id])}", flush=True)
            trials = study.with_tuned(best)
            failed += len(study.trials) - len(trials)
        else:
            trials = study.trials
        adopted = tracker.adopt_legacy_trial_ids(trials)
        if adopted:
            print(f"{adopted} trial run(s) recorded under the first trial-id scheme (absolute paths) now carry their "
                  f"content-based id", flush=True)

        def run_pass(pending: list[Trial]) -> dict[str, str]:
            """Run `pending` (and retry its out-of-memory failures once with more GPU); the failures by trial id."""
            nonlocal started_here
            started_here = _start_ray(address, study) or started_here
            with sigterm_as_sigint():
                errors = tune_pass(study, pending, tracker, trial_root, storage_path, gpu=gpu, name=study.name,
                                   fit=fit)
            if not all(tracker.ended(t) for t in pending):  # Tune returned before every trial ended: a stop signal
                raise StudyInterrupted
            oom = [t for t in pending if t.trial_id in errors and is_out_of_memory(errors[t.trial_id])]
            if oom and study.spec.failures.oom_retry and 0 < gpu < 1:
                print(f"{len(oom)} trial(s) ran out of GPU memory: retrying them with {min(2 * gpu, 1.0):g} GPU "
                      f"each (fewer trials per GPU)", flush=True)
                with sigterm_as_sigint():
                    retried = tune_pass(study, oom, tracker, trial_root, storage_path, gpu=min(2 * gpu, 1.0),
                                        name=f"{study.name}-oom-retry", fit=fit)
                errors = {k: v for k, v in errors.items() if k not in {t.trial_id for t in oom}} | retried
            return errors

        finished = tracker.finished_trial_ids()
        done = sum(1 for t in trials if t.trial_id in finished)
        if study.spec.sequential is not None:
            from studies.adaptive_seeds import run_adaptive

            print(f"study {study.name}: {len(study.cells)} cells, adaptive seeds "
                  f"({study.spec.sequential.describe()}); {done} trials already finished", flush=True)
            ran, errors = run_adaptive(study, trials, tracker, run_pass)
            failed += errors
        else:
            pending = [t for t in trials if t.trial_id not in finished]
            print(f"study {study.name}: {len(study.cells)} cells x {len(study.spec.seed_values)} seeds = "
                  f"{len(study.trials)} trials; {done} already finished, {len(pending)} to run", flush=True)
            ran = len(pending)
            if pending:
                failed += len(run_pass(pending))
    except KeyboardInterrupt:
        stopped = StudyInterrupted()
    except StudyInterrupted as stop:
        stopped = stop
    except TrackingUnreachable:  # a read of the store outside Tune's loop (what is finished, a tuning's state)
        stopped = tracker.outage.stopped(tracker.journal)
    finally:
        tracker.stop_background_writes()
        heartbeat.stop()
        if started_here:
            ray.shutdown()
    if stopped is not None:
        raise _close_stopped(study, tracker, stopped)
    tracker.raise_failed_writes()
    tracker.end_study()
    return StudyOutcome(study, tracking_uri, tracker.parent_run_id, ran, done, failed, sampled)


def _close_stopped(study: Study, tracker, stop: StudyInterrupted) -> StudyInterrupted:
    """End the runs a stopped launch left open; returns the error that tells the user, of the stop's kind (its exit
    code), ending where the CLI adds the resume command. A stop signal's says "interrupted", another stop (trials
    that waited too long for resources) its reason."""
    if isinstance(stop, TrackingUnavailable):  # nothing more can be written; the runs say RUNNING until a resume
        return type(stop)(f"study {study.name}: stopped: {stop}. Running trials keep their last checkpoint, finished "
                          f"ones are kept; `sedstudy status` shows the study's driver as gone. Once the server "
                          f"answers, continue with")
    why = str(stop) or "stopped by a signal (Ctrl+C or SIGTERM)"
    closed = tracker.interrupt_study(f"{why}; `sedstudy resume` continues it")
    return type(stop)(f"study {study.name}: {f'stopped: {stop}' if str(stop) else 'interrupted'}; {closed} running "
                      f"trial run(s) keep their last checkpoint (marked KILLED), finished ones are kept, the rest "
                      f"were not started; run what is left with")


def _start_ray(address: str | None, study: Study | None = None) -> bool:
    """Start (or join) Ray unless it runs already; True when this call started it. A joined cluster must have a
    node that can hold one of the study's trials."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        connect_ray(address)
        if study is not None:
            try:
                check_resources(study, cluster_nodes())
            except ConfigError:
                ray.shutdown()
                raise
    else:
        # "local" always starts our own instance, never joins a cluster another `ray start` left behind
        with loopback_only():
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
    return True


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within it, a Ray started in this process listens on 127.0.0.1 alone (GCS, raylet, workers, agents), not
    on every interface. Ray 2.60 binds its servers to the node's address, and takes the loopback address as the
    node's where it does not run clusters (macOS, Windows: ``ray_constants.ENABLE_RAY_CLUSTER``, read when the
    address is looked up); the processes it starts are given that address. Restored afterwards, so a later
    driver in this process can still join a cluster."""
    import ray._private.ray_constants as ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


OUT_OF_MEMORY_MARKERS = ("out of memory", "OutOfMemoryError", "CUDA error: out of memory")


def is_out_of_memory(reason: str) -> bool:
    return any(marker in reason for marker in OUT_OF_MEMORY_MARKERS)


def tune_pass(study: Study, trials: list[Trial], tracker, trial_root: Path, storage_path: str, *, gpu: float,
              name: str, fit: Callable[..., Any] | None = None) -> dict[str, str]:
    """One Tuner.fit over ``trials``; returns {trial_id: failure reason} of the trials that failed."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from studies.callbacks import MLflowStudyCallback, ProgressCallback
    from studies.outage_stop import OutageStop
    from studies.resource_wait import ResourceWait
    from studies.trainable import run_trial
    from studies.trial_payload import PAYLOAD_KEY, seed_payload_of, seed_trial_payload

    by_id = {t.trial_id: t for t in trials}
    wait = ResourceWait(study.spec.resources.wait_limit_s, study.spec.resources.cpu, gpu)
    # one preset config per trial, not a grid search over them: Tune deep-copies the whole search space for every
    # variant of a grid, so N trials cost N^2 payload copies (80 ms of driver CPU per trial at 10,000 trials)
    points = [{PAYLOAD_KEY: seed_trial_payload(study, t, trial_root)} for t in trials]
    tuner = tune.Tuner(
        tune.with_resources(run_trial if fit is None else tune.with_parameters(run_trial, fit=fit),
                            {"cpu": study.spec.resources.cpu, "gpu": gpu}),
        param_space={PAYLOAD_KEY: None},
        # a trial's worker process runs the next trial: imports, CUDA context and CodeCarbon's set-up are paid once
        # per worker, not per trial (each trial seeds everything and gives its GPU memory back when it ends)
        tune_config=tune.TuneConfig(reuse_actors=True, num_samples=len(points),
                                    search_alg=BasicVariantGenerator(points_to_evaluate=points)),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage_path,
            stop=[wait.stopper, OutageStop(tracker.outage)],
            callbacks=[MLflowStudyCallback(tracker, by_id),
                       ProgressCallback(by_id, study.spec.objective.metric, lambda t: t.config.training.epochs,
                                        mode=study.spec.objective.mode, study=study.name,
                                        baseline=study.baseline.id, cell_names=study.display_record()["cells"]),
                       wait],
            verbose=0,
            # a retried trial continues from last/ in its output dir (studies.trainable.RayReporter)
            failure_config=tune.FailureConfig(max_failures=study.spec.failures.max_retries),
        ),
    )
    results = tuner.fit()
    tracker.flush()
    tracker.raise_if_unavailable()
    wait.raise_if_given_up()
    return {seed_payload_of(r.config).trial_id: str(r.error) for r in results if r.error is not None}
