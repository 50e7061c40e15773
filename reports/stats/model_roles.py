"""Student and teacher: which of the two mean-teacher models the report's tables show, and both models' numbers.

The trainer scores the student and its EMA teacher at the best epoch and logs `student/<metric>` and
`teacher/<metric>`; the plain metric names (every other table) are those of `evaluation.report_model`.
"""
from __future__ import annotations

import math
import re

import pandas as pd

from reports.contract import ROLES
from reports.fetch.load import FINISHED, StudyRuns
from reports.fetch.recipe_params import PHASE_PARAMS, SELECT_ON_TEST_PARAM, shared_value

DECIMALS = 3
UNTRAINED_SHARE = 0.5  # a teacher scoring under this share of the student's objective is called nearly untrained
DEFAULT_REPORT_MODEL = "student"  # the schema's default of evaluation.report_model
BATCH_PREFIX = "data.batch."  # data.batch.<source> = clips per step from the training split of that name
# `sedstudy.data.coverage` reads "split 1,234 / 1,300, other 56, ...": clips read (of the official list)
_COVERAGE = re.compile(r"(?P<split>[A-Za-z_]\w*) (?P<clips>\d[\d,]*)")


def reported_model(runs: StudyRuns) -> str:
    """The model every run reports under the plain metric names (`evaluation.report_model`), or how they differ."""
    texts = runs.recipe["evaluation.report_model"] if "evaluation.report_model" in runs.recipe.columns else None
    if texts is None or texts.dropna().empty:
        return f"{DEFAULT_REPORT_MODEL} (not recorded; the default)"
    shared = shared_value(texts)
    return shared if shared is not None else "varies by run: " + ", ".join(sorted(set(texts.dropna())))


def reported_model_sentence(runs: StudyRuns) -> str:
    """One sentence saying which model and which epoch the tables report, and on which split."""
    recipe = runs.recipe

    def shared(key: str, default: str) -> str:
        value = shared_value(recipe[key]) if key in recipe.columns else None
        return default if value is None else value

    sentence = (f"The tables report the {reported_model(runs)} model (evaluation.report_model) of the mean-teacher "
                f"pair, at its best epoch by {shared('evaluation.selection_metric', 'the selection metric')} on "
                f"{shared('evaluation.selection_split', 'the selection split')} (the split that chose the "
                f"checkpoint), scored on {shared('evaluation.test_split', 'the test split')} (the split that scored "
                "it); the student's and the teacher's numbers are both under Student and teacher.")
    return sentence + selected_on_test_warning(runs)


def selected_on_test_warning(runs: StudyRuns) -> str:
    """A warning when runs chose their best epoch on the split that scores them (evaluation.select_on_test_split),
    else ""."""
    if SELECT_ON_TEST_PARAM not in runs.recipe.columns:
        return ""
    chosen = runs.recipe[SELECT_ON_TEST_PARAM].fillna("").str.lower() == "true"
    if not chosen.any():
        return ""
    return (f" ⚠ {int(chosen.sum())} of {len(chosen)} runs chose their best epoch on the test split itself "
            f"({SELECT_ON_TEST_PARAM}: true, set on purpose): their numbers are optimistic, since the epoch was "
            "picked for scoring well on the same clips; do not compare them with numbers selected on another split.")


def teacher_statement(runs: StudyRuns) -> str:
    """How the teacher compares with the student on the objective, and how many steps its EMA has averaged."""
    objective = runs.objective
    student, teacher = (runs.roles.get(f"{role}/{objective}") for role in ROLES)
    if student is None or teacher is None or (student.isna().all() and teacher.isna().all()):
        return f"The trials log no per-model values of {objective} (`student/{objective}`, `teacher/{objective}`)."
    both = (runs.runs["status"] == FINISHED) & student.notna() & teacher.notna()
    if not both.any():
        return f"No finished trial logs both `student/{objective}` and `teacher/{objective}`."
    s, t = float(student[both].mean()), float(teacher[both].mean())
    share = t / s if s > 0 else math.nan
    numbers = (f"its mean {objective} is {t:.{DECIMALS}f} against the student's {s:.{DECIMALS}f}"
               + (f" ({share:.0%} of it)" if not math.isnan(share) else "")
               + f" over {int(both.sum())} finished trials")
    ema, young = _ema_sentence(runs)
    reasons = [*(["it scores far below the student"] if share < UNTRAINED_SHARE else []),
               *(["its EMA has seen fewer steps than it averages over"] if young else [])]
    if reasons:
        return (f"The teacher is nearly untrained ({' and '.join(reasons)}): {numbers}. {ema} Read the teacher's "
                "numbers as those of an average still close to the early student, not of a second trained model.")
    return f"The teacher: {numbers}. {ema}"


