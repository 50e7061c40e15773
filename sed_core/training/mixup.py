"""Mixup as in the DCASE baseline: one permutation and coefficient per group, applied to every input branch."""
from __future__ import annotations

import torch


def mixup(inputs: dict[str, torch.Tensor], targets: torch.Tensor, *, alpha: float, generator: torch.Generator,
          label_mode: str = "soft") -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Mix rows of every input tensor and the targets with one shared (permutation, lambda).

    lambda ~ Beta(alpha, alpha), folded to max(lambda, 1 - lambda); "soft" targets mix with lambda, "hard"
    targets take the union (max).
    """
    n = targets.shape[0]
    lam = sample_beta(alpha, generator)
    lam = max(lam, 1.0 - lam)
    perm = torch.randperm(n, generator=generator)
    mixed = {name: lam * x + (1.0 - lam) * x[perm] for name, x in inputs.items()}
    if label_mode == "soft":
        mixed_targets = lam * targets + (1.0 - lam) * targets[perm]
    else:
        mixed_targets = torch.maximum(targets, targets[perm])
    return mixed, mixed_targets


def sample_beta(alpha: float, generator: torch.Generator) -> float:
    """Beta(alpha, alpha) from two Gamma(alpha) draws (torch.distributions.Beta takes no generator)."""
    g1, g2 = torch._standard_gamma(torch.full((2,), float(alpha)), generator=generator).tolist()
    total = g1 + g2
    return g1 / total if total > 0 else 0.5
