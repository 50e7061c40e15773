"""Paired bootstrap over clips: resample the evaluation clips, recompute a clip-set statistic for both systems.

Seeds say how much training varies; clips say how much the test set does. The statistic (PSDS, an F-score) is a
function of a whole set of clips, so each resample draws clips with replacement, renames the k-th draw of a
clip `<clip>#<k>` (a drawn-twice clip counts twice) and calls the statistic on the resampled table; the same
draw is used for every system and seed, which pairs them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CLIP_COLUMN = "filename"
SOURCE_COLUMN = "source_clip"


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
                          statistic: Callable[[pd.DataFrame], float], *, clip_column: str = CLIP_COLUMN,
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
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, but got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), but got {confidence}")
    tables = [*tables_a, *tables_b]
    clips = _clips(tables[0], clip_column)
    for i, table in enumerate(tables[1:], start=1):
        other = _clips(table, clip_column)
        if other != clips:
            missing, extra = sorted(set(clips) - set(other))[:5], sorted(set(other) - set(clips))[:5]
            raise ValueError(f"table {i} covers other clips than table 0: missing {missing}, extra {extra}; "
                             "every table must score the same clips")
    groups = [_row_groups(table, clip_column, clips) for table in tables]
    pairs = len(tables_a)

    def diff(draw: np.ndarray) -> float:
        values = [statistic(_resample(table, rows, draw, clips, clip_column)) for table, rows in zip(tables, groups)]
        return float(np.mean([values[pairs + i] - values[i] for i in range(pairs)]))

    observed = diff(np.arange(len(clips)))
    rng = np.random.default_rng(seed)
    draws = np.array([diff(rng.integers(0, len(clips), len(clips))) for _ in range(n_resamples)])
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    below, above = (np.count_nonzero(draws <= 0) + 1) / (n_resamples + 1), \
        (np.count_nonzero(draws >= 0) + 1) / (n_resamples + 1)
    return BootstrapResult(diff=observed, ci_low=float(low), ci_high=float(high),
                           p_value=float(min(1.0, 2 * min(below, above))), n_clips=len(clips), n_resamples=n_resamples)


def read_score_tables(paths: Sequence[str], *, clip_column: str = CLIP_COLUMN) -> pd.DataFrame:
    """One long table of sed_scores_eval score files (`scores/<split>/<clip>.tsv`), the clip id from the name."""
    frames = []
    for path in sorted(paths, key=str):
        frame = pd.read_csv(path, sep="\t")
        name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
        frame.insert(0, clip_column, name.removesuffix(".tsv"))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[clip_column])
    return pd.concat(frames, ignore_index=True)


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
    counts: dict[int, int] = {}
    names = []
    for i in draw:
        k = counts.get(int(i), 0)
        counts[int(i)] = k + 1
        names += [f"{clips[i]}#{k}"] * len(rows[i])
    out[SOURCE_COLUMN] = out[clip_column].astype(str)
    out[clip_column] = names
    return out

