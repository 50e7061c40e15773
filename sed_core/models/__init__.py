"""SED models. Importing this package registers every built-in model, activation, pooling, backbone and fusion."""
from sed_core.models import activations, backbones, crnn, fusion, pooling  # noqa: F401  (registration)
from sed_core.models.build import build_model
from sed_core.models.registries import ACTIVATIONS, BACKBONES, FUSIONS, MODELS, POOLINGS

__all__ = ["ACTIVATIONS", "BACKBONES", "FUSIONS", "MODELS", "POOLINGS", "build_model"]
