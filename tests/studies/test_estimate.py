"""The dry run's cost estimate: FLOPs per clip from the model, steps from the data, GPU hours at a throughput."""
from __future__ import annotations

import pytest

from sed_core.config import config_from_dict
from studies.estimate import TrialCost, clip_flops, trial_cost


def test_flops_grow_with_the_model_and_shrink_when_the_backbone_is_frozen():
    crnn = clip_flops(config_from_dict({"preset": "tiny"}))
    ssl = {"preset": "tiny", "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random"},
                                       "fusion": {"name": "concat"}}}
    full = clip_flops(config_from_dict(ssl))
    ssl["model"]["backbone"]["freeze"] = {"schedule": "frozen"}
    frozen = clip_flops(config_from_dict(ssl))
    assert crnn[0] < frozen[0] < full[0]
    assert full[1] == frozen[1] > crnn[1]  # inference cost does not depend on the schedule
    assert crnn[0] > 2 * crnn[1]  # training = forward + backward + the teacher's forward


def test_trial_cost_counts_steps_like_the_sampler_and_evaluation_per_epoch():
    cfg = config_from_dict({"preset": "tiny", "training": {"epochs": 3}})
    sizes = {"synthetic_train": 20, "strong_train": 9, "weak_train": 30, "unlabelled_train": 40,
             "synthetic_validation": 10, "validation": 7}
    cost = trial_cost(cfg, (2e12, 1e12), sizes)
    assert cost.steps == 3 * (9 // 2)  # the smallest source per batch share sets the epoch, as the sampler does
    assert cost.train_tflop_per_step == pytest.approx(8 * 2.0)
    assert cost.eval_tflop == pytest.approx(3 * 10 + 2 * 7)
    assert cost.total_tflop == pytest.approx(12 * 16 + 44)
    assert TrialCost(None, 1.0, 0.0).total_tflop is None
