from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sed_core.training.mean_teacher import consistency_loss, ema_decay_at, ema_update, sigmoid_rampup
from sed_core.training.mixup import mixup, sample_beta


def test_sigmoid_rampup_ends():
    assert sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(50, 100) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(500, 100) == 1.0
    assert sigmoid_rampup(3, 0) == 1.0


def test_ema_warm_start():
    assert ema_decay_at(0, 0.999) == 0.0
    assert ema_decay_at(1, 0.999) == 0.5
    assert ema_decay_at(10_000, 0.999) == 0.999


def test_ema_update_moves_parameters_not_buffers_by_default():
    student, teacher = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        student.weight.fill_(1.0)
        teacher.weight.fill_(0.0)
        student.running_mean.fill_(4.0)
    ema_update(teacher, student, 0.75)
    assert torch.allclose(teacher.weight, torch.full((2,), 0.25))
    assert torch.equal(teacher.running_mean, torch.zeros(2))
    ema_update(teacher, student, 0.5, buffers=True)
    assert torch.allclose(teacher.running_mean, torch.full((2,), 2.0))


def test_ema_update_equals_the_per_parameter_arithmetic_bit_for_bit():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(7, 5), nn.GRU(5, 3), nn.Conv1d(3, 2, 3))
    teacher = nn.Sequential(nn.Linear(7, 5), nn.GRU(5, 3), nn.Conv1d(3, 2, 3))
    expected = [t.detach().clone() for t in teacher.parameters()]
    for decay in (0.0, 0.5, 0.999):
        for e, s in zip(expected, student.parameters()):
            e.mul_(decay).add_(s.detach(), alpha=1.0 - decay)
        ema_update(teacher, student, decay)
    assert all(torch.equal(t, e) for t, e in zip(teacher.parameters(), expected))
    assert all(t.grad is None for t in teacher.parameters())


def test_consistency_is_zero_for_identical_predictions_and_detaches_teacher():
    s = torch.rand(2, 5, 3, requires_grad=True)
    w = torch.rand(2, 3, requires_grad=True)
    t = s.detach().clone().requires_grad_(True)
    assert consistency_loss(s, w, s.detach(), w.detach()).item() == 0.0
    loss = consistency_loss(s, w, t + 1, w.detach())
    loss.backward()
    assert t.grad is None and s.grad is not None


def test_mixup_shares_permutation_and_coefficient_across_branches():
    g = torch.Generator().manual_seed(3)
    x = torch.arange(4.0).reshape(4, 1)
    inputs = {"mel": x.clone(), "ssl": 10 * x.clone()}
    targets = torch.eye(4)
    mixed, mixed_targets = mixup(inputs, targets, alpha=0.2, generator=g)
    assert torch.allclose(mixed["ssl"], 10 * mixed["mel"])
    lam = mixed_targets.max(dim=1).values
    assert torch.all(lam >= 0.5)
    assert torch.allclose(mixed_targets.sum(dim=1), torch.ones(4))


def test_beta_sampler_mean():
    g = torch.Generator().manual_seed(0)
    draws = [sample_beta(0.2, g) for _ in range(4000)]
    assert abs(sum(draws) / len(draws) - 0.5) < 0.03
