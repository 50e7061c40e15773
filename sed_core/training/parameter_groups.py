"""The optimizer's parameter groups, with layer-wise learning-rate decay over the backbone's layer groups.

The top backbone group learns at ``freeze.lr`` and each group below at ``layer_decay`` times the one above; which
groups train in an epoch is the freeze schedule's (``sed_core.models.freeze_schedule``).
"""
from __future__ import annotations

from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.models.freeze_schedule import backbone_groups, phase_of, trainable_cap


def parameter_groups(model: nn.Module, config: ExperimentConfig, epoch: int) -> list[dict]:
    """Optimizer groups for the phase of ``epoch``: the SED model at ``training.optimizer.lr``, then the backbone
    groups that may train in this phase, top first, with decayed learning rates. ``base_lr`` is the peak lr
    the warm-up scales.
    """
    lr = config.training.optimizer.lr
    head = [p for name, p in model.named_parameters() if not name.startswith("backbone.")]
    groups = [{"params": head, "lr": lr, "base_lr": lr, "name": "sed"}]
    layers = backbone_groups(model)
    freeze = config.model.backbone.freeze
    if not layers or freeze.schedule == "frozen" or phase_of(freeze, epoch) == 1:
        return groups
    for depth, group in enumerate(reversed(layers[len(layers) - trainable_cap(freeze, len(layers)):])):
        group_lr = freeze.lr * freeze.layer_decay ** depth
        groups.append({"params": group, "lr": group_lr, "base_lr": group_lr, "name": f"backbone.top{depth}"})
    return groups
