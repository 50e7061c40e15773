"""Cells against the baseline cell (or any pairs of cells), paired by seed: paired t-test, Wilcoxon signed-rank,
p-values corrected within each metric."""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from reports.fetch.analysis_plan import CONTRAST_TESTS, CORRECTIONS, MIN_WILCOXON_SEEDS
from reports.stats.intervals import t_half_width

MIN_PAIRS = 2
MIN_WILCOXON_PAIRS = MIN_WILCOXON_SEEDS
COMPARISON_COLUMNS = ("cell", "reference", "metric", "n_pairs", "baseline_mean", "cell_mean", "diff", "diff_ci_low",
                      "diff_ci_high", "t", "p_t", "p_wilcoxon", "p_t_adj", "p_wilcoxon_adj", "significant", "note")
_FILLED = COMPARISON_COLUMNS[4:-1]  # NaN until tested


def compare_to_baseline(frame: pd.DataFrame, *, cells: Sequence[str], baseline: str, metrics: Sequence[str],
                        correction: str = "holm", alpha: float = 0.05, test: str = "paired_t") -> pd.DataFrame:
    """One row per (cell other than the baseline, metric), in cell order then metric order; never drops a cell.

    `frame`: finished trials with columns cell, seed and one column per metric (NaN = not logged). Pairs are the
    seeds where both the cell and the baseline logged the metric. diff = cell - baseline (mean over pairs) with a
    95 % t interval; `p_t` from the paired t-test, `p_wilcoxon` from the signed-rank test when there are at least
    6 pairs. Each metric's rows are one family: both p-values are corrected across them with `correction`
    ("holm" or "bh"); `significant` = the corrected p of `test` ("paired_t" or "wilcoxon") < alpha. Rows without
    a test carry NaN and a note.
    """
    return compare_cells(frame, [(cell, baseline) for cell in cells if cell != baseline], metrics=metrics,
                         correction=correction, alpha=alpha, test=test)


def all_pairs(cells: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of cells as (cell, reference), the later cell in design order against the earlier one."""
    return [(b, a) for a, b in itertools.combinations(cells, 2)]


def compare_cells(frame: pd.DataFrame, contrasts: Sequence[tuple[str, str]], *, metrics: Sequence[str],
                  correction: str = "holm", alpha: float = 0.05, test: str = "paired_t") -> pd.DataFrame:
    """compare_to_baseline for any contrasts (cell, reference): diff = cell - reference, paired by seed; the
    reference's mean is in `baseline_mean`. One row per (contrast, metric); each metric's rows are one family."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {list(CORRECTIONS)}, but got {correction!r}")
    if test not in CONTRAST_TESTS:
        raise ValueError(f"test must be one of {list(CONTRAST_TESTS)}, but got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), but got {alpha}")
    values = _values_by_cell(frame, metrics)
    rows: list[dict[str, object]] = []
    pending: list[tuple[int, np.ndarray]] = []  # (row, paired differences) of the rows to test
    for cell, reference in contrasts:
        for metric in metrics:
            row, diffs = _pair(cell, reference, metric, values.get((cell, metric), {}),
                               values.get((reference, metric), {}))
            if diffs is not None:
                pending.append((len(rows), diffs))
            rows.append(row)
    _test(rows, pending)
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    for column in ("p_t", "p_wilcoxon"):
        table[f"{column}_adj"] = math.nan
        for _, index in table.groupby("metric", sort=False).groups.items():
            table.loc[index, f"{column}_adj"] = adjust(table.loc[index, column].to_numpy(dtype=float), correction)
    table["significant"] = table["p_t_adj" if test == "paired_t" else "p_wilcoxon_adj"] < alpha
    return table


