"""What ``sedstudy model-info`` prints: parameter counts per part (trainable and frozen) and the frame grid."""
from __future__ import annotations

from typing import Any

from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.models.freeze_schedule import apply_freeze

PARTS = {"cnn": ("cnn",), "backbone": ("backbone",), "fusion": ("fusion",), "rnn": ("rnn",),
         "heads": ("dense", "pooling")}


def part_of(name: str) -> str:
    top = name.split(".", 1)[0]
    return next((part for part, modules in PARTS.items() if top in modules), top)


def count_by_part(model: nn.Module) -> dict[str, dict[str, int]]:
    counts = {part: {"total": 0, "trainable": 0, "frozen": 0} for part in PARTS}
    for name, p in model.named_parameters():
        entry = counts.setdefault(part_of(name), {"total": 0, "trainable": 0, "frozen": 0})
        entry["total"] += p.numel()
        entry["trainable" if p.requires_grad else "frozen"] += p.numel()
    return {part: c for part, c in counts.items() if c["total"]}


def model_summary(model: nn.Module, config: ExperimentConfig) -> dict[str, Any]:
    """Counts at the first epoch and in the last (after any unfreezing), the output grid and token grid."""
    n_samples = int(round(config.data.clip_seconds * config.data.sample_rate))
    apply_freeze(model, config, epoch=0)
    at_start = count_by_part(model)
    apply_freeze(model, config, epoch=config.training.epochs - 1)
    at_end = count_by_part(model)
    info: dict[str, Any] = {
        "model": config.model.name,
        "backbone": config.model.backbone.name if config.model.backbone.enabled else None,
        "fusion": config.model.fusion.name, "pooling": config.model.pooling,
        "parameters": sum(c["total"] for c in at_end.values()),
        "parts": {part: {"parameters": c["total"], "trainable_first_epoch": at_start[part]["trainable"],
                         "trainable_last_epoch": c["trainable"], "frozen_last_epoch": c["frozen"]}
                  for part, c in at_end.items()},
        "clip_seconds": config.data.clip_seconds,
        "output_frames": model.output_frames(n_samples),
        "frame_hop_s": model.frame_hop_s,
    }
    if config.model.backbone.enabled:
        bcfg = config.model.backbone
        grid = model.backbone.token_grid(n_samples)
        info["backbone_detail"] = {
            "variant": bcfg.variant, "freeze_schedule": bcfg.freeze.schedule,
            "layer_groups": len(model.backbone.layer_groups()), "time_tokens": len(grid.centers_s),
            "valid_time_tokens": grid.n_valid, "alignment": bcfg.alignment,
        }
    return info
