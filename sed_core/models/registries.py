"""The model-family registries; later backbones and fusions join here."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import nn

from sed_core.registry import Registry

if TYPE_CHECKING:
    from sed_core.models.backbones.registration import BackboneRegistration

MODELS: Registry[Callable[..., nn.Module]] = Registry("model", "model.name")
ACTIVATIONS: Registry[Callable[[int], nn.Module]] = Registry("CNN activation", "model.cnn.activation")
POOLINGS: Registry[Callable[..., nn.Module]] = Registry("weak pooling", "model.pooling")
BACKBONES: Registry[BackboneRegistration] = Registry("SSL backbone", "model.backbone.name")
FUSIONS: Registry[Callable[..., nn.Module]] = Registry("fusion", "model.fusion.name")
