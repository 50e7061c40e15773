"""Backbone freeze schedules: which of the backbone's layer groups train in each epoch.

Groups come from the backbone's own ``layer_groups()`` (never from parameter-name matching, which left BEATs
and MAE-AST frozen in the reference code, flaw 7); only the top ``trainable_groups`` groups ever train.
"""
from __future__ import annotations

from torch import nn

from sed_core.config.schema import ExperimentConfig, FreezeConfig


def backbone_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    backbone = getattr(model, "backbone", None)
    return backbone.layer_groups() if backbone is not None else []


def trainable_cap(freeze: FreezeConfig, n_groups: int) -> int:
    """How many groups from the top may ever train."""
    return n_groups if freeze.trainable_groups is None else min(freeze.trainable_groups, n_groups)


def phase_of(freeze: FreezeConfig, epoch: int) -> int:
    """1 while a two-phase schedule is in its frozen phase, else 2 (every other schedule is one phase: 2)."""
    return 1 if freeze.schedule == "two_phase" and epoch < freeze.phase1_epochs else 2


def trainable_count(freeze: FreezeConfig, n_groups: int, epoch: int) -> int:
    """Number of top groups that train during ``epoch``."""
    cap = trainable_cap(freeze, n_groups)
    if freeze.schedule == "frozen" or phase_of(freeze, epoch) == 1:
        return 0
    if freeze.schedule == "gradual":
        return min(cap, epoch // freeze.unfreeze_every)
    return cap


def apply_freeze(model: nn.Module, config: ExperimentConfig, epoch: int) -> int:
    """Set ``requires_grad`` of the backbone's groups for ``epoch``; returns the number of trainable groups."""
    groups = backbone_groups(model)
    if not groups:
        return 0
    n = trainable_count(config.model.backbone.freeze, len(groups), epoch)
    for depth, group in enumerate(reversed(groups)):
        for p in group:
            p.requires_grad_(depth < n)
    return n

