"""``sedstudy postprocess``: post-processing as a second stage over the scores a study's trials stored.

Per finished trial run, from its unfiltered frame scores (``raw_scores/<split>/``, written by the trainer for
the selection split and the test split) and the labels beside them, without retraining:

- ``raw``: PSDS of the test split's unfiltered scores;
- ``median``: with the run's own median filter (``evaluation.median_window``, every class): the logged value,
  but for clips shorter than the clip length, whose padding the trainer's filter saw and this one does not;
- ``tuned_median``: class-wise windows tuned per PSDS scenario on the *selection* split (``evaluation.
  selection_split``, a validation split), then applied to the test split; the exact and the published (50
  thresholds) PSDS; the windows are the artifact ``postprocess/median_windows.json``;
- ``pipsds``: the median-filter-independent PSDS (DCASE 2024) of the test split over the same windows.

Logged as ``pp/<stage>/<psds1|psds2>`` (``pp/tuned_median/psds1_t50`` too) to the same runs, the settings in the
tag ``sedstudy.postprocess``. The test split never chooses anything: a run whose selection split is its test
split is refused. ``pp/tuned_median/psds1`` is logged last: a run that has it is done, and skipped unless forced.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from mlflow.entities import Metric, Run
from mlflow.tracking import MlflowClient

from reports.contract import (
    CELL_TAG,
    POSTPROCESS_ARTIFACT,
    POSTPROCESS_TAG,
    SEED_TAG,
    postprocess_metric,
)
from reports.fetch.artifacts import load_config, load_raw_scores, load_reference
from sed_core.config import config_from_dict
from sed_core.errors import SedStudyError
from sed_core.metrics.median_tuning import (
    DEFAULT_WINDOWS,
    class_filtered,
    per_class_psds,
    pipsds,
    tune_class_windows,
)
from sed_core.metrics.sed_metrics import PSDSScenario, published_psds
from studies.reevaluate import MAX_METRICS_PER_BATCH, find_runs
from studies.tracking import open_client

SCENARIOS = ("psds1", "psds2")
DONE_MARKER = postprocess_metric("tuned_median", "psds1")


@dataclass(frozen=True)
class RunPostprocess:
    run_id: str
    cell: str
    seed: str
    values: dict[str, float]  # pp/<stage>/<metric>
    seconds: float = 0.0
    skipped: bool = False


def postprocess(tracking_uri: str, target: str, *, windows: Sequence[int] = DEFAULT_WINDOWS, force: bool = False,
                on_run: Callable[[RunPostprocess], None] | None = None,
                workers: int | None = None) -> list[RunPostprocess]:
    """The post-processing stage over every finished trial run of ``target`` (study name or run id).

    Runs are computed in up to `workers` processes (default: one per core; each run is independent CPU work) and
    logged from this process, one run at a time, in the store's order."""
    client = open_client(tracking_uri)
    runs = list(find_runs(client, target, tracking_uri))
    todo = [run for run in runs if force or DONE_MARKER not in run.data.metrics]
    workers = min(len(todo), workers or os.cpu_count() or 1)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) \
        if workers > 1 else None
    try:
        futures = {run.info.run_id: (pool.submit(_computed, tracking_uri, run, windows) if pool else None)
                   for run in todo}
        results = []
        for run in runs:
            tags = run.data.tags
            if run.info.run_id not in futures:
                done = RunPostprocess(run.info.run_id, tags.get(CELL_TAG, ""), tags.get(SEED_TAG, "?"),
                                      {k: v for k, v in run.data.metrics.items() if k.startswith("pp/")},
                                      skipped=True)
            else:
                future = futures[run.info.run_id]
                done = _log(client, run, *(future.result() if future else _computed(tracking_uri, run, windows)))
            results.append(done)
            if on_run:
                on_run(done)
        return results
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _describe(run: Run) -> str:
    return f"run {run.info.run_id} ({run.data.tags.get(CELL_TAG, run.info.run_name)} " \
           f"seed={run.data.tags.get(SEED_TAG, '?')})"


