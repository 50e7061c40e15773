"""Trial runs through the MLflow client (any store: REST server, file, SQL), paginated with search_runs."""
from __future__ import annotations

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from reports.contract import (
    HISTORY_PREFIXES,
    MAX_PAGE_SIZE,
    OLDEST_FIRST,
    children_filter,
    iter_runs,
)
from reports.fetch.records import TrialFetch, TrialRecord, Wanted

LIVE_STATUSES = ("RUNNING", "SCHEDULED")


def fetch_trials_api(client: MlflowClient, experiment_id: str, parent_run_id: str, wanted: Wanted, *,
                     page_size: int = MAX_PAGE_SIZE) -> TrialFetch:
    """The parent's child runs, each reduced to the wanted tags, metrics and params.

    The client returns whole runs (every param and metric); this is the portable path, about 3 ms per run on
    a local SQLite store. `fetch_sql.fetch_trials_sql` reads only the wanted columns of a SQL store.
    """
    runs = iter_runs(client, [experiment_id], children_filter(parent_run_id), page_size=page_size,
                     order_by=OLDEST_FIRST)
    history: set[str] = set()
    records = []
    for run in runs:
        tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
        history.update(key for key in metrics if key.startswith(HISTORY_PREFIXES))
        records.append(TrialRecord(
            run_id=run.info.run_id, status=run.info.status, start_time=run.info.start_time or 0,
            tags={key: tags[key] for key in wanted.tags if key in tags},
            metrics={key: float(value) for key, value in metrics.items() if wanted.wants_metric(key)},
            params={key: params[key] for key in wanted.params if key in params},
            end_time=run.info.end_time or 0))
    return TrialFetch(records=tuple(records), history_keys=tuple(sorted(history)))


def fingerprint_api(client: MlflowClient, experiment_id: str, parent_run_id: str) -> str | None:
    """A cheap stamp of the trial runs' last update (newest start and newest end), or None while any is live.

    Three one-run searches instead of a full read. It misses a deleted older run and metrics logged after a
    run ended; `fetch_sql.fingerprint_sql` sees both.
    """
    stamps = []
    parent_filter = children_filter(parent_run_id)
    for status in LIVE_STATUSES:
        if client.search_runs([experiment_id], f"{parent_filter} AND attributes.status = '{status}'",
                              run_view_type=ViewType.ACTIVE_ONLY, max_results=1):
            return None
    for order in ("attributes.start_time DESC", "attributes.end_time DESC"):
        newest = client.search_runs([experiment_id], parent_filter, run_view_type=ViewType.ACTIVE_ONLY,
                                    max_results=1, order_by=[order])
        stamps.append("-" if not newest else
                      f"{newest[0].info.run_id}:{newest[0].info.start_time}:{newest[0].info.end_time}")
    return "api|" + "|".join(stamps)
