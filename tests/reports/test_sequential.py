"""Group-sequential decisions: the spending boundaries, the repeated intervals, the looks a contrast is read at."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reports.fetch.sequential_design import SequentialSeeds, schedule
from reports.stats.sequential import (
    BETTER,
    EQUIVALENT,
    UNDECIDED,
    boundaries,
    complete_looks,
    decide,
    repeated_p_value,
    sequential_contrast,
    spent,
)


def test_boundaries_match_the_published_tables() -> None:
    """Pocock-type spending, 5 equally spaced looks, two-sided 0.05 (Jennison & Turnbull 2000, table 7.6 /
    gsDesign sfLDPocock): 2.438, 2.427, 2.410, 2.397, 2.386; one look is the fixed-sample z."""
    looks = [0.2, 0.4, 0.6, 0.8, 1.0]
    assert boundaries(looks, 0.05, "pocock") == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=1e-3)
    assert boundaries([1.0], 0.05, "obrien_fleming") == pytest.approx([stats.norm.isf(0.025)])
    of = boundaries(looks, 0.05, "obrien_fleming")
    assert list(of) == sorted(of, reverse=True) and of[0] == pytest.approx(stats.norm.isf(spent(0.2, 0.05,
                                                                                                 "obrien_fleming") / 2))
    assert spent(1.0, 0.05, "obrien_fleming") == pytest.approx(0.05) and spent(1.0, 0.05, "pocock") == pytest.approx(
        0.05)


def test_boundaries_spend_alpha_on_a_simulated_brownian_motion() -> None:
    """The chance that a null path crosses some boundary is alpha (within Monte Carlo error)."""
    rng = np.random.default_rng(0)
    fractions = np.array([3, 5, 7, 9, 11]) / 11
    bounds = boundaries(fractions, 0.05, "obrien_fleming")
    steps = rng.normal(0, 1, (200_000, len(fractions))) * np.sqrt(np.diff(fractions, prepend=0.0))
    z = np.cumsum(steps, axis=1) / np.sqrt(fractions)
    rate = float((np.abs(z) >= bounds).any(axis=1).mean())
    assert rate == pytest.approx(0.05, abs=3 * math.sqrt(0.05 * 0.95 / 200_000))


def test_decisions_read_off_the_repeated_interval() -> None:
    looks = schedule(3, 2, 11)
    assert looks == (3, 5, 7, 9, 11) and schedule(4, 4, 4) == (4,)
    clear = decide([0.05, 0.051, 0.049, 0.05, 0.052] + [0.05] * 6, looks, 11, alpha=0.05, min_effect=0.01,
                   spending="pocock")
    assert clear.decision == BETTER and clear.decided_at == 3 and len(clear.looks) == 1
    assert clear.looks[0].low > 0 and clear.p_value < 0.05
    flat = decide([0.001, -0.001] * 6, looks, 11, alpha=0.05, min_effect=0.01, spending="obrien_fleming")
    assert flat.decision == EQUIVALENT and -0.01 < flat.looks[-1].low and flat.looks[-1].high < 0.01
    noisy = decide(np.random.default_rng(1).normal(0.0, 0.05, 11), looks, 11, alpha=0.05, min_effect=0.01,
                   spending="obrien_fleming")
    assert noisy.decision == UNDECIDED and [look.n for look in noisy.looks] == list(looks)


def test_the_repeated_p_value_is_where_the_decision_flips() -> None:
    diffs = np.random.default_rng(3).normal(0.01, 0.01, 11)
    p = repeated_p_value(diffs, [3, 5, 7, 9, 11], 11, "obrien_fleming")
    for alpha, rejects in ((p * 1.05, True), (p * 0.95, False)):
        contrast = decide(diffs, (3, 5, 7, 9, 11), 11, alpha=alpha, min_effect=1e-9, spending="obrien_fleming",
                          p_value=False)
        assert (contrast.decision == BETTER) is rejects, (alpha, contrast)


def test_a_look_counts_its_seeds_that_ended_and_pairs_those_that_finished() -> None:
    design = SequentialSeeds(initial=2, step=2, max=6, first=10, min_effect=0.01)
    assert design.seeds == [10, 11, 12, 13, 14, 15] and design.looks == (2, 4, 6)
    assert complete_looks(design, {10, 11, 12}, {10, 11, 12, 13}) == 1  # seed 13 of the cell has not ended
    cell = {10: 0.5, 11: 0.52, 12: 0.49, 13: 0.51}
    base = {10: 0.4, 11: 0.41, 13: 0.40}  # the baseline's seed 12 failed: no pair
    contrast = sequential_contrast(design, cell, base, looks_done=2, alpha=0.05, p_value=False)
    assert [look.n for look in contrast.looks][-1] == 3  # pairs 10, 11, 13
    assert contrast.looks[-1].diff == pytest.approx(np.mean([0.1, 0.11, 0.11]))
