"""What every SED model returns."""
from __future__ import annotations

from typing import NamedTuple

import torch


class SEDOutput(NamedTuple):
    strong: torch.Tensor  # (B, T', C) frame probabilities
    weak: torch.Tensor  # (B, C) clip probabilities

    def float(self) -> SEDOutput:
        """fp32 copies of reduced-precision outputs (autocast); fp32 outputs are returned as they are."""
        return SEDOutput(self.strong.float(), self.weak.float())
