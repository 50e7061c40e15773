"""The data path against the model's consumption: clips per second through each stage, and how long training
waits on the loader.

    .venv/bin/python bench/data_path.py                                  # CPU: baseline CRNN, workers 0 1 2
    .venv/bin/python bench/data_path.py --device cuda --model paper --precision bf16 --workers 0 2 4 8

On 10 s clips at 16 kHz (a DESED-shaped synthetic set, generated once), at the paper's batch composition
(8 synthetic + 8 strong + 16 weak + 16 unlabelled, scaled by --scale), all in this process:
- loader: the trainer's own DataLoader (decoding, label encoding, collation, pinning on a GPU) with each
  number of worker processes, clips/s after its first batch, and the first batch's latency;
- front ends: the model's input features on the device (log-mel, and the backbone's fbank for the paper model);
- consumption: full training steps (`Trainer.train_step`) on one batch already on the device;
- wait: the trainer's loop (next batch, train step) with each worker count: the share of the loop's time spent
  waiting for the next batch. That share is the fraction of time the device idles on the loader.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_data import desed_clips
from step_timing import scaled_batch, sync, timed

from sed_core.config import config_from_dict
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer


def trainer_for(args: argparse.Namespace, data: Path, out: Path, workers: int, steps: int) -> Trainer:
    overrides = {"preset": args.model, "data": {"root": str(data), "batch": scaled_batch(args.scale)},
                 "output_dir": str(out),
                 "training": {"device": args.device, "precision": args.precision, "loader_workers": workers,
                              "steps_per_epoch": steps}}
    if args.model == "paper":
        overrides["model"] = {"backbone": {"init": "random"}}
    return Trainer(config_from_dict(overrides), NullReporter())


def loader_rate(trainer: Trainer, batches: int) -> tuple[float, float]:
    """(first-batch latency s, clips/s over the following batches) of the trainer's DataLoader."""
    start = time.perf_counter()
    iterator = iter(trainer.loader)
    first = next(iterator)
    latency = time.perf_counter() - start
    clips, start = 0, time.perf_counter()
    for _ in range(batches):
        clips += next(iterator).audio.shape[0]
    rate = clips / (time.perf_counter() - start)
    del iterator, first
    return latency, rate


def loop_wait(trainer: Trainer, steps: int) -> tuple[float, float]:
    """(share of the training loop spent waiting for the next batch, clips/s of the loop), after the first batch."""
    device = trainer.device
    iterator = iter(trainer.loader)
    trainer.train_step(next(iterator))  # the workers start and the first step warms up outside the measurement
    sync(device)
    waited, clips, start = 0.0, 0, time.perf_counter()
    for _ in range(steps):
        before = time.perf_counter()
        batch = next(iterator)
        waited += time.perf_counter() - before
        trainer.train_step(batch)
        clips += batch.audio.shape[0]
    sync(device)
    total = time.perf_counter() - start
    del iterator
    return waited / total, clips / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="crnn_baseline", choices=["crnn_baseline", "paper"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's 48-clip batch")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="loader worker counts to compare")
    parser.add_argument("--batches", type=int, default=8, help="batches timed per measurement")
    parser.add_argument("--data", type=Path, help="a DESED-layout dataset (a synthetic one is generated if omitted)")
    args = parser.parse_args()
    data = args.data or desed_clips()
    steps = args.batches + 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            trainer = trainer_for(args, data, Path(tmp) / str(workers), workers, steps)
            latency, rate = loader_rate(trainer, args.batches)
            wait, loop_rate = loop_wait(trainer, args.batches)
            rows.append((workers, latency, rate, wait, loop_rate))
        device = trainer.device
        batch = next(iter(trainer.loader)).to(device)
        clips = batch.audio.shape[0]
        with torch.no_grad():
            front = timed(device, lambda: trainer.student.inputs(batch.audio), args.batches)
        trainer.train_step(batch)
        step = timed(device, lambda: trainer.train_step(batch), max(2, args.batches // 2))
    consumption = clips / step
    print(f"{args.model} on {device} ({args.precision}), batches of {clips} clips of 10 s, "
          f"{args.batches} batches per measurement, {torch.get_num_threads()} compute threads")
    print(f"front ends on {device.type}: {clips / front:,.0f} clips/s ({100 * front / step:.1f} % of a step)")
    print(f"model consumption (train step, batch already on {device.type}): {consumption:,.1f} clips/s")
    print(f"{'workers':>7} {'first batch s':>13} {'loader clips/s':>14} {'loader / model':>14} {'loop clips/s':>12} "
          f"{'waiting':>8}")
    for workers, latency, rate, wait, loop_rate in rows:
        print(f"{workers:>7} {latency:>13.2f} {rate:>14,.1f} {rate / consumption:>13.1f}x {loop_rate:>12,.1f} "
              f"{100 * wait:>7.1f}%")


if __name__ == "__main__":
    main()
