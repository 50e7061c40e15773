"""One mean-teacher training step of the baseline CRNN and the paper-size ASiT-CRNN: time, memory, overhead.

    .venv/bin/python bench/train_step.py                         # CPU, the paper's batch (8+8+16+16 clips of 10 s)
    .venv/bin/python bench/train_step.py --scale 0.25 --steps 2  # a quarter of the batch (CPU in minutes)
    .venv/bin/python bench/train_step.py --device cuda --precision bf16

Both models run in this process on the same batch, so their numbers compare as ratios. The full step
(`Trainer.train_step`: front ends, mixup, student forward and backward, teacher forward, losses, clipping,
optimizer, EMA) is timed, and so are its parts alone on the same inputs. The model's own compute is the front
ends, the student's forward and backward and the teacher's forward; ours is everything the trainer adds around
it: moving the batch, mixup, the losses, gradient clipping, the optimizer step, the EMA update and reading the
losses back. Our share of the step is ours / full step (goal: under 5 %); the residual (full step minus both)
is what neither accounts for (timer noise, allocator, autograd bookkeeping). ASiT starts from random weights
(no checkpoint is needed to time it). Peak memory: CUDA's allocator peak per model on a GPU; on a CPU the
process's peak resident size after each model (it only grows).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import torch
from step_timing import scaled_batch, timed
from torch import nn

from sed_core.config import config_from_dict
from sed_core.data.synth import generate_dataset
from sed_core.training.device import autocast
from sed_core.training.mean_teacher import ema_update
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer

PRESETS = ("crnn_baseline", "paper")


def measure(preset: str, data: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    overrides = {"preset": preset, "data": {"root": str(data), "batch": scaled_batch(args.scale)},
                 "output_dir": str(out), "training": {"device": args.device, "precision": args.precision}}
    if preset == "paper":
        overrides["model"] = {"backbone": {"init": "random"}}
    trainer = Trainer(config_from_dict(overrides), NullReporter())
    device, precision = trainer.device, trainer.config.training.precision
    host_batch = next(iter(trainer.loader))
    batch = host_batch.to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.train_step(batch)  # warm-up (allocator, autotuning)
    step = timed(device, lambda: trainer.train_step(batch), args.steps)

    student, teacher = trainer.student, trainer.teacher
    with torch.no_grad():
        inputs = student.inputs(batch.audio)
    front = timed(device, lambda: student.inputs(batch.audio), args.steps)
    bce = nn.BCELoss()

    def student_pass() -> None:
        with autocast(device, precision):
            out = student(inputs).float()
        loss = bce(out.strong, torch.zeros_like(out.strong)) + bce(out.weak, torch.zeros_like(out.weak))
        (loss if trainer.scaler is None else trainer.scaler.scale(loss)).backward()

    def teacher_pass() -> None:
        with torch.no_grad(), autocast(device, precision):
            teacher(inputs)

    def zeroed(fn):
        return lambda: (fn(), student.zero_grad(set_to_none=True))

    forward_backward = timed(device, zeroed(student_pass), args.steps)
    teacher_forward = timed(device, teacher_pass, args.steps)
    ours = our_parts(trainer, host_batch, batch, inputs, student_pass, args.steps)
    model = front + forward_backward + teacher_forward
    peak = (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    ours_total = sum(ours.values())
    return {"clips": int(batch.audio.shape[0]), "step_s": step, "front_s": front, "student_s": forward_backward,
            "teacher_s": teacher_forward, "ours_s": ours_total, "ours_share": ours_total / step,
            "residual": (step - model - ours_total) / step, "clips_per_s": batch.audio.shape[0] / step,
            "peak_gib": peak, "params": sum(p.numel() for p in student.parameters()),
            **{f"ours/{k}": v for k, v in ours.items()}}


def our_parts(trainer: Trainer, host_batch, batch, inputs, student_pass, repeats: int) -> dict[str, float]:
    """What the trainer adds around the model, each part timed alone on the same batch."""
    device = trainer.device
    masks = batch.mask["strong"], batch.mask["weak"]
    with torch.no_grad():
        outputs = trainer.student(inputs).float(), trainer.teacher(inputs).float()
    student_pass()  # gradients for clipping and the optimizer to work on
    losses = trainer.losses(*outputs, batch.strong, batch.weak, *masks, 1.0)
    return {
        "to_device": timed(device, lambda: host_batch.to(device), repeats),
        "mixup": timed(device, lambda: trainer._mix(inputs, batch.strong, batch.weak, *masks), repeats),
        "losses": timed(device, lambda: trainer.losses(*outputs, batch.strong, batch.weak, *masks, 1.0), repeats),
        "readout": timed(device, lambda: torch.stack([t.detach() for t in losses]).tolist(), repeats),
        "clip+optimizer": timed(device, trainer.update_weights, repeats),
        "ema": timed(device, lambda: ema_update(trainer.teacher, trainer.student, 0.999,
                                                buffers=trainer.config.training.ema_buffers), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's 48-clip batch")
    parser.add_argument("--steps", type=int, default=3, help="timed repeats of each measurement")
    parser.add_argument("--models", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "sedstudy_bench" / "demo",
                        help="a DESED-layout dataset (the demo synthetic one is generated here if missing)")
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists() and not (args.data / "audio").exists():
        generate_dataset("demo", args.data, seed=0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.models:
            results[preset] = measure(preset, args.data, Path(tmp) / preset, args)
    print(f"device {args.device}, precision {args.precision}, "
          f"batch {next(iter(results.values()))['clips']} clips of 10 s, {args.steps} timed repeats")
    print(f"{'model':<14} {'params':>11} {'step s':>8} {'front':>7} {'student f+b':>11} {'teacher f':>9} "
          f"{'ours':>7} {'ours %':>7} {'residual':>8} {'clips/s':>8} {'peak GiB':>8}")
    for preset, r in results.items():
        print(f"{preset:<14} {r['params']:>11,} {r['step_s']:>8.3f} {r['front_s']:>7.3f} {r['student_s']:>11.3f} "
              f"{r['teacher_s']:>9.3f} {r['ours_s']:>7.3f} {100 * r['ours_share']:>6.2f}% "
              f"{100 * r['residual']:>7.1f}% {r['clips_per_s']:>8.1f} {r['peak_gib']:>8.2f}")
    print("ours, per part (ms):")
    for preset, r in results.items():
        parts = ", ".join(f"{k.removeprefix('ours/')} {1000 * v:.1f}" for k, v in r.items() if k.startswith("ours/"))
        print(f"  {preset:<12} {parts}")
    if len(results) == len(PRESETS):
        base, paper = results["crnn_baseline"], results["paper"]
        print(f"ratio paper / baseline: step time {paper['step_s'] / base['step_s']:.1f}x, "
              f"peak memory {paper['peak_gib'] / base['peak_gib']:.1f}x")


if __name__ == "__main__":
    main()
