"""The touch lists of docs/ARCHITECTURE.md hold: a backbone, a fusion and a study design, each one definition plus
one registration (tests/throwaway_parts.py), are picked up end to end with no other file edited (a report section:
tests/reports/test_report_section_plugin.py)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from sed_core.models import build_model
from sed_core.training.trainer import fit
from studies.definition import load_study
from tests.throwaway_parts import FrameProjection, GatedProductFusion

pytestmark = pytest.mark.slow


def test_a_study_of_a_new_design_trains_a_new_backbone_and_fusion(throwaway_backbone, throwaway_fusion,
                                                                   throwaway_design, tiny_dataset: Path,
                                                                   tmp_path: Path):
    study_yaml = tmp_path / "plugins.yaml"
    study_yaml.write_text(f"""name: plugins
experiment:
  preset: tiny
  data:
    root: {tiny_dataset}
  training:
    epochs: 1
    steps_per_epoch: 2
  model:
    backbone:
      name: {throwaway_backbone}
      variant: tiny
      init: random
design:
  type: {throwaway_design}
  factors:
    model.fusion.name: [concat, gated, {throwaway_fusion}]
    model.pooling: [attention, max]
seeds: [1]
""")
    study = load_study(study_yaml, workdir=tmp_path)
    assert [cell.as_dict() for cell in study.cells] == [
        {"model.fusion.name": "concat", "model.pooling": "attention"},
        {"model.fusion.name": throwaway_fusion, "model.pooling": "max"}]
    last = study.trials[-1].config.model_copy(update={"output_dir": tmp_path / "trial"})
    model = build_model(last)
    assert isinstance(model.backbone, FrameProjection) and isinstance(model.fusion, GatedProductFusion)
    result = fit(last)
    assert result.best_epoch == 0 and math.isfinite(result.metrics["psds1"])

