"""The shipped paper studies validate (every cell builds at paper size) once their checkpoints are in place."""
from __future__ import annotations

from pathlib import Path

import pytest

from sed_core.errors import ConfigError
from sed_core.models import build_model
from studies.definition import load_study
from studies.launcher import check_study

REPO = Path(__file__).resolve().parents[2]
PAPER_STUDIES = sorted((REPO / "studies").glob("paper_*.yaml"))


def place_checkpoints(workdir: Path, study_path: Path) -> None:
    for trial in load_study(study_path, workdir=workdir).trials:
        path = trial.config.model.backbone.checkpoint
        if trial.config.model.backbone.enabled and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()


@pytest.mark.parametrize("study_path", PAPER_STUDIES, ids=lambda p: p.stem)
def test_paper_study_validates_with_its_checkpoints(study_path: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"cell .*model\.backbone\.checkpoint: .* does not exist"):
        check_study(load_study(study_path, workdir=tmp_path))
    place_checkpoints(tmp_path, study_path)
    study = load_study(study_path, workdir=tmp_path)
    check_study(study)
    assert len(study.spec.seeds) >= 3 and study.spec.resources.gpu >= 1


def test_paper_main_compares_asit_crnn_with_the_dcase_crnn(tmp_path: Path):
    place_checkpoints(tmp_path, REPO / "studies" / "paper_main.yaml")
    study = load_study(REPO / "studies" / "paper_main.yaml", workdir=tmp_path)
    sizes = {}
    for trial in study.trials:
        model = build_model(trial.config, device="meta")
        sizes[trial.cell.id] = sum(p.numel() for p in model.parameters())
        assert trial.config.training.epochs == 200 and trial.config.data.clip_seconds == 10.0
    assert sizes == {"model=asit_crnn": 86_875_364, "model=crnn": 1_112_420}
    assert study.baseline.id == "model=crnn"


def test_backbone_ablation_covers_every_registered_backbone(tmp_path: Path):
    from sed_core.models import BACKBONES

    study = load_study(REPO / "studies" / "paper_backbone.yaml", workdir=tmp_path)
    assert {t.config.model.backbone.name for t in study.trials} == set(BACKBONES.names())
