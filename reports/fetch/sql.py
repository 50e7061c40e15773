"""Trial runs read straight from a SQL-backed MLflow store, only the wanted columns (the fast path).

MLflow's client loads every param, tag and metric of every run into ORM objects (about 3 ms per run); a
study of 10,000 trials with ~90 params each then takes most of a minute. Here a page of run ids is read, then
only the wanted tag, latest-metric and param rows of that page, through MLflow's own table models
(`mlflow.store.tracking.dbmodels.models`), so the queries follow MLflow's schema. Anything the schema does not
answer raises `SqlPathUnavailable` and the caller falls back to `fetch_api`.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlparse

import sqlalchemy as sa
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from reports.contract import CLASS_INFIX, HISTORY_PREFIXES, PARENT_TAG
from reports.fetch.records import TrialFetch, TrialRecord, Wanted

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
LIVE_STATUSES = ("RUNNING", "SCHEDULED")
ACTIVE = "active"
DATABASE_URI_ENV = "SEDSTUDY_DATABASE_URI"  # a tracking server's backend store, read directly (the fast path)


class SqlPathUnavailable(RuntimeError):
    """The store is not SQL-backed, or its tables do not look like the MLflow schema this code was written for."""


def is_sql_uri(tracking_uri: str) -> bool:
    """Whether the tracking URI names a database (`sqlite:///…`, `postgresql+psycopg2://…`, …)."""
    return urlparse(tracking_uri).scheme.split("+", 1)[0] in SQL_SCHEMES


@contextmanager
def sql_engine(tracking_uri: str) -> Iterator[Engine]:
    """A short-lived engine on the store (no pool kept open); raises SqlPathUnavailable for other URIs."""
    if not is_sql_uri(tracking_uri):
        raise SqlPathUnavailable(f"{tracking_uri!r} is not a SQL store URI")
    try:
        engine = sa.create_engine(tracking_uri, poolclass=NullPool)
    except (SQLAlchemyError, ImportError) as error:  # e.g. a database driver that is not installed
        raise SqlPathUnavailable(f"cannot open {tracking_uri!r}: {error}") from error
    try:
        yield engine
    finally:
        engine.dispose()


def fetch_trials_sql(engine: Engine, experiment_id: str, parent_run_id: str, wanted: Wanted, *,
                     page_size: int = 1000) -> TrialFetch:
    """Active child runs of the parent, `page_size` run ids per round trip (keyset pagination on run id)."""
    try:
        with engine.connect() as connection:
            return _fetch(connection, experiment_id, parent_run_id, wanted, page_size)
    except SQLAlchemyError as error:
        raise SqlPathUnavailable(f"the store's tables do not answer the reports' queries: {error}") from error


def check_holds_parent(engine: Engine, experiment_id: str, parent_run_id: str) -> None:
    """Raise SqlPathUnavailable unless the database holds the parent run in that experiment: a database named for
    a tracking server may be another server's, and reading it would find no trial runs."""
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.select(SqlRun.run_uuid).where(
                SqlRun.run_uuid == parent_run_id, SqlRun.experiment_id == int(experiment_id))).first()
    except SQLAlchemyError as error:
        raise SqlPathUnavailable(f"the store's tables do not answer the reports' queries: {error}") from error
    if found is None:
        url = engine.url.render_as_string(hide_password=True)
        raise SqlPathUnavailable(f"{url} does not hold the study's parent run {parent_run_id} (experiment "
                                 f"{experiment_id}): it is not this tracking server's backend store")


def fingerprint_sql(engine: Engine, experiment_id: str, parent_run_id: str) -> str:
    """A stamp that changes whenever a trial run is added, deleted, started, ended or logs a metric."""
    try:
        with engine.connect() as connection:
            runs = connection.execute(
                sa.select(sa.func.count(SqlRun.run_uuid), sa.func.max(SqlRun.start_time),
                          sa.func.max(SqlRun.end_time),
                          sa.func.sum(sa.case((SqlRun.status.in_(LIVE_STATUSES), 1), else_=0)))
                .select_from(_children(experiment_id, parent_run_id))).one()
            metrics = connection.execute(
                sa.select(sa.func.count(SqlLatestMetric.key), sa.func.max(SqlLatestMetric.timestamp),
                          sa.func.max(SqlLatestMetric.step))
                .select_from(_children(experiment_id, parent_run_id))
                .join(SqlLatestMetric, SqlLatestMetric.run_uuid == SqlRun.run_uuid)).one()
    except SQLAlchemyError as error:
        raise SqlPathUnavailable(f"the store's tables do not answer the reports' queries: {error}") from error
    return "sql|" + "|".join(str(value) for value in (*runs, *metrics))


