"""Group-sequential decisions for adaptive seeds: repeated confidence intervals from an alpha-spending function.

A contrast (a cell against the baseline, paired by seed) is looked at after n_1 < n_2 < ... <= n_max seed pairs.
Its two-sided boundaries c_1, ..., c_K come from a Lan-DeMets alpha-spending function of the information fraction
t_k = n_k / n_max (Lan & DeMets 1983, Biometrika 70:659): O'Brien-Fleming type alpha(t) = 2 - 2 Phi(z_{1-a/2} /
sqrt t), or Pocock type alpha(t) = a ln(1 + (e - 1) t). c_k solves P(|Z_j| < c_j for j < k, |Z_k| >= c_k) =
alpha(t_k) - alpha(t_{k-1}) for the joint normal look statistics, corr(Z_i, Z_j) = sqrt(t_i / t_j) (the canonical
joint distribution), by numerical integration: deterministic, and fast enough to search alpha for a p-value.

At look k the repeated confidence interval (Jennison & Turnbull 1989, JRSS B 51:305; their book, 2000, ch. 9) is
mean difference +- q_k sd / sqrt(n_k), where q_k is the Student-t quantile (df n_k - 1) at the nominal level of c_k:
the intervals of every look cover the true difference together with probability about 1 - alpha, so a decision
read off them at any look is valid whatever the stopping. Decision: the interval excludes 0 -> better or worse (the
sequential test rejects); it lies within (-min_effect, +min_effect) -> equivalent; else undecided, and at n_max it
stays undecided (inconclusive). The repeated p-value is the smallest alpha whose intervals exclude 0 by that look.

No well-kept Python library computes spending-function boundaries (statsmodels and scipy do not; R's gsDesign and
rpact do), so the boundary recursion is written here on scipy's normal distribution and root finder.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

from reports.fetch.sequential_design import SequentialSeeds

SPENDING = ("obrien_fleming", "pocock")
BETTER, WORSE, EQUIVALENT, UNDECIDED = "better", "worse", "equivalent", "undecided"
DECIDED = (BETTER, WORSE, EQUIVALENT)
MIN_PAIRS = 2


def spent(t: float, alpha: float, spending: str) -> float:
    """Cumulative type I error spent by information fraction `t` (0 < t <= 1)."""
    if spending == "obrien_fleming":
        return float(2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(t)))
    if spending == "pocock":
        return float(alpha * math.log(1 + (math.e - 1) * t))
    raise ValueError(f"spending must be one of {list(SPENDING)}, but got {spending!r}")


def boundaries(fractions: Sequence[float], alpha: float, spending: str) -> np.ndarray:
    """Two-sided z boundaries c_1..c_K for looks at the increasing information `fractions` (the last <= 1)."""
    return np.array(_boundaries(tuple(round(float(t), 12) for t in fractions), float(alpha), spending))


GRID = 301  # points of the numerical integration over a look's continuation region (odd: Simpson's rule)


@lru_cache(maxsize=65536)
def _boundaries(fractions: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    """The recursion by numerical integration (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19) on
    the score scale S_k = Z_k sqrt(t_k), a Brownian motion at the information fractions: the density of S_k among
    the paths still inside every earlier boundary is carried look to look on a Simpson grid."""
    if not fractions or any(b <= a for a, b in zip(fractions, fractions[1:])) or not 0 < fractions[0] \
            or fractions[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must increase within (0, 1], but got {list(fractions)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), but got {alpha}")
    bounds: list[float] = []
    grid = mass = None  # the previous look's continuation region and the paths' probability mass on it
    previous_t, previous_spent = 0.0, 0.0
    for t in fractions:
        increment = spent(min(t, 1.0), alpha, spending) - previous_spent
        previous_spent += increment
        sd = math.sqrt(t - previous_t)
        if grid is None:
            c = float(stats.norm.isf(increment / 2)) if increment > 0 else math.inf
        else:
            def crossing(c: float, t: float = t, sd: float = sd, mass: np.ndarray = mass, grid: np.ndarray = grid,
                         increment: float = increment) -> float:
                b = c * math.sqrt(t)
                return float(mass @ (stats.norm.cdf((-b - grid) / sd) + stats.norm.sf((b - grid) / sd))) - increment

            if increment <= 0 or crossing(40.0) > 0 or crossing(1e-6) < 0:
                c = math.inf  # nothing left to spend at this look: it cannot reject
            else:
                c = float(optimize.brentq(crossing, 1e-6, 40.0, xtol=1e-10))
        bounds.append(c)
        b = min(c, 12.0) * math.sqrt(t)  # a boundary beyond 12 sds keeps practically every path
        new_grid = np.linspace(-b, b, GRID)
        if grid is None:
            density = stats.norm.pdf(new_grid, scale=sd)
        else:
            density = mass @ stats.norm.pdf((new_grid[None, :] - grid[:, None]) / sd) / sd
        weights = np.full(GRID, 2.0)
        weights[1::2] = 4.0
        weights[0] = weights[-1] = 1.0
        mass = density * weights * (new_grid[1] - new_grid[0]) / 3
        grid, previous_t = new_grid, t
    return tuple(bounds)


@dataclass(frozen=True)
class Look:
    """One look at a contrast: pairs, mean difference, its repeated confidence interval, the decision then."""

    n: int
    diff: float
    low: float
    high: float
    decision: str


@dataclass(frozen=True)
class SequentialContrast:
    """The looks made at a contrast, its decision (the last look's), and its repeated p-value."""

    looks: tuple[Look, ...]
    p_value: float

    @property
    def decision(self) -> str:
        return self.looks[-1].decision if self.looks else UNDECIDED

    @property
    def decided_at(self) -> int | None:
        """The number of pairs at the look that decided it, None while undecided."""
        return self.looks[-1].n if self.looks and self.decision in DECIDED else None


def repeated_interval(diffs: np.ndarray, boundary: float) -> tuple[float, float, float]:
    """(mean, low, high) of the paired differences with the repeated interval of a look whose z boundary is
    `boundary` (the Student-t quantile at the same nominal level, df n - 1)."""
    n = len(diffs)
    mean = float(np.mean(diffs))
    if n < MIN_PAIRS:
        return mean, math.nan, math.nan
    if math.isinf(boundary):
        return mean, -math.inf, math.inf
    quantile = float(stats.t.isf(stats.norm.sf(boundary), n - 1))
    half = quantile * float(np.std(diffs, ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def decide(pairs: Sequence[float], looks: Sequence[int], maximum: int, *, alpha: float, min_effect: float,
           spending: str, p_value: bool = True) -> SequentialContrast:
    """Walk the looks in order over `pairs` (paired differences in seed order): each look uses the first n of them
    and stops at the first decision. `looks` are the pair counts looked at (increasing, <= maximum); `p_value`:
    also search the repeated p-value (NaN without)."""
    diffs = np.asarray(pairs, dtype=float)
    reached = [n for n in looks if n <= len(diffs)]
    bounds = boundaries([n / maximum for n in reached], alpha, spending) if reached else []
    made: list[Look] = []
    for n, boundary in zip(reached, bounds):
        mean, low, high = repeated_interval(diffs[:n], boundary)
        if math.isnan(low):
            decision = UNDECIDED
        elif low > 0:
            decision = BETTER
        elif high < 0:
            decision = WORSE
        elif -min_effect < low and high < min_effect:
            decision = EQUIVALENT
        else:
            decision = UNDECIDED
        made.append(Look(n, mean, low, high, decision))
        if decision in DECIDED:
            break
    found = repeated_p_value(diffs, [look.n for look in made], maximum, spending) if made and p_value else math.nan
    return SequentialContrast(tuple(made), found)


def repeated_p_value(diffs: np.ndarray, looks: Sequence[int], maximum: int, spending: str) -> float:
    """The smallest alpha at which some look's repeated interval excludes 0 (1 when none does at alpha 1 - 1e-9):
    P(any look's repeated p <= alpha) <= alpha under the null (Jennison & Turnbull 2000, section 9.4)."""
    usable = [n for n in looks if MIN_PAIRS <= n <= len(diffs)]
    if not usable or np.std(diffs[:usable[-1]], ddof=1) == 0:
        return math.nan
    fractions = [n / maximum for n in looks]

    def rejects(alpha: float) -> bool:
        for n, boundary in zip(looks, boundaries(fractions, alpha, spending)):
            _, low, high = repeated_interval(diffs[:n], boundary)
            if low > 0 or high < 0:
                return True
        return False

    if not rejects(1 - 1e-9):
        return 1.0
    low, high = 1e-9, 1 - 1e-9
    for _ in range(30):  # bisection on log alpha: 30 halvings of [1e-9, 1] reach a relative precision of 2e-3
        middle = math.sqrt(low * high)
        low, high = (low, middle) if rejects(middle) else (middle, high)
    return high


def contrast_alpha(alpha: float, contrasts: int) -> float:
    """Each contrast's level: the family's alpha split evenly (Bonferroni; Holm's step-down has no standard form over
    group-sequential tests), so the chance of any false verdict across the family stays at most alpha."""
    return alpha / max(contrasts, 1)


def complete_looks(design: SequentialSeeds, ended_cell: set[int], ended_baseline: set[int]) -> int:
    """How many of the design's looks have every seed ended (finished or failed) in the cell and the baseline."""
    done = 0
    for n in design.looks:
        window = design.seeds[:n]
        if not all(seed in ended_cell and seed in ended_baseline for seed in window):
            break
        done += 1
    return done


def contrasts_with_baseline(design: SequentialSeeds, *, alpha: float, cells: Sequence[str], baseline: str,
                            values: Mapping[tuple[str, int], float], ended: Iterable[tuple[str, int]],
                            p_value: bool = True) -> dict[str, tuple[int, SequentialContrast]]:
    """Every cell's contrast with the baseline as the launcher decides it, {cell: (complete looks, contrast)}:
    `values` the finished runs' metric by (cell, seed), `ended` the (cell, seed) of every finished or failed run;
    `alpha` each contrast's level. The launcher and the report both read the state from here."""
    by_cell: dict[str, dict[int, float]] = {}
    for (cell, seed), value in values.items():
        by_cell.setdefault(cell, {})[seed] = value
    ended_seeds: dict[str, set[int]] = {}
    for cell, seed in ended:
        ended_seeds.setdefault(cell, set()).add(seed)
    out = {}
    for cell in cells:
        if cell == baseline:
            continue
        done = complete_looks(design, ended_seeds.get(cell, set()), ended_seeds.get(baseline, set()))
        out[cell] = done, sequential_contrast(design, by_cell.get(cell, {}), by_cell.get(baseline, {}),
                                              looks_done=done, alpha=alpha, p_value=p_value)
    return out


def sequential_contrast(design: SequentialSeeds, cell: Mapping[int, float], baseline: Mapping[int, float], *,
                        looks_done: int, alpha: float, p_value: bool = True) -> SequentialContrast:
    """The contrast cell - baseline over the first `looks_done` looks, from the finished values by seed: a look
    counts the pairs among its seeds (a failed trial leaves its pair out), and a look that adds no pair is not a
    new look."""
    ordered = [seed for seed in design.seeds if seed in cell and seed in baseline]
    counts: list[int] = []
    for n in design.looks[:looks_done]:
        window = set(design.seeds[:n])
        pairs = sum(1 for seed in ordered if seed in window)
        if pairs and (not counts or pairs > counts[-1]):
            counts.append(pairs)
    if not counts:
        return SequentialContrast((), math.nan)
    diffs = [cell[seed] - baseline[seed] for seed in ordered[:counts[-1]]]
    return decide(diffs, counts, design.max, alpha=alpha, min_effect=design.min_effect, spending=design.spending,
                  p_value=p_value)
