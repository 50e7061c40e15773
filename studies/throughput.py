"""How fast one trial runs on its GPU, for the dry run's GPU hours: stated assumptions until they are measured.

Two bounds, and a trial takes the longer of them:
- compute: FLOPs / effective TFLOP/s, by ``training.precision`` (``resources.effective_tflops`` replaces the
  assumption once measured). What bounds a model with an SSL backbone.
- data: clips read / the loader's clips per second. The CRNN without SSL backbone needs about 7 GFLOP per
  training clip, which a GPU does faster than one loader process decodes a 10 s clip, so it is data-bound. The
  rate is the one we measured (``LOADER_SOURCE``), per loader process, times the processes
  ``training.loader_workers`` gives a GPU trial, scaled to the clip length.
"""
from __future__ import annotations

from dataclasses import dataclass

from sed_core.config.schema import ExperimentConfig

# Effective (achieved) TFLOP/s of one small-batch SED trial on one H100: assumptions, not measurements. bf16/fp16
# at about 4 % of the H100's dense bf16 peak (989), fp32 at about 15 % of its dense fp32 peak (67): small convs,
# a GRU and a ViT-B at batch 48 reach a small share of the peak.
ASSUMED_TFLOPS: dict[str, float] = {"fp32": 10.0, "bf16": 40.0, "fp16": 40.0}
LOADER_CLIPS_PER_S = 446.0  # 10 s clips decoded per second by one loader process
LOADER_CLIP_SECONDS = 10.0
LOADER_SOURCE = ("bench/RESULTS.md, 'Data path': 446 clips of 10 s per second with one loader worker "
                 "(2-core development machine, 2026-11-25)")
MAX_AUTO_WORKERS = 4  # sed_core.training.device.loader_workers("auto") on a GPU: up to 4, leaving a core


@dataclass(frozen=True)
class Throughput:
    tflops: float  # effective TFLOP/s of the trial's compute
    tflops_measured: bool  # from resources.effective_tflops (else an assumption per precision)
    clips_per_s: float  # clips the trial's loader delivers per second

    def hours(self, tflop: float, clips: int) -> tuple[float, str]:
        """(hours, bound) of a trial that computes ``tflop`` and reads ``clips``; bound is "compute" or "data"."""
        compute, data = tflop / self.tflops, clips / self.clips_per_s
        return (max(compute, data) / 3600, "compute" if compute >= data else "data")


def loader_processes(config: ExperimentConfig, cpus: float) -> int:
    """Loader processes of a GPU trial with ``cpus`` cores: ``training.loader_workers``, "auto" as the trainer
    resolves it on a GPU (up to 4, a core left to the training process); 0 workers load in the trial's process."""
    spec = config.training.loader_workers
    if spec != "auto":
        return max(1, int(spec))
    return max(1, min(MAX_AUTO_WORKERS, int(cpus) - 1))


def throughput(config: ExperimentConfig, *, cpus: float, effective_tflops: float | None) -> Throughput:
    tflops = effective_tflops if effective_tflops is not None else ASSUMED_TFLOPS[config.training.precision]
    clips_per_s = LOADER_CLIPS_PER_S * loader_processes(config, cpus) * LOADER_CLIP_SECONDS / config.data.clip_seconds
    return Throughput(tflops, effective_tflops is not None, clips_per_s)


def describe(measured: bool, precisions: set[str], effective_tflops: float | None) -> list[str]:
    """The assumptions behind the GPU hours, one line each, for the dry run."""
    if measured:
        compute = f"compute at the measured {effective_tflops:g} TFLOP/s per trial (resources.effective_tflops)"
    else:
        rates = ", ".join(f"{ASSUMED_TFLOPS[p]:g} TFLOP/s ({p})" for p in sorted(precisions))
        compute = f"compute at an assumed {rates} per trial; measure it and set resources.effective_tflops"
    data = (f"data at {LOADER_CLIPS_PER_S:g} clips/s per loader process, from {LOADER_SOURCE}; a trial takes the "
            f"longer of the two")
    return [compute, data]
