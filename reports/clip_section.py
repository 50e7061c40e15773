"""The report's bootstrap over clips: wired when the trials store frame scores (`scores/<split>/*.tsv`)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from mlflow.tracking import MlflowClient

from reports.artifacts import SCORES_DIR, load_scores, score_splits
from reports.bootstrap import paired_clip_bootstrap
from reports.load import FINISHED, StudyRuns

CLIP_COLUMNS = ("cell", "split", "n_pairs", "n_clips", "diff", "ci_low", "ci_high", "p", "note")
ClipStatistic = Callable[[pd.DataFrame], float]


@dataclass(frozen=True)
class ClipBootstrap:
    """`table` (columns CLIP_COLUMNS, one row per compared cell) or a note saying why it was skipped."""

    table: pd.DataFrame
    note: str


def clip_bootstrap(client: MlflowClient, runs: StudyRuns, cells: Sequence[str], *,
                   statistic: ClipStatistic | None, split: str | None, n_resamples: int = 1000,
                   seed: int = 0) -> ClipBootstrap:
    """Each of `cells` against the baseline, paired by seed, resampling clips (`bootstrap.paired_clip_bootstrap`).

    Looks at the first finished baseline run only to decide whether scores are stored at all (one listing);
    a cell whose paired runs lack the split's scores gets a row with a note instead of numbers.
    """
    empty = pd.DataFrame(columns=list(CLIP_COLUMNS))
    finished = runs.runs[runs.runs["status"] == FINISHED]
    baseline = finished[finished["cell"] == runs.baseline_cell]
    if baseline.empty:
        return ClipBootstrap(empty, "Bootstrap over clips: skipped, the baseline cell has no finished run.")
    splits = score_splits(client, baseline["run_id"].iloc[0])
    if not splits:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, the trials store no frame scores (artifacts "
                                    f"`{SCORES_DIR}/<split>/*.tsv`).")
    if statistic is None:
        return ClipBootstrap(empty, f"Bootstrap over clips: frame scores are stored (splits {', '.join(splits)}) "
                                    "but no clip statistic was given (build_report(clip_statistic=...)).")
    if split is None and len(splits) > 1:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, scores of several splits ({', '.join(splits)}) "
                                    "are stored; choose one (build_report(clip_split=...)).")
    split = split or splits[0]
    if split not in splits:
        return ClipBootstrap(empty, f"Bootstrap over clips: skipped, no scores of split {split!r} (stored: "
                                    f"{', '.join(splits)}).")
    reference = dict(zip(baseline["seed"], baseline["run_id"]))
    stored: dict[str, bool] = {}

    def has_scores(run_id: str) -> bool:
        if run_id not in stored:
            stored[run_id] = split in score_splits(client, run_id)
        return stored[run_id]

    rows = []
    for cell in cells:
        if cell == runs.baseline_cell:
            continue
        trials = finished[finished["cell"] == cell]
        mine = dict(zip(trials["seed"], trials["run_id"]))
        seeds = sorted(set(mine) & set(reference))
        lacking = [seed for seed in seeds if not (has_scores(reference[seed]) and has_scores(mine[seed]))]
        if not seeds or lacking:
            note = "no finished seed pairs" if not seeds else \
                f"no stored scores of split {split!r} for seeds {', '.join(map(str, lacking))}"
            rows.append({"cell": cell, "split": split, "n_pairs": len(seeds), "note": note})
            continue
        result = paired_clip_bootstrap([load_scores(client, reference[s], split) for s in seeds],
                                       [load_scores(client, mine[s], split) for s in seeds], statistic,
                                       n_resamples=n_resamples, seed=seed)
        rows.append({"cell": cell, "split": split, "n_pairs": len(seeds), "n_clips": result.n_clips,
                     "diff": result.diff, "ci_low": result.ci_low, "ci_high": result.ci_high, "p": result.p_value,
                     "note": ""})
    return ClipBootstrap(pd.DataFrame(rows, columns=list(CLIP_COLUMNS)), "")
