"""Per-epoch metric histories (`train/*`, `val/<split>/<metric>` at step = epoch) of chosen trial runs."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
from mlflow.tracking import MlflowClient

from reports.fetch.sql import SqlPathUnavailable, metric_history_sql, sql_engine
from reports.fetch.trial_source import database_of

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("run_id", "key", "step", "value")
TRAIN_LOSS = "train/loss"
MAX_VAL_KEYS = 6


def learning_keys(history_keys: Sequence[str]) -> tuple[str, ...]:
    """The curves worth a panel: the training losses (`train/loss` first, then its parts `train/loss_*`) and the
    validation metrics (`val/*`, at most MAX_VAL_KEYS), each group in sorted order."""
    losses = sorted((key for key in history_keys if key.startswith(TRAIN_LOSS)),
                    key=lambda key: (key != TRAIN_LOSS, key))
    val = sorted(key for key in history_keys if key.startswith("val/"))[:MAX_VAL_KEYS]
    return (*losses, *val)


def load_history(tracking_uri: str, run_ids: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """Long table (run_id, key, step, value) sorted by run, key, step; one query on SQL stores, else one
    `get_metric_history` call per run and key (so keep `run_ids` to the trials a figure shows)."""
    if not run_ids or not keys:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    database = database_of(tracking_uri)
    if database is not None:
        try:
            with sql_engine(database) as engine:
                return _frame(metric_history_sql(engine, run_ids, keys))
        except SqlPathUnavailable as error:
            logger.warning("metric histories through the MLflow client (slower) because %s", error)
    client = MlflowClient(tracking_uri=tracking_uri)
    rows: dict[tuple[str, str, int], tuple[int, float]] = {}
    for run_id in run_ids:
        for key in keys:
            for metric in client.get_metric_history(run_id, key):
                known = rows.get((run_id, key, metric.step))
                if known is None or metric.timestamp >= known[0]:
                    rows[(run_id, key, metric.step)] = (metric.timestamp, float(metric.value))
    return _frame(sorted((run_id, key, step, value) for (run_id, key, step), (_, value) in rows.items()))


def _frame(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype({"step": "int64", "value": "float64"})
