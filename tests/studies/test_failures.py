"""A trial that diverges is retried per policy, then recorded as FAILED with its reason; the study goes on."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from studies.launcher import is_out_of_memory, run_study
from studies.tracking import default_tracking_uri

STUDY = """
name: diverging
experiment:
  preset: tiny
  data: {root: data/tiny}
  training: {epochs: 2, steps_per_epoch: 2, lr_warmup: false, gradient_clip: 0}
synthetic_data: {preset: tiny, seed: 0}
design:
  factors:
    training.optimizer.lr: [0.001, 1.0e+30]
seeds: [1]
failures: {max_retries: 1}
"""


@pytest.mark.integration
@pytest.mark.slow
def test_diverging_trial_is_retried_then_failed_with_its_reason(tmp_path: Path, in_process_ray, tiny_dataset: Path):
    (tmp_path / "diverging.yaml").write_text(STUDY.replace("data/tiny", str(tiny_dataset)))
    outcome = run_study(tmp_path / "diverging.yaml", workdir=tmp_path)
    assert (outcome.ran, outcome.failed) == (2, 1)
    client = MlflowClient(default_tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("diverging")
    runs = {r.data.tags["sedstudy.cell"]: r for r in
            client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")}
    assert len(runs) == 2
    good, bad = runs["training.optimizer.lr=0.001"], runs["training.optimizer.lr=1e+30"]
    assert good.info.status == "FINISHED"
    assert bad.info.status == "FAILED"
    assert "not finite" in bad.data.tags["sedstudy.failure"]
    assert bad.data.tags["sedstudy.retries"] == "1" and "not finite" in bad.data.tags["sedstudy.retry.1"]


def test_out_of_memory_reasons_are_recognised():
    assert is_out_of_memory("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert not is_out_of_memory("FloatingPointError: the student's output is not finite")
