"""Tracking URIs as shown to people: passwords hidden; where the MLflow UI of a store lives."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LOCAL_UI = "http://127.0.0.1:5000"  # where `sedstudy ui` serves a local store


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by `***` (a PostgreSQL-backed store's URI may carry one)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def default_ui_base(tracking_uri: str) -> str:
    """An MLflow tracking server serves its UI at its own URL; any other store is opened with `sedstudy ui`."""
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        return urlunsplit(parts._replace(path=parts.path.rstrip("/"), query="", fragment=""))
    return LOCAL_UI


def experiment_url(ui_base: str, experiment_id: str) -> str:
    """The experiment's runs table in the MLflow UI. MLflow 3 opens an experiment on a GenAI overview unless the
    workflow type says otherwise; `workflowType=machine_learning` lands on the runs."""
    return f"{ui_base.rstrip('/')}/#/experiments/{experiment_id}?workflowType=machine_learning"


def run_url(ui_base: str, experiment_id: str, run_id: str) -> str:
    """`<ui base>/#/experiments/<experiment id>/runs/<run id>`: the run's page in the MLflow UI."""
    return f"{ui_base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
