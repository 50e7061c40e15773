"""Main effects and two-way interactions of the factors, with seed as a block (statsmodels).

Every cell trains with the same seeds, and a seed fixes the initialisation and the data order in every cell, so
seed is a block: the factorial model is fitted within seeds. Which model depends on what finished:

- `blocked`: every cell has the same seeds (a randomised complete block design): OLS with `C(seed)` as a block,
  type II sums of squares.
- `mixed`: cells have different seeds (failed or missing trials): a linear mixed model with a random intercept
  per seed (REML), Wald F-tests of each term with sum-to-zero contrasts (type III), denominator df
  n - rank(X) - (seeds - 1), the residual df the complete design would have.
- `unreplicated`: one run per cell (one seed): the residual is the pooled interactions of the highest order the
  model leaves out. Its F and p hold only if those interactions are zero, so no term is called significant.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import cache

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.formula.api import mixedlm, ols
from statsmodels.stats.anova import anova_lm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, ValueWarning

try:  # installed with MLflow (through scikit-learn); without it, BLAS keeps its own thread count
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

EFFECT_COLUMNS = ("metric", "term", "df", "df_resid", "sum_sq", "F", "p", "partial_eta_sq", "significant", "model",
                  "note")
INTERACTION = " × "
RESIDUAL = "residual"
BLOCK = "seed (block)"
MODELS = {
    "blocked": "randomised complete block design: OLS with seed as a block (every cell has the same seeds), "
               "type II sums of squares",
    "mixed": "linear mixed model with a random intercept per seed (REML; cells have different seeds), Wald F-tests "
             "with sum-to-zero contrasts (type III), denominator df n - rank(X) - (seeds - 1); partial η² from F",
    "unreplicated": "one run per cell (one seed): the residual is the pooled interactions the model leaves out, "
                    "so F and p assume those interactions are zero; no term is called significant",
    "none": "no model: too few finished runs, or more levels than the model is fitted for",
}
UNREPLICATED_NOTE = "no verdict: one run per cell, the residual is the pooled higher-order interactions"


def factor_effects(frame: pd.DataFrame, factors: Sequence[str], metric: str, *, typ: int = 2,
                   alpha: float = 0.05) -> pd.DataFrame:
    """ANOVA table of `metric ~ seed block + factors + their two-way interactions` over the finished trials.

    `frame`: one row per finished trial with columns seed, one per factor (levels as categories) and the metric.
    Returns one row per factor, then per pair `a × b` in factor order, then the seed block (blocked model), then
    the residual; columns metric, term, df, df_resid, sum_sq, F, p, partial_eta_sq (SS_term / (SS_term +
    SS_residual); from F in the mixed model), significant (p < alpha, never in an unreplicated model), model (a
    key of MODELS, the same on every row) and note. Terms that cannot be estimated are kept with NaN and a note:
    a factor with one observed level, a pair with an unobserved level combination, interactions when there are
    too few runs for a residual. `typ` must be 2 (type III of the blocked model would need sum-to-zero contrasts).
    """
    if typ != 2:
        raise ValueError(f"typ must be 2 (type II sums of squares), but got {typ}")
    if "seed" not in frame.columns:
        raise ValueError(f"expected a seed column (seed is the block of the model), but got {list(frame.columns)}")
    data = frame[["seed", *factors, metric]]
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
    model = _model(data, main)
    blocks = data["seed"].nunique() - 1 if model in ("blocked", "mixed") else 0  # the seed block's columns

    def residual_df(pairs: list[tuple[str, str]]) -> int:
        return len(data) - _n_params(data, main, pairs) - blocks

    if pairs and residual_df(pairs) <= 0:
        for a, b in pairs:
            notes[f"{a}{INTERACTION}{b}"] = "left out: no runs left for a residual (add seeds)"
        pairs = []
    if pairs and _n_params(data, main, pairs) > MAX_PARAMS:
        for a, b in pairs:
            notes[f"{a}{INTERACTION}{b}"] = f"left out: more than {MAX_PARAMS} columns with the interactions"
        pairs = []
    if main and _n_params(data, main, pairs) > MAX_PARAMS:
        for factor in main:
            notes[factor] = (f"not fitted: {counts[factor]} levels make a model of {_n_params(data, main, [])} "
                             f"columns (at most {MAX_PARAMS}); the per-cell intervals and comparisons stand")
        main = []
    rows = {term: _empty(metric, term, note) for term, note in notes.items()}
    residual = _empty(metric, RESIDUAL, "")
    block: dict[str, object] | None = None
    values = data[metric].to_numpy(dtype=float)
    terms = [*main, *(f"{a}{INTERACTION}{b}" for a, b in pairs)]
    if main and values.size and values.min() == values.max():
        for term in terms:
            rows[term] = _empty(metric, term, "the metric does not vary: every finished trial has the same value")
    elif main and residual_df(pairs) > 0:
        fitted = _fit_mixed(data, metric, main, pairs, alpha) if model == "mixed" else None
        if fitted is None:
            model = "blocked" if model == "mixed" else model
            fitted = _fit_ols(data, metric, main, pairs, alpha, blocked=model == "blocked")
        rows.update(fitted)
        residual = rows.pop(RESIDUAL)
        block = rows.pop(BLOCK, None)
        if model == "unreplicated":
            for term in terms:
                rows[term].update(significant=False, note=UNREPLICATED_NOTE)
    elif main:
        residual["note"] = "no runs left for a residual: add seeds"
        for factor in main:
            rows[factor] = _empty(metric, factor, "not testable without a residual")
    else:
        model = "none"
    order = [*factors, *(f"{a}{INTERACTION}{b}" for a, b in itertools.combinations(factors, 2))]
    table = [rows[term] for term in order if term in rows] + ([block] if block else []) + [residual]
    out = pd.DataFrame(table, columns=list(EFFECT_COLUMNS))
    out["model"] = model
    return out


def _model(data: pd.DataFrame, main: list[str]) -> str:
    """blocked, mixed or unreplicated: how the finished runs of the factor cells share seeds."""
    if not main or data.empty:
        return "unreplicated"
    seeds = data.groupby(main, observed=True)["seed"].agg(frozenset)
    if seeds.map(len).max() < 2:
        return "unreplicated"
    return "blocked" if seeds.nunique() == 1 else "mixed"


# statsmodels' mixedlm keeps a k x k matrix per fixed-effect column: k^3 floats, 32 GB for a factor of 1,600
# levels (bench/scale.py's 2,000-cell study); past this the seed is a fixed block of the OLS fit instead
MIXED_MAX_PARAMS = 200
# the OLS fits of type II sums of squares cost n k^2 each (28 s per metric at k = 1,600, n = 8,000); a factor of
# hundreds of levels is a sweep, read from the per-cell intervals and comparisons, not from one F-test
MAX_PARAMS = 400


def _names(main: list[str]) -> dict[str, str]:
    return {factor: f"f{i}" for i, factor in enumerate(main)}


def _renamed(data: pd.DataFrame, metric: str, main: list[str]) -> pd.DataFrame:
    names = _names(main)
    renamed = pd.DataFrame({names[f]: data[f].astype(str).to_numpy() for f in main})
    renamed["seed"] = data["seed"].astype(str).to_numpy()
    renamed["y"] = data[metric].to_numpy(dtype=float)
    return renamed


def _fit_ols(data: pd.DataFrame, metric: str, main: list[str], pairs: list[tuple[str, str]], alpha: float, *,
             blocked: bool) -> dict[str, dict[str, object]]:
    names = _names(main)
    terms = [f"C({names[f]})" for f in main] + [f"C({names[a]}):C({names[b]})" for a, b in pairs]
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore", RuntimeWarning)  # F of a term with zero residual variance
        warnings.simplefilter("ignore", ValueWarning)  # a term without variance: its row is NaN, noted below
        formula = "y ~ " + " + ".join((["C(seed)"] if blocked else []) + terms)
        table = anova_lm(ols(formula, _renamed(data, metric, main)).fit(), typ=2)
    labels = dict(zip(terms, [*main, *(f"{a}{INTERACTION}{b}" for a, b in pairs)]))
    rows = table.to_dict("index")
    ss_resid, df_resid = float(rows["Residual"]["sum_sq"]), float(rows["Residual"]["df"])
    out: dict[str, dict[str, object]] = {}
    for term, label in labels.items():
        ss, p = float(rows[term]["sum_sq"]), float(rows[term]["PR(>F)"])
        eta = ss / (ss + ss_resid) if ss + ss_resid > 0 else math.nan
        out[label] = {"metric": metric, "term": label, "df": float(rows[term]["df"]), "df_resid": df_resid,
                      "sum_sq": ss, "F": float(rows[term]["F"]), "p": p, "partial_eta_sq": eta,
                      "significant": bool(p < alpha), "note": "" if not math.isnan(p) else
                      "not testable: no residual variance"}
    if blocked:
        block = rows["C(seed)"]
        out[BLOCK] = {**_empty(metric, BLOCK, "the seeds' shared part, removed from the residual"),
                      "df": float(block["df"]), "df_resid": df_resid, "sum_sq": float(block["sum_sq"]),
                      "F": float(block["F"]), "p": float(block["PR(>F)"])}
    out[RESIDUAL] = {**_empty(metric, RESIDUAL, ""), "df": df_resid, "sum_sq": ss_resid}
    return out


def _fit_mixed(data: pd.DataFrame, metric: str, main: list[str], pairs: list[tuple[str, str]],
               alpha: float) -> dict[str, dict[str, object]] | None:
    """Wald F-tests of the mixed model's terms; None when the fit fails or the design has more than
    MIXED_MAX_PARAMS columns (the caller falls back to OLS with the seed as a fixed block, which handles incomplete
    blocks too)."""
    if _n_params(data, main, pairs) > MIXED_MAX_PARAMS:
        return None
    names = _names(main)
    terms = [f"C({names[f]}, Sum)" for f in main] + [f"C({names[a]}, Sum):C({names[b]}, Sum)" for a, b in pairs]
    renamed = _renamed(data, metric, main)
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # a random-effect variance on the boundary (zero)
        try:
            result = mixedlm("y ~ " + " + ".join(terms), renamed, groups=renamed["seed"]).fit(reml=True)
            wald = result.wald_test_terms(skip_single=False, scalar=True).table
        except (np.linalg.LinAlgError, ValueError):
            return None
    if not np.isfinite(result.params).all() or not np.isfinite(wald["statistic"].to_numpy(dtype=float)).all():
        return None
    n_seeds = renamed["seed"].nunique()
    df_resid = float(len(renamed) - np.linalg.matrix_rank(result.model.exog) - (n_seeds - 1))
    labels = dict(zip(terms, [*main, *(f"{a}{INTERACTION}{b}" for a, b in pairs)]))
    out: dict[str, dict[str, object]] = {}
    for term, label in labels.items():
        df = float(wald.loc[term, "df_constraint"])
        f = float(wald.loc[term, "statistic"]) / df
        p = float(stats.f.sf(f, df, df_resid))
        out[label] = {"metric": metric, "term": label, "df": df, "df_resid": df_resid, "sum_sq": math.nan, "F": f,
                      "p": p, "partial_eta_sq": f * df / (f * df + df_resid), "significant": bool(p < alpha),
                      "note": ""}
    out[RESIDUAL] = {**_empty(metric, RESIDUAL, f"seed variance {float(result.cov_re.iloc[0, 0]):.3g}, residual "
                                                f"variance {float(result.scale):.3g}"), "df": df_resid}
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
    """Columns of the design without the block: intercept, (levels - 1) per main effect, their products per
    interaction."""
    levels = {factor: data[factor].nunique() for factor in main}
    return 1 + sum(n - 1 for n in levels.values()) + sum((levels[a] - 1) * (levels[b] - 1) for a, b in pairs)


def _empty(metric: str, term: str, note: str) -> dict[str, object]:
    return {"metric": metric, "term": term, "df": math.nan, "df_resid": math.nan, "sum_sq": math.nan, "F": math.nan,
            "p": math.nan, "partial_eta_sq": math.nan, "significant": False, "model": "", "note": note}
