"""Device, mixed precision and deterministic mode of a run (GPU cases run only where a CUDA GPU is visible)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.training.device import loader_workers, metric_jobs, resolve_device
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer, fit
from studies.trial_identity import config_hash

CUDA = torch.cuda.is_available()


def tiny(root: Path, out: Path, **training):
    return config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
                             "training": {"epochs": 1, "steps_per_epoch": 3, **training}})


def test_devices_are_resolved_or_refused_with_the_fix() -> None:
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="not a device; expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")
    with pytest.raises(ConfigError, match="not supported"):
        resolve_device("meta")
    if not CUDA:
        with pytest.raises(ConfigError, match="asks for a CUDA GPU but none is visible"):
            resolve_device("cuda:0")


def test_loader_workers_auto_is_in_process_on_a_cpu_and_a_few_on_a_gpu() -> None:
    assert loader_workers("auto", torch.device("cpu")) == 0
    assert 1 <= loader_workers("auto", torch.device("cuda")) <= 4
    assert loader_workers(3, torch.device("cpu")) == 3
    assert metric_jobs("auto", torch.device("cpu")) == 1 and 1 <= metric_jobs("auto", torch.device("cuda")) <= 4
    assert metric_jobs(2, torch.device("cpu")) == 2


def test_loader_workers_and_metric_jobs_change_no_result_and_no_trial_identity(tiny_dataset: Path,
                                                                              tmp_path: Path) -> None:
    in_process = tiny(tiny_dataset, tmp_path / "w0", loader_workers=0)
    two = tiny(tiny_dataset, tmp_path / "w2", loader_workers=2)
    two = two.model_copy(update={"evaluation": two.evaluation.model_copy(update={"num_jobs": 2})})
    assert config_hash(in_process) == config_hash(two)
    first, second = fit(in_process), fit(two)
    assert first.history == second.history and first.metrics == second.metrics


@pytest.mark.skipif(CUDA, reason="fp16 is allowed where a GPU is visible")
def test_fp16_on_a_cpu_is_refused_before_any_data_is_read(tmp_path: Path) -> None:
    config = tiny(tmp_path / "no_data_here", tmp_path / "run", device="cpu", precision="fp16")
    with pytest.raises(ConfigError, match="training.precision: fp16 autocast needs a CUDA GPU"):
        Trainer(config, NullReporter())


def test_bf16_autocast_trains_and_changes_the_numbers(tiny_dataset: Path, tmp_path: Path) -> None:
    fp32 = fit(tiny(tiny_dataset, tmp_path / "fp32", device="cpu"))
    bf16 = fit(tiny(tiny_dataset, tmp_path / "bf16", device="cpu", precision="bf16"))
    losses = [h["train/loss"] for h in bf16.history]
    assert all(torch.isfinite(torch.tensor(losses))) and 0 <= bf16.metrics["psds1"] <= 1
    assert losses != [h["train/loss"] for h in fp32.history]  # the forward passes really ran in bf16


def test_deterministic_mode_changes_nothing_on_a_cpu(tiny_dataset: Path, tmp_path: Path) -> None:
    plain = fit(tiny(tiny_dataset, tmp_path / "plain", device="cpu"))
    try:
        strict = fit(tiny(tiny_dataset, tmp_path / "strict", device="cpu", deterministic=True))
    finally:
        torch.use_deterministic_algorithms(False)
    assert strict.history == plain.history and strict.metrics == plain.metrics


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_a_run_on_the_gpu(tiny_dataset: Path, tmp_path: Path, precision: str) -> None:
    result = fit(tiny(tiny_dataset, tmp_path / precision, device="cuda", precision=precision))
    assert 0 <= result.metrics["psds1"] <= 1 and all(torch.isfinite(torch.tensor(h["train/loss"]))
                                                     for h in result.history)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_deterministic_mode_repeats_a_gpu_run_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    try:
        first = fit(tiny(tiny_dataset, tmp_path / "a", device="cuda", deterministic=True))
        second = fit(tiny(tiny_dataset, tmp_path / "b", device="cuda", deterministic=True))
    finally:
        torch.use_deterministic_algorithms(False)
    assert first.history == second.history and first.metrics == second.metrics


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_a_finished_run_gives_its_gpu_memory_back(tiny_dataset: Path, tmp_path: Path) -> None:
    torch.cuda.empty_cache()
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    fit(tiny(tiny_dataset, tmp_path / "run", device="cuda"))
    assert torch.cuda.memory_allocated() == allocated
    assert torch.cuda.memory_reserved() <= reserved
