"""The model-family registries; later backbones and fusions join here."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from sed_core.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model", "model.name")
ACTIVATIONS: Registry[Callable[[int], nn.Module]] = Registry("CNN activation", "model.cnn.activation")
POOLINGS: Registry[Callable[..., nn.Module]] = Registry("weak pooling", "model.pooling")
BACKBONES: Registry[Callable[..., nn.Module]] = Registry("SSL backbone", "model.backbone.name")
FUSIONS: Registry[Callable[..., nn.Module]] = Registry("fusion", "model.fusion.name")
