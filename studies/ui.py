"""``sedstudy ui``: the MLflow UI on a study's tracking store, at a URL that is printed as it really is."""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

from mlflow.tracking import MlflowClient

from reports.fetch.uri import LOCAL_UI, experiment_url

UI_WORKERS = 1  # one person browsing: MLflow's default of 4 server processes only slows the start on a small machine


@dataclass(frozen=True)
class UiPlan:
    command: list[str]
    url: str  # where the UI answers
    landing: str  # the page to open: the study's runs table, or the list of experiments
    note: str | None  # said to the user when the plan differs from what they asked for


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def plan_ui(client: MlflowClient, tracking_uri: str, *, host: str, port: int, study: str | None) -> UiPlan:
    """The MLflow UI command for `tracking_uri` on `host:port` (another free port when that one is taken) and the
    page to open: `study`'s experiment on its runs table when given (None: the experiment list)."""
    note = None
    if not port_is_free(host, port):
        taken, port = port, free_port(host)
        note = f"port {taken} is in use; serving on port {port} instead"
    url = f"http://{host}:{port}"
    landing = url
    if study is not None:
        experiment = client.get_experiment_by_name(study)
        if experiment is not None:
            landing = experiment_url(url, experiment.experiment_id)
    if url != LOCAL_UI:
        rebuild = f"sedstudy report {study or 'STUDY'} --ui-url {url}"
        note = (f"{note}; " if note else "") + f"the reports' run links point to {LOCAL_UI}: `{rebuild}` rebuilds them"
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri, "--host", host,
               "--port", str(port), "--workers", str(UI_WORKERS), "--uvicorn-opts", "--no-access-log"]
    return UiPlan(command, url, landing, note)
