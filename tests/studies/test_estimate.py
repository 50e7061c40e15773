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


def test_a_gru_counted_in_closed_form_equals_its_decomposition():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from studies.flops import CountedGRU

    def counts(gru: torch.nn.GRU, x: torch.Tensor) -> tuple[float, float]:
        with FlopCounterMode(display=False) as forward, torch.no_grad():
            gru(x)
        with FlopCounterMode(display=False) as train:
            gru(x)[0].sum().backward()
        return forward.get_total_flops(), train.get_total_flops()

    for layers, bidirectional, input_grad, frozen in ((2, True, True, False), (1, False, False, False),
                                                       (3, True, False, False), (2, True, True, True)):
        gru = torch.nn.GRU(24, 16, num_layers=layers, bidirectional=bidirectional, batch_first=True, device="meta")
        for name, p in gru.named_parameters():
            p.requires_grad_(not (frozen and name.endswith("l0")))
        x = torch.empty(2, 9, 24, device="meta", requires_grad=input_grad)
        counted = CountedGRU(gru)
        with torch.no_grad():
            counted(x)
        forward = counted.flops
        counted.flops = 0.0
        out, _ = counted(x)
        out.sum().backward()
        assert (forward, counted.flops) == counts(gru, x), (layers, bidirectional, input_grad, frozen)


def test_throughput_depends_on_precision_and_the_crnn_is_data_bound():
    from studies.throughput import ASSUMED_TFLOPS, LOADER_CLIPS_PER_S, throughput

    fp32 = config_from_dict({"preset": "crnn_baseline"})
    bf16 = config_from_dict({"preset": "crnn_baseline", "training": {"precision": "bf16"}})
    assert throughput(fp32, cpus=4, effective_tflops=None).tflops == ASSUMED_TFLOPS["fp32"]
    assert throughput(bf16, cpus=4, effective_tflops=None).tflops == ASSUMED_TFLOPS["bf16"] > ASSUMED_TFLOPS["fp32"]
    assert throughput(bf16, cpus=4, effective_tflops=123.0).tflops == 123.0  # measured beats assumed
    speed = throughput(fp32, cpus=4, effective_tflops=None)
    assert speed.clips_per_s == 3 * LOADER_CLIPS_PER_S  # "auto" loader workers on a GPU: cores - 1, at most 4
    flops = clip_flops(fp32)[0]  # one training clip of the DCASE CRNN
    hours, bound = speed.hours(1000 * flops / 1e12, 1000)
    assert bound == "data" and hours == pytest.approx(1000 / speed.clips_per_s / 3600)
    assert speed.hours(1e6, 1000)[1] == "compute"


def test_split_sizes_without_data_come_from_the_official_lists_or_the_synthetic_preset(tmp_path):
    from sed_core.data.fingerprint import OFFICIAL_CLIPS
    from sed_core.data.synth.presets import SYNTH_PRESETS
    from studies.definition import SyntheticDataSpec
    from studies.estimate import split_sizes

    cfg = config_from_dict({"preset": "paper", "data": {"root": str(tmp_path / "absent")}})
    official = split_sizes(cfg)
    assert official.clips == {name: OFFICIAL_CLIPS[name] for name in official.clips}
    assert official.warning is not None and "official" in official.warning and str(tmp_path / "absent") in \
        official.warning
    synthetic = split_sizes(cfg, SyntheticDataSpec(preset="demo"))
    assert synthetic.warning is None and synthetic.clips["validation"] == SYNTH_PRESETS["demo"].split_sizes()[
        "validation"]
