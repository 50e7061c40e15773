"""A study on a two-node Ray cluster (`ray start`) with an MLflow tracking server and shared storage."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

STUDY = """
name: on_cluster
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 2, steps_per_epoch: 2}}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1, 2]
resources: {{cpu: 1}}
"""


@pytest.mark.integration
@pytest.mark.slow
def test_study_runs_across_two_nodes_into_a_tracking_server(tmp_path: Path, shared_ray_cluster, shared_mlflow_server,
                                                           tiny_dataset: Path):
    mlflow_server = shared_mlflow_server.uri
    (tmp_path / "on_cluster.yaml").write_text(STUDY.format(data=tiny_dataset))
    shared = tmp_path / "shared"
    env = {**os.environ, **shared_ray_cluster.env}
    command = [sys.executable, "-c", "import sys; from studies.cli import main; sys.exit(main())", "run",
               str(tmp_path / "on_cluster.yaml"), "--workdir", str(tmp_path / "work"), "--address",
               shared_ray_cluster.address, "--tracking-uri", mlflow_server, "--storage", str(shared), "--no-report"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("on_cluster")
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["sedstudy.ray_node"] for r in runs}) == 2  # both nodes ran trials
    served = shared_mlflow_server.artifacts
    for run in runs:  # checkpoints and scores went through the server, trial outputs to the shared storage
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/best_model.pt"]
        assert (shared / "on_cluster" / "trials" / run.data.tags["sedstudy.trial_id"] / "best_model.pt").is_file()
        assert list(served.rglob(f"{run.info.run_id}/**/best_model.pt")), f"not in the server's store {served}"
