"""Main effects and two-way interactions of the factors: factorial ANOVA with seeds as replicates (statsmodels)."""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import cache

import pandas as pd
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.tools.sm_exceptions import ValueWarning

try:  # installed with MLflow (through scikit-learn); without it, BLAS keeps its own thread count
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

EFFECT_COLUMNS = ("metric", "term", "df", "sum_sq", "F", "p", "partial_eta_sq", "significant", "note")
INTERACTION = " × "
RESIDUAL = "residual"


def factor_effects(frame: pd.DataFrame, factors: Sequence[str], metric: str, *, typ: int = 2,
                   alpha: float = 0.05) -> pd.DataFrame:
    """ANOVA table of `metric ~ factors + their two-way interactions` over the finished trials in `frame`.

    `frame`: one row per finished trial, one column per factor (levels as categories) and the metric. Each seed
    is a replicate of its cell. Returns one row per factor, then per pair `a × b` in factor order, then the
    residual; columns metric, term, df, sum_sq, F, p, partial_eta_sq (SS_term / (SS_term + SS_residual)),
    significant (p < alpha) and note. Sums of squares are of type `typ` (2: each main effect adjusted for the
    other main effects; 3 needs sum-to-zero contrasts to mean anything and is not offered). Terms that cannot be
    estimated are kept with NaN and a note: a factor with one observed level, a pair with an unobserved level
    combination, interactions when there are too few replicates for a residual.
    """
    if typ != 2:
        raise ValueError(f"typ must be 2 (type II sums of squares), but got {typ}")
    data = frame[[*factors, metric]]
    data = data[data[metric].notna()]
    counts = {factor: data[factor].nunique() for factor in factors}
    notes: dict[str, str] = {}
    main = []
    for factor in factors:
        if counts[factor] >= 2:
            main.append(factor)
        else:
            notes[factor] = "one level with finished runs: no effect to test"
    pairs = []
    for a, b in itertools.combinations(factors, 2):
        term = f"{a}{INTERACTION}{b}"
        if a not in main or b not in main:
            notes[term] = "a factor of the pair has one level with finished runs"
        elif len(set(zip(data[a], data[b]))) < counts[a] * counts[b]:
            notes[term] = "not estimable: level combinations without finished runs"
        else:
            pairs.append((a, b))
    if pairs and len(data) - _n_params(data, main, pairs) <= 0:
        for a, b in pairs:
            notes[f"{a}{INTERACTION}{b}"] = "left out: no replicates left for a residual (add seeds)"
        pairs = []
    rows = {term: _empty(metric, term, note) for term, note in notes.items()}
    residual = _empty(metric, RESIDUAL, "")
    values = data[metric].to_numpy(dtype=float)
    if main and values.size and values.min() == values.max():
        for term in [*main, *(f"{a}{INTERACTION}{b}" for a, b in pairs)]:
            rows[term] = _empty(metric, term, "the metric does not vary: every finished trial has the same value")
    elif main and len(data) - _n_params(data, main, pairs) > 0:
        rows.update(_fit(data, metric, main, pairs, typ, alpha))
        residual = rows.pop(RESIDUAL)
    elif main:
        residual["note"] = "no replicates left for a residual: add seeds"
        for factor in main:
            rows[factor] = _empty(metric, factor, "not testable without a residual")
    order = [*factors, *(f"{a}{INTERACTION}{b}" for a, b in itertools.combinations(factors, 2))]
    return pd.DataFrame([rows[term] for term in order if term in rows] + [residual], columns=list(EFFECT_COLUMNS))


def _fit(data: pd.DataFrame, metric: str, main: list[str], pairs: list[tuple[str, str]], typ: int,
         alpha: float) -> dict[str, dict[str, object]]:
    names = {factor: f"f{i}" for i, factor in enumerate(main)}
    renamed = pd.DataFrame({names[f]: data[f].astype(str).to_numpy() for f in main})
    renamed["y"] = data[metric].to_numpy(dtype=float)
    terms = [f"C({names[f]})" for f in main] + [f"C({names[a]}):C({names[b]})" for a, b in pairs]
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore", RuntimeWarning)  # F of a term with zero residual variance
        warnings.simplefilter("ignore", ValueWarning)  # a term without variance: its row is NaN, noted below
        table = anova_lm(ols("y ~ " + " + ".join(terms), renamed).fit(), typ=typ)
    labels = dict(zip(terms, [*main, *(f"{a}{INTERACTION}{b}" for a, b in pairs)]))
    rows = table.to_dict("index")
    ss_resid = float(rows["Residual"]["sum_sq"])
    out: dict[str, dict[str, object]] = {}
    for term, label in labels.items():
        ss, p = float(rows[term]["sum_sq"]), float(rows[term]["PR(>F)"])
        eta = ss / (ss + ss_resid) if ss + ss_resid > 0 else math.nan
        out[label] = {"metric": metric, "term": label, "df": float(rows[term]["df"]), "sum_sq": ss,
                      "F": float(rows[term]["F"]), "p": p, "partial_eta_sq": eta, "significant": bool(p < alpha),
                      "note": "" if not math.isnan(p) else "not testable: no residual variance"}
    out[RESIDUAL] = {**_empty(metric, RESIDUAL, ""), "df": float(rows["Residual"]["df"]), "sum_sq": ss_resid}
    return out


def _one_blas_thread() -> AbstractContextManager:
    """A design of a few thousand rows needs no parallel BLAS, and on a busy two-core machine its threads spin
    against each other (a 10,000 x 100 least-squares fit: 1.5 s with two threads, 0.13 s with one)."""
    controller = _controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else nullcontext()


@cache
def _controller() -> object | None:
    """One scan of the loaded BLAS libraries (a scan per fit costs more than a small fit)."""
    return ThreadpoolController() if ThreadpoolController is not None else None


def _n_params(data: pd.DataFrame, main: list[str], pairs: list[tuple[str, str]]) -> int:
    """Columns of the design: intercept, (levels - 1) per main effect, their products per interaction."""
    levels = {factor: data[factor].nunique() for factor in main}
    return 1 + sum(n - 1 for n in levels.values()) + sum((levels[a] - 1) * (levels[b] - 1) for a, b in pairs)


def _empty(metric: str, term: str, note: str) -> dict[str, object]:
    return {"metric": metric, "term": term, "df": math.nan, "sum_sq": math.nan, "F": math.nan, "p": math.nan,
            "partial_eta_sq": math.nan, "significant": False, "note": note}
