"""The shipped four-factor ablation (fusion x pooling x freeze schedule x backbone) runs through Ray Tune and MLflow."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.build import build_report
from studies.launcher import run_study
from studies.tracking import default_tracking_uri

REPO = Path(__file__).resolve().parents[2]
FACTORS = ("model.fusion.name", "model.pooling", "freeze", "model.backbone.name")


@pytest.mark.integration
@pytest.mark.slow
def test_tiny_four_factor_ablation_lands_every_cell_in_mlflow(tmp_path: Path, in_process_ray, tiny_dataset: Path):
    study = tmp_path / "tiny_ablation.yaml"
    # the shipped study on the session's tiny dataset (the same preset and seed as its synthetic_data block)
    study.write_text((REPO / "studies" / "tiny_ablation.yaml").read_text().replace("root: data/synth/tiny",
                                                                                f"root: {tiny_dataset}"))
    outcome = run_study(study, workdir=tmp_path)
    assert (outcome.ran, outcome.failed, outcome.skipped) == (16, 0, 0)
    client = MlflowClient(default_tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("tiny_ablation")
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
    assert len(runs) == 16 and {r.info.status for r in runs} == {"FINISHED"}
    cells = {tuple(r.data.tags[f"sedstudy.factor.{f}"] for f in FACTORS) for r in runs}
    assert len(cells) == 16
    for run in runs:
        assert 0.0 <= run.data.metrics["psds1"] <= 1.0
        assert run.data.params["model.backbone.variant"] == "tiny"
        assert run.data.params["model.backbone.name"] == run.data.tags["sedstudy.factor.model.backbone.name"]
    paths = build_report(default_tracking_uri(tmp_path), "tiny_ablation", tmp_path / "report", clip_resamples=50)
    table = paths.markdown.read_text()
    assert all(factor in table for factor in FACTORS)
