"""The recipe params a report reads from every trial run, and the one value they share."""
from __future__ import annotations

import pandas as pd

# (param key, what it is), in the order the section lists them
RECIPE = (
    ("preset", "preset"),
    ("training.epochs", "epochs"),
    ("training.steps_per_epoch", "steps per epoch"),
    ("training.optimizer.lr", "learning rate"),
    ("data.batch.synthetic_train", "batch: synthetic strong clips"),
    ("data.batch.strong_train", "batch: real strong clips"),
    ("data.batch.weak_train", "batch: weak clips"),
    ("data.batch.unlabelled_train", "batch: unlabelled clips"),
    ("data.clip_seconds", "clip length (s)"),
    ("data.root", "data root"),
    ("evaluation.selection_split", "model selection: split"),
    ("evaluation.selection_metric", "model selection: metric (best epoch)"),
    ("evaluation.test_split", "test split (the tables' numbers)"),
    ("evaluation.report_model", "reported model"),
    ("training.ema_decay", "teacher EMA decay"),
)
# read with the recipe but not listed: when a two_phase schedule restarts the teacher (reports.model_roles)
PHASE_PARAMS = ("model.backbone.name", "model.backbone.freeze.schedule", "model.backbone.freeze.phase1_epochs")
# read with the recipe but not listed: a run that chose its best epoch on the test split says so in the report
SELECT_ON_TEST_PARAM = "evaluation.select_on_test_split"
RECIPE_PARAMS = (*(key for key, _ in RECIPE), *PHASE_PARAMS, SELECT_ON_TEST_PARAM)


def shared_value(texts: pd.Series) -> str | None:
    """The one param text every run has, or None when runs differ or some lack it."""
    present = texts.dropna()
    if present.empty or len(present) < len(texts) or present.nunique() != 1:
        return None
    return str(present.iloc[0])
