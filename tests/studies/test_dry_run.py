"""`sedstudy run --dry-run` needs nothing downloaded: missing checkpoints and data are warnings, and the GPU hours
come from DESED's official list sizes; FLOPs are counted once per distinct model."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sed_core.data.fingerprint import OFFICIAL_CLIPS
from sed_core.errors import ConfigError
from studies import estimate
from studies.cli import main
from studies.definition import load_study
from studies.launcher import check_study

REPO = Path(__file__).resolve().parents[2]


def test_paper_main_dry_run_without_checkpoints_or_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--dry-run", str(REPO / "studies" / "paper_main.yaml"), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^warning: cell model=asit_crnn: model\.backbone\.checkpoint: .*ASiT_16kHz\.pth does not exist",
                     out, re.MULTILINE)
    assert re.search(rf"^warning: no readable data at {re.escape(str(tmp_path / 'data' / 'desed'))} .*official", out,
                     re.MULTILINE)
    total = re.search(r"^estimate: ([0-9.e+]+) TFLOP, ([0-9.e+]+) GPU-hours; steps from DESED's official lists", out,
                      re.MULTILINE)
    assert total is not None and float(total.group(2)) > 0
    rows = {line.split()[-2]: line.split() for line in out.splitlines() if line.rstrip().endswith("(3)")}
    assert rows["model=asit_crnn"][4] == "compute" and rows["model=crnn"][4] == "data"
    batch = load_study(REPO / "studies" / "paper_main.yaml", workdir=tmp_path).trials[0].config.data.batch.sources()
    per_epoch = min(OFFICIAL_CLIPS[name] // share for name, share in batch.items())  # the sampler's epoch
    assert per_epoch == 1578 // 16 and rows["model=crnn"][0] == f"{200 * per_epoch:,}"  # 200 epochs of weak_train
    assert "446 clips/s per loader process, from bench/RESULTS.md" in out
    # a real run still refuses the missing checkpoint before any compute
    with pytest.raises(ConfigError, match="ASiT_16kHz.pth does not exist"):
        check_study(load_study(REPO / "studies" / "paper_main.yaml", workdir=tmp_path))


def test_flops_are_counted_once_per_distinct_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    counted = []

    def fake_clip_flops(config):
        counted.append(estimate.architecture_key(config))
        return 2e9, 1e9

    monkeypatch.setattr(estimate, "clip_flops", fake_clip_flops)
    study = load_study(REPO / "studies" / "quickstart.yaml", workdir=tmp_path)  # 4 cells, 2 poolings x 2 mixups
    cost = estimate.estimate_study(study)
    assert len(counted) == len(set(counted)) == cost.distinct_models == 2
    assert len(cost.rows) == 4 and cost.gpu_hours is not None