def _ema_sentence(runs: StudyRuns) -> tuple[str, bool]:
    """What the teacher's EMA averages and how many steps it has seen; whether those are fewer than its horizon."""
    recipe = runs.recipe
    decay_text = shared_value(recipe["training.ema_decay"]) if "training.ema_decay" in recipe.columns else None
    if decay_text is None:
        return "The runs do not record one EMA decay.", False
    decay = float(decay_text)
    horizon = 1.0 / (1.0 - decay)
    text = f"Its EMA (decay {decay_text}) averages the student's weights over about {horizon:,.0f} steps"
    steps = _steps(recipe, _coverage(runs))
    if steps is None:
        return text + (" (the runs record neither their steps per epoch nor their clips per split, so the steps it "
                       "has seen are not known)."), False
    if steps < horizon:
        return (text + f"; it has seen {steps:,} steps, fewer than that, so it is about the plain mean of every "
                       "student weight since initialisation."), True
    return text + f"; it has seen {steps:,} steps.", False


def _steps(recipe: pd.DataFrame, clips: dict[str, int]) -> int | None:
    """Training steps of every run: epochs x steps per epoch, when both are shared; steps per epoch null means
    as many batches as the smallest training source fills (clips per split from `clips`). Else None."""
    if not {"training.epochs", "training.steps_per_epoch"} <= set(recipe.columns):
        return None
    epochs, per_epoch = shared_value(recipe["training.epochs"]), shared_value(recipe["training.steps_per_epoch"])
    if epochs is None or per_epoch is None:
        return None
    teacher_epochs = _teacher_epochs(recipe, int(epochs))
    if teacher_epochs is None:
        return None
    if per_epoch.isdigit():
        return teacher_epochs * int(per_epoch)
    batches = {key[len(BATCH_PREFIX):]: shared_value(recipe[key]) for key in recipe.columns
               if key.startswith(BATCH_PREFIX)}
    sources = {name: int(size) for name, size in batches.items() if size is not None and size.isdigit() and int(size)}
    if per_epoch != "null" or not sources or None in batches.values() or not set(sources) <= set(clips):
        return None
    return teacher_epochs * min(clips[name] // size for name, size in sources.items())


def _teacher_epochs(recipe: pd.DataFrame, epochs: int) -> int | None:
    """Epochs the teacher's EMA has run: a two_phase schedule with a backbone restarts it (teacher = student) at
    phase1_epochs. None when runs differ."""
    def column(key: str) -> list[str | None]:
        return list(recipe[key]) if key in recipe.columns else [None] * len(recipe)

    starts = set()
    for name, schedule, phase1 in zip(*(column(key) for key in PHASE_PARAMS)):
        two_phase = name not in (None, "none") and schedule == "two_phase"
        if two_phase and not (phase1 or "").isdigit():
            return None
        starts.add(int(phase1) if two_phase else 0)
    return epochs - starts.pop() if len(starts) == 1 else None


def _coverage(runs: StudyRuns) -> dict[str, int]:
    """Clips per split read, from the `sedstudy.data.coverage` text every run shares ({} when they differ)."""
    if runs.provenance is None:
        return {}
    texts = {text for text in runs.provenance["coverage"] if isinstance(text, str)}
    if len(texts) != 1:
        return {}
    return {match["split"]: int(match["clips"].replace(",", "")) for match in _COVERAGE.finditer(texts.pop())}
