"""The report's bootstrap over clips: wired when the trials store frame scores (`scores/<split>/*.tsv`).

The default statistic is a PSDS scenario ("psds1", "psds2"), recomputed on each resample from the stored frame
scores and the stored labels of the split (`reference/<split>/`), with the scenario the trials were scored with
(`config.json`). Each run's bootstrap distribution is computed once and shared by every comparison it is in.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from reports.contract import SCORES_ARTIFACT_DIR
from reports.fetch.artifacts import load_config, load_reference, load_scores, score_splits
from reports.fetch.load import FINISHED, StudyRuns
from reports.stats.bootstrap import ClipStatistic, clip_draws, common_clips, paired_result, statistic_values
from reports.stats.clip_psds import PsdsStatistic
from reports.stats.comparisons import adjust
from sed_core.metrics.sed_metrics import DEFAULT_PSDS_SCENARIOS, PSDSScenario

logger = logging.getLogger(__name__)

CLIP_COLUMNS = ("cell", "split", "statistic", "n_pairs", "n_clips", "diff", "ci_low", "ci_high", "p", "p_adj", "why",
                "note")
WHY_ALL = "every cell against the baseline: the plan's rule, which looks at no result"
PSDS_STATISTICS = tuple(DEFAULT_PSDS_SCENARIOS)


@dataclass(frozen=True)
class ClipBootstrap:
    """`table` (columns CLIP_COLUMNS, one row per compared cell) or a note saying why it was skipped."""

    table: pd.DataFrame
    note: str


def clip_bootstrap(client: MlflowClient, runs: StudyRuns, cells: Sequence[str], *,
                   statistic: ClipStatistic | str | None, split: str | None, n_resamples: int = 1000,
                   seed: int = 0, correction: str = "holm", why: str = WHY_ALL) -> ClipBootstrap:
    """Each of `cells` against the baseline, paired by seed, resampling clips (the same draws for every run).

    The bootstrap p-values of the compared cells are one family, corrected with `correction` (`p_adj`); `why`
    says on every row why the cell is compared (the rule that chose the cells, never their results).

    `statistic`: a PSDS scenario name ("psds1", "psds2"), a clip statistic (`bootstrap.ClipStatistic`), or
    None to skip. Looks at the first finished baseline run to decide whether scores are stored at all; a cell
    whose paired runs lack the split's scores gets a row with a note instead of numbers.
    """
    empty = pd.DataFrame(columns=list(CLIP_COLUMNS))
    finished = runs.runs[runs.runs["status"] == FINISHED]
    baseline = finished[finished["cell"] == runs.baseline_cell]
    if baseline.empty:
        return ClipBootstrap(empty, "Bootstrap over clips: skipped, the baseline cell has no finished run.")
    if statistic is None:
        return ClipBootstrap(empty, "Bootstrap over clips: not computed (no clip statistic was chosen).")
    first = baseline["run_id"].iloc[0]
    splits = score_splits(client, first)
    if not splits:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, the trials store no frame scores (artifacts "
                                    f"`{SCORES_ARTIFACT_DIR}/<split>/*.tsv`).")
    if split is None and len(splits) > 1:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, scores of several splits ({', '.join(splits)}) "
                                    "are stored; choose one (build_report(clip_split=...)).")
    split = split or splits[0]
    if split not in splits:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, no scores of split {split!r} (stored: "
                                    f"{', '.join(splits)}).")
    name = statistic if isinstance(statistic, str) else getattr(statistic, "__name__", type(statistic).__name__)
    if isinstance(statistic, str):
        statistic, note = psds_statistic(client, first, split, statistic)
        if statistic is None:
            return ClipBootstrap(empty, note)

    reference = dict(zip(baseline["seed"], baseline["run_id"]))
    stored: dict[str, bool] = {}

    def has_scores(run_id: str) -> bool:
        if run_id not in stored:
            stored[run_id] = split in score_splits(client, run_id)
        return stored[run_id]

    plans, rows = [], []
    for cell in cells:
        if cell == runs.baseline_cell:
            continue
        trials = finished[finished["cell"] == cell]
        mine = dict(zip(trials["seed"], trials["run_id"]))
        seeds = sorted(set(mine) & set(reference))
        lacking = [s for s in seeds if not (has_scores(reference[s]) and has_scores(mine[s]))]
        if not seeds or lacking:
            note = "no finished seed pairs" if not seeds else \
                f"no stored scores of split {split!r} for seeds {', '.join(map(str, lacking))}"
            rows.append({"cell": cell, "split": split, "statistic": name, "n_pairs": len(seeds), "why": why,
                         "note": note})
        else:
            plans.append((cell, [(reference[s], mine[s]) for s in seeds]))
    if plans:
        started = time.monotonic()
        needed = sorted({run for _, pairs in plans for pair in pairs for run in pair})
        tables = {run: load_scores(client, run, split) for run in needed}
        clips = common_clips([tables[run] for run in needed])
        draws = clip_draws(len(clips), n_resamples, seed)
        values = _values_of_runs(tables, statistic, clips, draws)
        for cell, pairs in plans:
            result = paired_result([values[a] for a, _ in pairs], [values[b] for _, b in pairs], n_clips=len(clips))
            rows.append({"cell": cell, "split": split, "statistic": name, "n_pairs": len(pairs),
                         "n_clips": result.n_clips, "diff": result.diff, "ci_low": result.ci_low,
                         "ci_high": result.ci_high, "p": result.p_value, "why": why, "note": ""})
        logger.info("bootstrap over %d clips: %d runs x %d resamples of %s in %.1f s", len(clips), len(needed),
                    n_resamples, name, time.monotonic() - started)
    order = {cell: i for i, cell in enumerate(cells)}
    rows.sort(key=lambda row: order[row["cell"]])
    table = pd.DataFrame(rows, columns=list(CLIP_COLUMNS))
    table["p_adj"] = adjust(table["p"].to_numpy(dtype=float), correction)
    return ClipBootstrap(table, "")


def _values_of_runs(tables: dict[str, pd.DataFrame], statistic: ClipStatistic, clips: list[str],
                    draws: list) -> dict[str, np.ndarray]:
    """Each run's bootstrap distribution; PSDS runs in parallel processes (same values, one run per process)."""
    workers = min(len(tables), os.cpu_count() or 1)
    if workers < 2 or not isinstance(statistic, PsdsStatistic):
        return {run: statistic_values(table, statistic, clips, draws) for run, table in tables.items()}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {run: pool.submit(statistic_values, table, statistic, clips, draws) for run, table in tables.items()}
        return {run: future.result() for run, future in futures.items()}


def psds_statistic(client: MlflowClient, run_id: str, split: str, metric: str) -> tuple[PsdsStatistic | None, str]:
    """PSDS of `metric`'s scenario as the trials computed it, against the split's stored labels; else a note."""
    if metric not in PSDS_STATISTICS:
        raise ValueError(f"clip statistic {metric!r} is not a PSDS scenario; choose from {list(PSDS_STATISTICS)}")
    reference = load_reference(client, run_id, split)
    if reference is None:
        return None, (f"Bootstrap over clips: skipped, the trials store no labels of split {split!r} "
                      f"(artifacts `reference/{split}/`; trials of sedstudy before per-class metrics lack them).")
    config = load_config(client, run_id) or {}
    stored = config.get("evaluation", {}).get(metric)
    scenario = PSDSScenario(**stored) if stored else DEFAULT_PSDS_SCENARIOS[metric]
    return PsdsStatistic(reference, scenario), ""

