"""SED models. Importing this package registers every built-in model, activation and pooling."""
from sed_core.models import activations, crnn, pooling  # noqa: F401  (registration)
from sed_core.models.build import build_model
from sed_core.models.registries import ACTIVATIONS, MODELS, POOLINGS

__all__ = ["ACTIVATIONS", "MODELS", "POOLINGS", "build_model"]