def adjust(p_values: np.ndarray, correction: str) -> np.ndarray:
    """Corrected p-values over the non-NaN entries (one family); NaN stays NaN."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {list(CORRECTIONS)}, but got {correction!r}")
    out = np.full(p_values.shape, math.nan)
    tested = ~np.isnan(p_values)
    if tested.any():
        out[tested] = holm(p_values[tested]) if correction == "holm" else stats.false_discovery_control(
            p_values[tested], method="bh")
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): p_(i) * (m - i + 1), made monotone, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * (len(p) - np.arange(len(p))))
    out = np.empty_like(p)
    out[order] = np.maximum.accumulate(scaled)
    return out


def _values_by_cell(frame: pd.DataFrame, metrics: Sequence[str]) -> dict[tuple[str, str], dict[int, float]]:
    """{(cell, metric): {seed: value}} of the logged (non-NaN) values."""
    cells = frame["cell"].to_numpy()
    seeds = frame["seed"].to_numpy()
    out: dict[tuple[str, str], dict[int, float]] = {}
    for metric in metrics:
        column = frame[metric].to_numpy(dtype=float)
        for cell, seed, value in zip(cells, seeds, column):
            if not math.isnan(value):
                out.setdefault((cell, metric), {})[int(seed)] = float(value)
    return out


def _pair(cell: str, reference_cell: str, metric: str, trials: dict[int, float],
          reference: dict[int, float]) -> tuple[dict[str, object], np.ndarray | None]:
    """The row's pairing facts and notes, and the paired differences when there are enough of them to test."""
    row: dict[str, object] = {"cell": cell, "reference": reference_cell, "metric": metric, "n_pairs": 0,
                              **dict.fromkeys(_FILLED, math.nan), "significant": False, "note": ""}
    if not reference:
        row["note"] = "the reference cell has no finished runs"
        return row, None
    if not trials:
        row["note"] = "no finished runs"
        return row, None
    seeds = sorted(set(trials) & set(reference))
    unpaired = sorted(set(trials) - set(reference))
    a = np.array([reference[seed] for seed in seeds])
    b = np.array([trials[seed] for seed in seeds])
    notes = [f"seeds without a pair in the reference cell: {', '.join(map(str, unpaired))}"] if unpaired else []
    row.update(n_pairs=len(seeds), baseline_mean=float(a.mean()) if seeds else math.nan,
               cell_mean=float(b.mean()) if seeds else math.nan, note="; ".join(notes))
    if len(seeds) < MIN_PAIRS:
        row["note"] = "; ".join([f"{len(seeds)} paired seed(s), a test needs {MIN_PAIRS}", *notes])
        return row, None
    return row, b - a


def _test(rows: list[dict[str, object]], pending: list[tuple[int, np.ndarray]]) -> None:
    """Fill diff, its 95 % t interval, the paired t-test and the Wilcoxon test into `rows`, vectorised over the
    rows with the same number of pairs (the same as stats.ttest_rel and stats.wilcoxon row by row)."""
    by_size: dict[int, list[tuple[int, np.ndarray]]] = {}
    for index, diffs in pending:
        by_size.setdefault(len(diffs), []).append((index, diffs))
    for n, group in by_size.items():
        matrix = np.stack([diffs for _, diffs in group])  # (rows, n)
        mean = matrix.mean(axis=1)
        sd = matrix.std(axis=1, ddof=1)
        half = t_half_width(sd, n)
        constant = sd <= 1e-12 * np.maximum(1.0, np.abs(matrix).max(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = mean / (sd / math.sqrt(n))
        p = 2 * stats.t.sf(np.abs(t), n - 1)
        wilcoxon = _wilcoxon(matrix) if n >= MIN_WILCOXON_PAIRS else np.full(len(group), math.nan)
        for k, (index, _) in enumerate(group):
            row = rows[index]
            notes = [str(row["note"])] if row["note"] else []
            row.update(diff=float(mean[k]), diff_ci_low=float(mean[k] - half[k]), diff_ci_high=float(mean[k] + half[k]))
            if constant[k]:
                notes.append("the difference is the same for every seed: no test")
            else:
                row.update(t=float(t[k]), p_t=float(p[k]), p_wilcoxon=float(wilcoxon[k]))
                if n < MIN_WILCOXON_PAIRS:
                    notes.append(f"Wilcoxon needs {MIN_WILCOXON_PAIRS} pairs")
            row["note"] = "; ".join(notes)


def _wilcoxon(matrix: np.ndarray) -> np.ndarray:
    """Two-sided Wilcoxon signed-rank p per row; rows without zeros or tied magnitudes in one call (exact up to
    50 pairs), the others one by one (scipy then picks its method per row); NaN for all-zero rows."""
    out = np.full(len(matrix), math.nan)
    magnitudes = np.sort(np.abs(matrix), axis=1)
    clean = (magnitudes[:, 0] > 0) & (np.diff(magnitudes, axis=1) > 0).all(axis=1)
    if clean.any():
        out[clean] = stats.wilcoxon(matrix[clean], axis=1).pvalue
    for k in np.flatnonzero(~clean):
        if np.count_nonzero(matrix[k]):
            out[k] = float(stats.wilcoxon(matrix[k]).pvalue)
    return out
