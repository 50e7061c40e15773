"""Where a study's trial records come from: SQL columns, the MLflow client, or the local cache."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from reports.errors import ReportError
from reports.fetch.api import fetch_trials_api, fingerprint_api
from reports.fetch.cache import cache_key, cache_path, read_cache, write_cache
from reports.fetch.records import TrialFetch, Wanted
from reports.fetch.sql import (
    DATABASE_URI_ENV,
    SqlPathUnavailable,
    check_holds_parent,
    fetch_trials_sql,
    fingerprint_sql,
    is_sql_uri,
    sql_engine,
)

logger = logging.getLogger(__name__)

LOAD_METHODS = ("auto", "sql", "api")


def database_of(tracking_uri: str, database_uri: str | None = None) -> str | None:
    """The database to read trial runs from: the tracking URI when it names one; for a tracking server, its backend
    store when named (`database_uri`, else $SEDSTUDY_DATABASE_URI; `--database-uri` on the CLI); else none (the
    MLflow client reads them). A named database that does not hold the study's parent run is not read."""
    if is_sql_uri(tracking_uri):
        return tracking_uri
    return database_uri or os.environ.get(DATABASE_URI_ENV) or None


def read_trials(client: MlflowClient, experiment_id: str, parent_run_id: str, wanted: Wanted, *,
                database_uri: str | None, what: str) -> TrialFetch:
    """The parent's child runs reduced to `wanted`, from the database when one is named (only the wanted columns:
    about 0.2 ms a run), else, or when its tables do not answer, through the client (every param, tag and metric
    of every run: 6 to 12 ms a run). `what` names the reader in the warning of a fallback."""
    if database_uri is not None:
        try:
            with sql_engine(database_uri) as engine:
                check_holds_parent(engine, experiment_id, parent_run_id)
                return fetch_trials_sql(engine, experiment_id, parent_run_id, wanted)
        except SqlPathUnavailable as error:
            logger.warning("%s: reading the trial runs through the MLflow client (slower) because %s", what, error)
    return fetch_trials_api(client, experiment_id, parent_run_id, wanted)


def fetch_trials(client: MlflowClient, tracking_uri: str, study: str, experiment_id: str, parent: Run,
                 wanted: Wanted, *, page_size: int, cache_dir: str | Path | None,
                 method: str, database_uri: str | None = None) -> tuple[TrialFetch, str]:
    """The trial records and how they were read ("sql", "api", "... (cache)"); through the cache with `cache_dir`.

    "sql" and "auto" read a database store column by column (`fetch_sql`): the tracking URI's, or
    `database_uri` (the tracking server's backend store); "auto" falls back to the client (`fetch_api`) when the
    tables do not answer; the cache is keyed by the trials' last-update stamp and skipped while that stamp cannot
    be had (a live trial on the "api" path).
    """
    parent_id = parent.info.run_id
    database = database_of(tracking_uri, database_uri)
    if method in ("sql", "auto") and database is not None:
        try:
            with sql_engine(database) as engine:
                check_holds_parent(engine, experiment_id, parent_id)
                return _through_cache(
                    cache_dir, tracking_uri, study, parent, wanted, "sql",
                    stamp=lambda: fingerprint_sql(engine, experiment_id, parent_id),
                    fetch=lambda: fetch_trials_sql(engine, experiment_id, parent_id, wanted, page_size=page_size))
        except SqlPathUnavailable as error:
            if method == "sql":
                raise ReportError(f"study {study!r}: cannot read the trials with SQL: {error}") from error
            logger.warning("study %r: reading the trials through the MLflow client (slower) because %s", study, error)
    return _through_cache(cache_dir, tracking_uri, study, parent, wanted, "api",
                          stamp=lambda: fingerprint_api(client, experiment_id, parent_id),
                          fetch=lambda: fetch_trials_api(client, experiment_id, parent_id, wanted,
                                                         page_size=page_size))


def _through_cache(cache_dir: str | Path | None, tracking_uri: str, study: str, parent: Run, wanted: Wanted,
                   source: str, *, stamp: Callable[[], str | None],
                   fetch: Callable[[], TrialFetch]) -> tuple[TrialFetch, str]:
    if cache_dir is None:
        return fetch(), source
    fingerprint = stamp()
    if fingerprint is None:  # a trial is live: its rows are about to change
        return fetch(), source
    key = cache_key(tracking_uri=tracking_uri, study=study, parent_run_id=parent.info.run_id,
                    parent_tags=dict(parent.data.tags), fingerprint=fingerprint, wanted=wanted)
    path = cache_path(Path(cache_dir), tracking_uri, study)
    cached = read_cache(path, key)
    if isinstance(cached, TrialFetch):
        return cached, f"{source} (cache)"
    fetched = fetch()
    write_cache(path, key, fetched)
    return fetched, source
