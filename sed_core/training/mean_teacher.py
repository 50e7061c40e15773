"""Mean-teacher parts as small pure functions (Tarvainen & Valpola, 2017; DCASE Task 4 baseline)."""
from __future__ import annotations

import math

import torch
from torch import nn


def sigmoid_rampup(step: float, length: float) -> float:
    """exp(-5 (1 - t)^2) with t = step / length clipped to [0, 1]; 1 when length is 0 (DCASE ExponentialWarmup)."""
    if length <= 0:
        return 1.0
    t = min(max(step / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)


def ema_decay_at(step: int, decay: float) -> float:
    """Warm start: the decay is min(1 - 1 / (step + 1), decay), so early teachers follow the student closely."""
    return min(1.0 - 1.0 / (step + 1), decay)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, decay: float, *, buffers: bool = False) -> None:
    """teacher <- decay * teacher + (1 - decay) * student for parameters (and float buffers if asked)."""
    teacher_params = list(teacher.parameters())
    student_params = [s.detach() for s in student.parameters()]
    # one multi-tensor kernel per op instead of two per parameter (the same arithmetic as mul_ then add_)
    torch._foreach_mul_(teacher_params, decay)
    torch._foreach_add_(teacher_params, student_params, alpha=1.0 - decay)
    if buffers:
        for t, s in zip(teacher.buffers(), student.buffers()):
            if t.dtype.is_floating_point:
                t.mul_(decay).add_(s, alpha=1.0 - decay)
            else:
                t.copy_(s)


def consistency_loss(student_strong: torch.Tensor, student_weak: torch.Tensor,
                     teacher_strong: torch.Tensor, teacher_weak: torch.Tensor) -> torch.Tensor:
    """MSE between student and (detached) teacher predictions, strong plus weak, over every clip."""
    mse = nn.functional.mse_loss
    return mse(student_strong, teacher_strong.detach()) + mse(student_weak, teacher_weak.detach())
