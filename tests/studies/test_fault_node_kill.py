"""The worker node of a two-node Ray cluster killed mid-trial: Tune restores the trial from its last checkpoint
(on the shared `--storage`) on the node that is left, and the study finishes with one finished run per trial."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from .conftest import kill_driver, sedstudy

STUDY = """
name: node_kill
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 6, steps_per_epoch: 8}}  # long enough epochs for the kill to land mid-trial on a busy machine
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
resources: {{cpu: 1}}
failures: {{max_retries: 2}}
"""
TRIALS = 2
EPOCHS = 6

WORKER_NODE_ID = """
import ray
ray.init(address="{address}", log_to_driver=False, configure_logging=False)
print([n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" not in n["Resources"]][0])
"""


def node_processes(root: int) -> dict[int, tuple[int, str]]:
    """{pid: (process group, command line)} of ``root`` and every process it spawned (a Ray node: its raylet and
    the worker processes the raylet starts, some in process groups of their own)."""
    table: dict[int, tuple[int, int, str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(proc.name)] = (int(fields[1]), int(fields[2]), command)  # ppid, pgid, command line
    tree, grew = {root}, True
    while grew:
        new = {pid for pid, (ppid, _, _) in table.items() if ppid in tree} - tree
        tree |= new
        grew = bool(new)
    return {pid: table[pid][1:] for pid in tree if pid in table}


def kill_node(root: int) -> None:
    """SIGKILL a node as a machine dies: the process group we started and the groups its processes made."""
    groups = {pgid for pid, (pgid, _) in node_processes(root).items() if pgid == root or pgid == pid}
    for pgid in sorted(groups, key=lambda g: g != root):
        with contextlib.suppress(ProcessLookupError):  # a group that ended on its own
            os.killpg(pgid, signal.SIGKILL)


def trial_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("node_kill")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")


@pytest.mark.integration
@pytest.mark.slow
def test_trial_on_a_killed_worker_node_resumes_on_the_other_node(tmp_path: Path, two_node_ray_cluster,
                                                                 shared_mlflow_server, tiny_dataset: Path):
    cluster = two_node_ray_cluster  # its own: it kills a node (the tracking server, never stopped, is shared)
    mlflow_server = shared_mlflow_server.uri
    assert cluster.worker is not None
    (tmp_path / "node_kill.yaml").write_text(STUDY.format(data=tiny_dataset))
    env = {**os.environ, **cluster.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker_node = subprocess.run([sys.executable, "-c", WORKER_NODE_ID.format(address=cluster.address)],
                                 capture_output=True, text=True, env=env, timeout=120, check=True).stdout.split()[-1]
    client = MlflowClient(mlflow_server)
    log_path = tmp_path / "driver.log"
    driver = subprocess.Popen(
        sedstudy("run", str(tmp_path / "node_kill.yaml"), "--workdir", str(tmp_path / "work"), "--address",
                 cluster.address, "--tracking-uri", mlflow_server, "--storage", str(tmp_path / "shared"),
                 "--no-report"),
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        # Results reach the store later than they happen (the driver writes them one by one), so the moment
        # is read from the trials' own outputs: both trials (one per node) have checkpointed an epoch into the
        # shared storage and reported it (cost.json is written at the report), and neither has final scores.
        trials = tmp_path / "shared" / "node_kill" / "trials"
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and driver.poll() is None:
            outputs = list(trials.glob("*/")) if trials.is_dir() else []
            reported = all((d / "last" / "state.pt").is_file() and (d / "cost.json").is_file() for d in outputs)
            if len(outputs) == TRIALS and reported and not any((d / "scores").exists() for d in outputs):
                break
            time.sleep(0.1)
        assert driver.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
        node = node_processes(cluster.worker.pid)
        assert any("ImplicitFunc" in command for _, command in node.values()), f"no trial on the worker: {node}"
        kill_node(cluster.worker.pid)  # the worker node: its raylet and the trial it runs
        cluster.worker.wait(timeout=30)
        assert not any((d / "scores").exists() for d in outputs), "the kill must land mid-trial"
        code = driver.wait(timeout=600)
    finally:
        kill_driver(driver)
    assert code == 0, log_path.read_text()[-3000:]

    runs = trial_runs(client)
    by_trial = {r.data.tags["sedstudy.trial_id"]: r for r in runs}
    assert len(runs) == TRIALS and len(by_trial) == TRIALS  # one run per trial, none duplicated
    assert {r.info.status for r in runs} == {"FINISHED"}
    retried = [r for r in runs if "sedstudy.retries" in r.data.tags]
    assert len(retried) == 1, [r.data.tags for r in runs]  # the trial on the killed node, and only that one
    killed = retried[0]
    assert killed.data.tags["sedstudy.retries"] == "1"
    assert killed.data.tags["sedstudy.ray_node"] != worker_node  # finished on the node that was left
    assert killed.data.metrics["cost/attempts"] == 2
    for run in runs:  # every epoch logged exactly once
        history = client.get_metric_history(run.info.run_id, "train/loss")
        assert sorted(m.step for m in history) == list(range(EPOCHS)), [m.step for m in history]
    experiment = client.get_experiment_by_name("node_kill")
    assert {r.info.status for r in client.search_runs([experiment.experiment_id])} == {"FINISHED"}
