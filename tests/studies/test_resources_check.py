"""A study whose trial no node can hold is refused before any compute, with what it asks and what there is."""
from __future__ import annotations

from pathlib import Path

import pytest

from studies.cli import main
from studies.resources_check import unmeetable_reason

NODES = [{"CPU": 16.0, "GPU": 4.0}, {"CPU": 8.0}]


@pytest.mark.parametrize(("cpu", "gpu", "fits"), [(1, 0, True), (16, 4, True), (8, 0, True), (17, 0, False),
                                                  (1, 4.5, False), (12, 0.5, True), (0.5, 1000, False)])
def test_a_trial_fits_when_one_node_has_both(cpu: float, gpu: float, fits: bool):
    assert (unmeetable_reason(cpu, gpu, NODES) is None) == fits


def test_the_reason_names_the_request_and_the_largest_node():
    assert unmeetable_reason(24, 0, NODES) == ("a trial asks for 24 CPU and 0 GPU, but the largest of the cluster's 2 "
                                               "nodes has 16 CPU and 4 GPU")
    assert "this machine has 2 CPU and 0 GPU" in unmeetable_reason(1, 0.5, [{"CPU": 2.0, "GPU": 0.0}])


@pytest.mark.parametrize("resources", ["{cpu: 1000}", "{gpu: 1000}"])
def test_run_refuses_an_unmeetable_request_before_any_compute(resources: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]):
    study = tmp_path / "greedy.yaml"
    study.write_text(f"""name: greedy
experiment:
  preset: tiny
  data:
    root: data/synth/tiny
synthetic_data:
  preset: tiny
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
resources: {resources}
""")
    assert main(["run", str(study), "--workdir", str(tmp_path / "work")]) != 0
    err = capsys.readouterr().err
    assert "greedy.yaml: resources: a trial asks for" in err and "this machine has" in err
    assert not (tmp_path / "work" / "data").exists() and not (tmp_path / "work" / "mlflow.db").exists()
