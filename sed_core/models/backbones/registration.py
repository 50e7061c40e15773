"""A backbone's registration: everything the model builder needs of one SSL backbone, checked when it registers.

Adding a backbone is a module with a ``base.Backbone`` subclass and its variants, plus one line in
``backbones/__init__.py``: ``register_backbone(BackboneRegistration(name, Class, VARIANTS, official_drop_path=p))``.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

from sed_core.errors import ConfigError
from sed_core.models.backbones.base import Backbone
from sed_core.models.registries import BACKBONES

REQUIRED_VARIANTS = ("base", "tiny")  # the official size, and the one tests and the tiny preset build
CONTRACT = ("features", "forward", "token_grid", "layer_groups", "load_official")  # what base.Backbone leaves open
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class BackboneRegistration:
    """``backbone`` is built as ``backbone(variants[model.backbone.variant], clip_samples=..., drop_path=...)``;
    ``official_drop_path`` is the stochastic depth (or layer drop) of the official fine-tuning recipe, used when
    ``model.backbone.drop_path`` is null."""

    name: str  # model.backbone.name
    backbone: type[Backbone]
    variants: Mapping[str, Any]  # model.backbone.variant -> the size spec ``backbone`` takes
    _: KW_ONLY
    official_drop_path: float

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            raise ValueError(f"backbone {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        if not isinstance(self.name, str) or not NAME.match(self.name) or self.name == "none":
            return (f"the name must be lower-case letters, digits and '_' (and not 'none', which means no "
                    f"backbone), got {self.name!r}")
        if not (isinstance(self.backbone, type) and issubclass(self.backbone, Backbone)):
            return f"{self.backbone!r} is not a subclass of sed_core.models.backbones.base.Backbone"
        missing = [m for m in CONTRACT if getattr(self.backbone, m) is getattr(Backbone, m)]
        if missing:
            return (f"{self.backbone.__name__} does not implement {', '.join(missing)} (the Backbone contract, "
                    f"backbones/base.py)")
        lacking = [v for v in REQUIRED_VARIANTS if v not in self.variants]
        if lacking:
            return (f"variants lack {', '.join(map(repr, lacking))}; every backbone has the variants "
                    f"{', '.join(REQUIRED_VARIANTS)} (the official size, and the small one tests build)")
        drop = self.official_drop_path
        if isinstance(drop, bool) or not isinstance(drop, numbers.Real) or not 0 <= drop < 1:
            return (f"official_drop_path must be a number in [0, 1), the official fine-tuning recipe's stochastic "
                    f"depth (0 where it has none), got {drop!r}")
        return None

    def build(self, variant: str, *, clip_samples: int, drop_path: float | None = None) -> Backbone:
        """The ``variant`` backbone for clips of ``clip_samples``; ``drop_path`` None: the official recipe's."""
        if variant not in self.variants:
            raise ConfigError(f"model.backbone.variant: {self.name} has no variant {variant!r}; "
                              f"choose one of {', '.join(self.variants)}")
        rate = self.official_drop_path if drop_path is None else drop_path
        return self.backbone(self.variants[variant], clip_samples=clip_samples, drop_path=rate)


def register_backbone(registration: BackboneRegistration) -> BackboneRegistration:
    return BACKBONES.register(registration.name)(registration)
