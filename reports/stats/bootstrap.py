"""Paired bootstrap over clips: resample the evaluation clips, recompute a clip-set statistic for both systems.

Seeds say how much training varies; clips say how much the test set does. The statistic (PSDS, an F-score) is a
function of a whole set of clips, so each resample draws clips with replacement, renames the k-th draw of a
clip `<clip>#<k>` (a drawn-twice clip counts twice) and calls the statistic on the resampled table; the same
draw is used for every system and seed, which pairs them.

A statistic is either a function of the resampled table, or an object with `prepare(table, clips)` that does
the per-clip work once and returns a function of the draw (clip indices into `clips`): PSDS precomputes each
clip's sed_scores_eval deltas, so a resample only sums them (`clip_psds.PsdsStatistic`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from reports.fetch.score_tables import CLIP_COLUMN

SOURCE_COLUMN = "source_clip"


class PreparedStatistic(Protocol):
    def prepare(self, table: pd.DataFrame, clips: list[str]) -> Callable[[np.ndarray], float]: ...


ClipStatistic = Callable[[pd.DataFrame], float] | PreparedStatistic


@dataclass(frozen=True)
class BootstrapResult:
    """diff = mean over pairs of statistic(b) - statistic(a); percentile interval; two-sided bootstrap p."""

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_clips: int
    n_resamples: int


def paired_clip_bootstrap(tables_a: Sequence[pd.DataFrame], tables_b: Sequence[pd.DataFrame],
                          statistic: ClipStatistic, *, clip_column: str = CLIP_COLUMN,
                          n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> BootstrapResult:
    """Bootstrap the difference b - a of a clip-set statistic; `tables_a[i]` and `tables_b[i]` are one seed pair.

    Each table is a per-clip score table (any rows per clip, e.g. the frames of sed_scores_eval score files,
    with the clip id in `clip_column`); all tables must cover the same clips. The statistic receives a
    resampled table whose `clip_column` holds unique ids `<clip>#<k>` and whose `source_clip` holds the original
    id (to look up ground truth). The p-value is 2 * min(P*(d <= 0), P*(d >= 0)) with the +1 correction.
    """
    if len(tables_a) != len(tables_b) or not tables_a:
        raise ValueError(f"expected the same number (>= 1) of tables per side, but got {len(tables_a)} and "
                         f"{len(tables_b)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence}")
    tables = [*tables_a, *tables_b]
    clips = common_clips(tables, clip_column)
    draws = clip_draws(len(clips), n_resamples, seed)
    values = [statistic_values(table, statistic, clips, draws, clip_column=clip_column) for table in tables]
    return paired_result(values[:len(tables_a)], values[len(tables_a):], n_clips=len(clips), confidence=confidence)


def common_clips(tables: Sequence[pd.DataFrame], clip_column: str = CLIP_COLUMN) -> list[str]:
    """The sorted clip ids every table covers; tables that cover other clips are refused, naming the difference."""
    clips = _clips(tables[0], clip_column)
    for i, table in enumerate(tables[1:], start=1):
        other = _clips(table, clip_column)
        if other != clips:
            missing, extra = sorted(set(clips) - set(other))[:5], sorted(set(other) - set(clips))[:5]
            raise ValueError(f"table {i} covers other clips than table 0: missing {missing}, extra {extra}; "
                             "every table must score the same clips")
    return clips


def clip_draws(n_clips: int, n_resamples: int, seed: int) -> list[np.ndarray]:
    """The resamples: `n_resamples` draws of `n_clips` clip indices with replacement; one seed, one sequence."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, but got {n_resamples}")
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_clips, n_clips) for _ in range(n_resamples)]


def statistic_values(table: pd.DataFrame, statistic: ClipStatistic, clips: list[str], draws: Sequence[np.ndarray],
                     *, clip_column: str = CLIP_COLUMN) -> np.ndarray:
    """The statistic on the original clips (index 0), then on each draw: one system's bootstrap distribution.

    Computed once per system, it serves every comparison the system is part of (the same draws pair them)."""
    if not hasattr(statistic, "prepare"):
        statistic = TableStatistic(statistic, clip_column)
    evaluate = statistic.prepare(table, clips)
    return np.array([evaluate(np.arange(len(clips))), *(evaluate(draw) for draw in draws)], dtype=np.float64)


def paired_result(values_a: Sequence[np.ndarray], values_b: Sequence[np.ndarray], *, n_clips: int,
                  confidence: float = 0.95) -> BootstrapResult:
    """b - a averaged over seed pairs, from each system's `statistic_values` on the same draws."""
    if len(values_a) != len(values_b) or not values_a:
        raise ValueError(f"expected the same number (>= 1) of systems per side, but got {len(values_a)} and "
                         f"{len(values_b)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence}")
    diffs = np.mean([b - a for a, b in zip(values_a, values_b)], axis=0)
    observed, draws = float(diffs[0]), diffs[1:]
    n_resamples = len(draws)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    below, above = (np.count_nonzero(draws <= 0) + 1) / (n_resamples + 1), \
        (np.count_nonzero(draws >= 0) + 1) / (n_resamples + 1)
    return BootstrapResult(diff=observed, ci_low=float(low), ci_high=float(high),
                           p_value=float(min(1.0, 2 * min(below, above))), n_clips=n_clips, n_resamples=n_resamples)


@dataclass(frozen=True)
class TableStatistic:
    """A function of the resampled table, whose `clip_column` holds `<clip>#<k>` and `source_clip` the clip."""

    function: Callable[[pd.DataFrame], float]
    clip_column: str = CLIP_COLUMN

    def prepare(self, table: pd.DataFrame, clips: list[str]) -> Callable[[np.ndarray], float]:
        rows = _row_groups(table, self.clip_column, clips)
        return lambda draw: self.function(_resample(table, rows, draw, clips, self.clip_column))


def resampled_ids(draw: np.ndarray, clips: Sequence[str]) -> list[str]:
    """`<clip>#<k>` for the k-th draw of each clip, in draw order: unique ids for a resample with repeats."""
    counts: dict[int, int] = {}
    names = []
    for i in draw:
        k = counts.get(int(i), 0)
        counts[int(i)] = k + 1
        names.append(f"{clips[i]}#{k}")
    return names


def _clips(table: pd.DataFrame, clip_column: str) -> list[str]:
    if clip_column not in table.columns:
        raise ValueError(f"expected a clip id column {clip_column!r}, but the table has columns {list(table.columns)}")
    return sorted(table[clip_column].astype(str).unique())


def _row_groups(table: pd.DataFrame, clip_column: str, clips: list[str]) -> list[np.ndarray]:
    index = {clip: i for i, clip in enumerate(clips)}
    codes = table[clip_column].astype(str).map(index).to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(clips) + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(len(clips))]


def _resample(table: pd.DataFrame, rows: list[np.ndarray], draw: np.ndarray, clips: list[str],
              clip_column: str) -> pd.DataFrame:
    picked = np.concatenate([rows[i] for i in draw]) if len(draw) else np.array([], dtype=int)
    out = table.iloc[picked].reset_index(drop=True)
    names = [name for i, name in zip(draw, resampled_ids(draw, clips)) for _ in range(len(rows[i]))]
    out[SOURCE_COLUMN] = out[clip_column].astype(str)
    out[clip_column] = names
    return out