def metric_history_sql(engine: Engine, run_ids: Sequence[str],
                       keys: Sequence[str]) -> list[tuple[str, str, int, float]]:
    """(run_id, key, step, value) of every logged value of `keys` on `run_ids`; the newest value per step wins."""
    rows: dict[tuple[str, str, int], tuple[int, float]] = {}
    try:
        with engine.connect() as connection:
            for start in range(0, len(run_ids), 500):
                query = (sa.select(SqlMetric.run_uuid, SqlMetric.key, SqlMetric.step, SqlMetric.timestamp,
                                   SqlMetric.value, SqlMetric.is_nan)
                         .where(SqlMetric.run_uuid.in_(list(run_ids[start:start + 500])),
                                SqlMetric.key.in_(list(keys))))
                for run_id, key, step, timestamp, value, is_nan in connection.execute(query):
                    known = rows.get((run_id, key, int(step)))
                    if known is None or int(timestamp or 0) >= known[0]:
                        rows[(run_id, key, int(step))] = (int(timestamp or 0), math.nan if is_nan else float(value))
    except SQLAlchemyError as error:
        raise SqlPathUnavailable(f"the store's metrics table does not answer: {error}") from error
    return sorted((run_id, key, step, value) for (run_id, key, step), (_, value) in rows.items())


def _children(experiment_id: str, parent_run_id: str) -> sa.Join:
    parent_tag = sa.orm.aliased(SqlTag)
    return sa.join(SqlRun, parent_tag, sa.and_(parent_tag.run_uuid == SqlRun.run_uuid, parent_tag.key == PARENT_TAG,
                                                parent_tag.value == parent_run_id,
                                                SqlRun.experiment_id == int(experiment_id),
                                                SqlRun.lifecycle_stage == ACTIVE))


def _fetch(connection: sa.Connection, experiment_id: str, parent_run_id: str, wanted: Wanted,
           page_size: int) -> TrialFetch:
    records: list[TrialRecord] = []
    history: set[str] = set()
    last = ""
    while True:
        page = connection.execute(
            sa.select(SqlRun.run_uuid, SqlRun.status, SqlRun.start_time, SqlRun.end_time)
            .select_from(_children(experiment_id, parent_run_id))
            .where(SqlRun.run_uuid > last).order_by(SqlRun.run_uuid).limit(page_size)).all()
        if not page:
            break
        first_id, last_id = page[0][0], page[-1][0]
        in_page = sa.and_(SqlRun.run_uuid >= first_id, SqlRun.run_uuid <= last_id)
        tags = _rows(connection, SqlTag, in_page, experiment_id, parent_run_id, SqlTag.key.in_(wanted.tags))
        params = (_rows(connection, SqlParam, in_page, experiment_id, parent_run_id, SqlParam.key.in_(wanted.params))
                  if wanted.params else {})
        metric_filter = sa.or_(SqlLatestMetric.key.in_(wanted.metrics),
                               *(SqlLatestMetric.key.startswith(f"{metric}{CLASS_INFIX}", autoescape=True)
                                 for metric in wanted.metrics))
        metrics: dict[str, dict[str, float]] = {}
        for run_id, key, value, is_nan in connection.execute(
                sa.select(SqlLatestMetric.run_uuid, SqlLatestMetric.key, SqlLatestMetric.value, SqlLatestMetric.is_nan)
                .select_from(_children(experiment_id, parent_run_id))
                .join(SqlLatestMetric, SqlLatestMetric.run_uuid == SqlRun.run_uuid)
                .where(in_page, metric_filter)):
            if wanted.wants_metric(key):
                metrics.setdefault(run_id, {})[key] = math.nan if is_nan else float(value)
        history.update(key for (key,) in connection.execute(
            sa.select(SqlLatestMetric.key).distinct()
            .select_from(_children(experiment_id, parent_run_id))
            .join(SqlLatestMetric, SqlLatestMetric.run_uuid == SqlRun.run_uuid)
            .where(in_page, sa.or_(*(SqlLatestMetric.key.startswith(prefix) for prefix in HISTORY_PREFIXES)))))
        for run_id, status, start_time, end_time in page:
            records.append(TrialRecord(run_id=run_id, status=status, start_time=int(start_time or 0),
                                       tags=tags.get(run_id, {}), metrics=metrics.get(run_id, {}),
                                       params=params.get(run_id, {}), end_time=int(end_time or 0)))
        if len(page) < page_size:
            break
        last = last_id
    return TrialFetch(records=tuple(records), history_keys=tuple(sorted(history)))


def _rows(connection: sa.Connection, table: type, in_page: sa.ColumnElement, experiment_id: str,
          parent_run_id: str, key_filter: sa.ColumnElement) -> dict[str, dict[str, str]]:
    """{run_id: {key: value}} of a key-value table (tags or params) for the runs of one page."""
    out: dict[str, dict[str, str]] = {}
    for run_id, key, value in connection.execute(
            sa.select(table.run_uuid, table.key, table.value)
            .select_from(_children(experiment_id, parent_run_id))
            .join(table, table.run_uuid == SqlRun.run_uuid)
            .where(in_page, key_filter)):
        out.setdefault(run_id, {})[key] = value
    return out
