"""`sedstudy ui`: the printed URL is where the UI answers, and a real browser lands on the study's runs table."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.fetch.uri import LOCAL_UI
from studies.ui import plan_ui

from .conftest import free_port, port_answers, sedstudy, start, stop, wait_for
from .test_study_summary import tracked_study


@pytest.fixture()
def store(tmp_path: Path) -> str:
    study, tracker = tracked_study(tmp_path)
    for trial in study.trials:
        tracker.start_trial(trial)
        tracker.log_metrics(trial, {"psds1": 0.1 * trial.seed}, step=0)
        tracker.end_trial(trial)
    tracker.end_study()
    return tracker.tracking_uri


def test_a_taken_port_is_replaced_and_said_with_the_report_rebuild(store: str) -> None:
    client = MlflowClient(store)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        plan = plan_ui(client, store, host="127.0.0.1", port=busy, study="summary_study")
    assert plan.url != f"http://127.0.0.1:{busy}" and plan.command[plan.command.index("--port") + 1] in plan.url
    assert f"port {busy} is in use" in plan.note
    assert f"sedstudy report summary_study --ui-url {plan.url}" in plan.note and LOCAL_UI in plan.note
    experiment = client.get_experiment_by_name("summary_study").experiment_id
    assert plan.landing == f"{plan.url}/#/experiments/{experiment}?workflowType=machine_learning"
    without_study = plan_ui(client, store, host="127.0.0.1", port=free_port(), study=None)
    assert without_study.landing == without_study.url  # the list of experiments


@pytest.mark.integration
@pytest.mark.slow
def test_the_browser_lands_on_the_runs_table(store: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    port = free_port()
    log = tmp_path / "ui.log"
    ui = start(sedstudy("ui", "summary_study", "--tracking-uri", store, "--port", str(port)), log, env=None)
    try:
        wait_for(lambda: port_answers(port), "sedstudy ui", log, timeout=240)
        landing = re.search(r"open (http\S+)", log.read_text()).group(1)
        assert landing.startswith(f"http://127.0.0.1:{port}/#/experiments/")
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1500,900", "--virtual-time-budget=30000",
             "--dump-dom", landing], capture_output=True, text=True, timeout=180, check=False)
    finally:
        stop(ui)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    # the runs table (its title, the parent run's row and the row count), not the GenAI overview of traces
    assert ">Runs<" in dom and "summary_study" in dom and "matching runs" in dom, dom[-3000:]
    assert ">Overview<" not in dom
    assert '"GET / HTTP' not in log.read_text()  # no access log on the user's terminal
