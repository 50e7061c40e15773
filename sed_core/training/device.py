"""Where and how a run computes: the device, mixed precision and PyTorch's deterministic mode.

`training.device`: "auto" (the first CUDA GPU when one is visible, else the CPU), "cpu", "cuda" or "cuda:N".
`training.precision`: "fp32" (the reference), "bf16" (autocast; CUDA GPUs that support it and CPUs) or "fp16"
(autocast with loss scaling; CUDA only). Front ends, losses and the teacher's EMA stay in fp32; autocast covers
the student's and the teacher's forward passes. `training.deterministic` turns on
`torch.use_deterministic_algorithms` (an op without a deterministic CUDA kernel then raises and names itself),
cuDNN's deterministic algorithms and cuBLAS's fixed workspace; on a CPU the results are deterministic anyway.
"""
from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

import torch

from sed_core.errors import ConfigError

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for reproducible results (PyTorch's reproducibility notes)


def resolve_device(spec: str) -> torch.device:
    """`training.device` -> a torch.device that exists here, or a ConfigError naming the fix."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"training.device: {spec!r} is not a device; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device: {spec!r} asks for a CUDA GPU but none is visible here "
                              "(CUDA_VISIBLE_DEVICES, the driver, or a CPU-only torch); use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"training.device: {spec!r} but only {torch.cuda.device_count()} GPU(s) are visible")
    elif device.type != "cpu":
        raise ConfigError(f"training.device: {spec!r} is not supported; expected auto, cpu, cuda or cuda:N")
    return device


FP16 = ("fp16", "fp16_encoder")


def check_precision(precision: str, device: torch.device) -> None:
    if precision in FP16 and device.type != "cuda":
        raise ConfigError(f"training.precision: {precision} autocast needs a CUDA GPU; use bf16 (CPUs and recent "
                          "GPUs) or fp32 on a CPU")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"training.precision: bf16 is not supported by {torch.cuda.get_device_name(device)}; "
                          "use fp16 (with loss scaling) or fp32")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The whole forward pass's autocast (fp16_encoder: none here, the model autocasts its SSL encoder)."""
    if precision in ("fp32", "fp16_encoder"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """Loss scaling for fp16, whole model or encoder (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type) if precision in FP16 else None


def loader_workers(spec: int | str, device: torch.device) -> int:
    """`training.loader_workers` -> a worker count. "auto": 0 on a CPU, where the process's own threads use the
    cores; on a GPU up to 4 (bench/data_path.py: one worker decodes several hundred 10 s clips a second, so a
    few keep ahead of the GPU), leaving a core to the training process."""
    if spec != "auto":
        return int(spec)
    return 0 if device.type != "cuda" else max(1, min(4, len(os.sched_getaffinity(0)) - 1))


def metric_jobs(spec: int | str, device: torch.device) -> int:
    """`evaluation.num_jobs` -> processes for the metrics. "auto": 1 beside a CPU model (CPU trials are packed one
    per core), up to 4 beside a GPU model (bench/evaluation_share.py: PSDS1 + PSDS2 on 1,168 clips take seconds
    of CPU time, which a GPU epoch cannot hide)."""
    if spec != "auto":
        return int(spec)
    return 1 if device.type != "cuda" else max(1, min(4, len(os.sched_getaffinity(0))))


def set_deterministic(enabled: bool) -> None:
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # read when cuBLAS starts
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def released_gpu_memory(device: torch.device) -> Iterator[None]:
    """Give the cached GPU memory back when a run ends (the next trial in the same worker process needs it)."""
    try:
        yield
    finally:
        if device.type == "cuda":
            gc.collect()  # a finished run's modules may sit in reference cycles
            torch.cuda.empty_cache()
