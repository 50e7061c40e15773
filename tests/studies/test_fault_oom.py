"""Trials that run out of GPU memory. The out-of-memory error is injected into the trial processes by a Ray
worker setup hook (no GPU is needed): without a fractional GPU share the trial is recorded FAILED with its reason
while the other trial finishes; with one, the study retries it with twice the share, where it fits."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.launcher import is_out_of_memory, run_study
from studies.tracking import default_tracking_uri

STUDY = """
name: {name}
experiment:
  preset: tiny
  data: {{root: {data}}}
  training: {{epochs: 2, steps_per_epoch: 2}}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
resources: {{cpu: 1, gpu: {gpu}}}
"""

# Imported by every Ray worker process of the test's own Ray instance (runtime_env worker_process_setup_hook):
# the `max` pooling cell runs out of memory on anything less than a whole GPU.
HOOK = '''
import ray
import torch

from sed_core.training import trainer

_run_epoch = trainer.Trainer.run_epoch


def run_epoch(self):
    gpu = float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    if self.config.model.pooling == "max" and gpu < 1:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated by the test)")
    return _run_epoch(self)


def install():
    trainer.Trainer.run_epoch = run_epoch
'''


@pytest.fixture(scope="module")
def ray_with_oom_hook(tmp_path_factory: pytest.TempPathFactory):
    """A Ray of this module's own (the hook breaks every `max` trial under a GPU share), for both its tests."""
    import ray

    hook = tmp_path_factory.mktemp("hook")
    (hook / "oom_hook.py").write_text(HOOK)
    root = str(Path(__file__).resolve().parents[2])
    if ray.is_initialized():  # the session's shared in-process Ray (conftest.shared_ray starts it again after)
        ray.shutdown()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PYTHONPATH", f"{hook}:{root}")  # the worker processes inherit it
        # run_study joins a running Ray rather than starting its own; one fake GPU lets fractional shares schedule
        ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"worker_process_setup_hook": "oom_hook.install"})
        try:
            yield
        finally:
            ray.shutdown()


def trial_runs(workdir: Path, name: str) -> dict:
    client = MlflowClient(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name(name)
    return {r.data.tags["sedstudy.cell"]: r
            for r in client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")}


@pytest.mark.integration
@pytest.mark.slow
def test_out_of_memory_without_a_fractional_gpu_fails_the_trial_with_its_reason(tmp_path: Path, ray_with_oom_hook,
                                                                               tiny_dataset: Path):
    (tmp_path / "oom_whole.yaml").write_text(STUDY.format(name="oom_whole", gpu=0, data=tiny_dataset))
    outcome = run_study(tmp_path / "oom_whole.yaml", workdir=tmp_path)
    assert (outcome.ran, outcome.failed) == (2, 1)
    runs = trial_runs(tmp_path, "oom_whole")
    good, bad = runs["model.pooling=attention"], runs["model.pooling=max"]
    assert good.info.status == "FINISHED" and "sedstudy.failure" not in good.data.tags
    assert bad.info.status == "FAILED"
    assert "out of memory" in bad.data.tags["sedstudy.failure"]
    assert is_out_of_memory(bad.data.tags["sedstudy.failure"])


@pytest.mark.integration
@pytest.mark.slow
def test_out_of_memory_with_a_fractional_gpu_is_retried_with_twice_the_share(tmp_path: Path, ray_with_oom_hook,
                                                                            tiny_dataset: Path, capsys):
    (tmp_path / "oom_half.yaml").write_text(STUDY.format(name="oom_half", gpu=0.5, data=tiny_dataset))
    outcome = run_study(tmp_path / "oom_half.yaml", workdir=tmp_path)
    assert "1 trial(s) ran out of GPU memory: retrying them with 1 GPU each" in capsys.readouterr().out
    assert (outcome.ran, outcome.failed) == (2, 0)
    runs = trial_runs(tmp_path, "oom_half")
    assert len(runs) == 2 and {r.info.status for r in runs.values()} == {"FINISHED"}
    client = MlflowClient(default_tracking_uri(tmp_path))
    retried = runs["model.pooling=max"]
    steps = [m.step for m in client.get_metric_history(retried.info.run_id, "train/loss")]
    assert sorted(steps) == [0, 1]
    # the failed first attempt is a retry of the finished run now, not its failure
    assert "sedstudy.failure" not in retried.data.tags
    assert retried.data.tags["sedstudy.retries"] == "1" and "out of memory" in retried.data.tags["sedstudy.retry.1"]


@pytest.mark.parametrize("reason", [
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79.19 GiB total capacity)",
    "RuntimeError: CUDA error: out of memory",
    "ray.exceptions.RayTaskError(OutOfMemoryError): ray::ImplicitFunc.train()",
])
def test_out_of_memory_reasons(reason: str):
    assert is_out_of_memory(reason)


@pytest.mark.parametrize("reason", [
    "FloatingPointError: the student's output is not finite",
    "ValueError: memory_format must be contiguous",
    "OSError: [Errno 28] No space left on device",
])
def test_other_reasons_are_not_out_of_memory(reason: str):
    assert not is_out_of_memory(reason)
