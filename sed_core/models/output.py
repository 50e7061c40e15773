"""What every SED model returns."""
from __future__ import annotations

from typing import NamedTuple

import torch


class SEDOutput(NamedTuple):
    strong: torch.Tensor  # (B, T', C) frame probabilities
    weak: torch.Tensor  # (B, C) clip probabilities