def _computed(tracking_uri: str, run: Run,
              windows: Sequence[int]) -> tuple[dict[str, float], dict[str, object], dict[str, dict[str, int]], float]:
    """(values, settings, the tuned windows, seconds) of one run: reads its artifacts, logs nothing."""
    start = time.perf_counter()
    client = open_client(tracking_uri)
    run_id = run.info.run_id
    raw = load_config(client, run_id)
    if raw is None:
        raise SedStudyError(f"{_describe(run)}: no config.json; only trial runs recorded by `sedstudy run` can be "
                            f"post-processed")
    ecfg = config_from_dict(raw, source=f"{_describe(run)} config.json", recorded=True).evaluation
    tuning_split, test_split = ecfg.selection_split, ecfg.test_split
    if tuning_split == test_split:
        raise SedStudyError(f"{_describe(run)}: its selection split is its test split {test_split!r}: tuning the "
                            f"median filters there would choose them on the clips they are scored on; "
                            f"post-processing tunes on a validation split only")
    stored = {split: (load_raw_scores(client, run_id, split), load_reference(client, run_id, split))
              for split in (tuning_split, test_split)}
    missing = [split for split, (scores, reference) in stored.items() if scores is None or reference is None]
    if missing:
        raise SedStudyError(f"{_describe(run)}: no unfiltered scores or labels of {', '.join(missing)} "
                            f"(raw_scores/, reference/): the run was recorded before trials stored them; "
                            f"rerun its trial to post-process it")
    (tune_scores, tune_ref), (test_scores, test_ref) = stored[tuning_split], stored[test_split]
    first = next(iter(test_scores.values()))
    hop = float(first["offset"].iloc[0] - first["onset"].iloc[0])
    classes = [c for c in first.columns if c not in ("onset", "offset")]
    test = (test_ref.ground_truth, test_ref.durations)
    trained = class_filtered(test_scores, dict.fromkeys(classes, ecfg.median_window), mode=ecfg.median_mode)
    values: dict[str, float] = {}
    chosen: dict[str, dict[str, int]] = {}
    for name in SCENARIOS:
        scenario = PSDSScenario(**getattr(ecfg, name).model_dump())
        values[postprocess_metric("raw", name)], _ = per_class_psds(test_scores, *test, scenario)
        values[postprocess_metric("median", name)], _ = per_class_psds(trained, *test, scenario)
        chosen[name] = tune_class_windows(tune_scores, tune_ref.ground_truth, tune_ref.durations, scenario,
                                          windows=windows, mode=ecfg.median_mode)
        tuned = class_filtered(test_scores, chosen[name], mode=ecfg.median_mode)
        values[postprocess_metric("tuned_median", name)], _ = per_class_psds(tuned, *test, scenario)
        values[postprocess_metric("tuned_median", f"{name}_t50")] = published_psds(tuned, *test, scenario)
        values[postprocess_metric("pipsds", name)] = pipsds(test_scores, *test, scenario,
                                                            lengths_s=[w * hop for w in windows])
    settings = {"tuned_on": tuning_split, "applied_to": test_split, "windows_frames": list(windows),
                "frame_hop_s": hop, "objective": "single-class PSDS of each scenario", "mode": ecfg.median_mode}
    return values, settings, chosen, time.perf_counter() - start


def _log(client: MlflowClient, run: Run, values: dict[str, float], settings: dict[str, object],
         chosen: dict[str, dict[str, int]], seconds: float) -> RunPostprocess:
    run_id = run.info.run_id
    client.log_dict(run_id, {"settings": settings, "windows": chosen}, POSTPROCESS_ARTIFACT)
    client.set_tag(run_id, POSTPROCESS_TAG, json.dumps(settings, sort_keys=True))
    now = int(time.time() * 1000)
    metrics = sorted((Metric(k, v, now, 0) for k, v in values.items()), key=lambda m: m.key == DONE_MARKER)
    for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):  # the marker last: a run that has it has everything
        client.log_batch(run_id, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])
    tags = run.data.tags
    return RunPostprocess(run_id, tags.get(CELL_TAG, run.info.run_name), tags.get(SEED_TAG, "?"), values, seconds)
