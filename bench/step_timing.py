"""What the training benchmarks share: the paper's batch composition, and timing that waits for the GPU."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")

# clips per step from each training source in the paper's (DCASE 2022 baseline's) batch: 48 clips of 10 s
PAPER_BATCH = {"synthetic_train": 8, "strong_train": 8, "weak_train": 16, "unlabelled_train": 16}


def scaled_batch(scale: float) -> dict[str, int]:
    """The paper's batch with every source scaled by ``scale`` (at least one clip each)."""
    return {source: max(1, round(clips * scale)) for source, clips in PAPER_BATCH.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_result(device: torch.device, fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call, with the device's queued work finished on both sides."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def timed(device: torch.device, fn: Callable[[], object], repeats: int = 1) -> float:
    """Mean seconds per call over ``repeats`` calls."""
    return timed_result(device, lambda: [fn() for _ in range(repeats)])[0] / repeats
