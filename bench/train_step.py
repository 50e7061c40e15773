"""One mean-teacher training step of the baseline CRNN and the paper-size ASiT-CRNN: time, memory, overhead.

    .venv/bin/python bench/train_step.py                         # CPU, the paper's batch (8+8+16+16 clips of 10 s)
    .venv/bin/python bench/train_step.py --scale 0.25 --steps 2  # a quarter of the batch (CPU in minutes)
    .venv/bin/python bench/train_step.py --device cuda --precision bf16

Both models run in this process on the same batch, so their numbers compare as ratios. The full step
(`Trainer.train_step`: front ends, mixup, student forward and backward, teacher forward, losses, clipping,
optimizer, EMA) is timed against the model's own compute measured alone on the same inputs: front ends, the
student's forward and backward, the teacher's forward. What is left is our overhead (goal: under 5 %). ASiT
starts from random weights (no checkpoint is needed to time it). Peak memory: CUDA's allocator peak per model
on a GPU; on a CPU the process's peak resident size after each model (it only grows).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from sed_core.config import config_from_dict
from sed_core.data.synth import generate_dataset
from sed_core.training.device import autocast
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer

PRESETS = ("crnn_baseline", "paper")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn, repeats: int) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def measure(preset: str, data: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    batch_sizes = {k: max(1, round(v * args.scale)) for k, v in
                   {"synthetic_train": 8, "strong_train": 8, "weak_train": 16, "unlabelled_train": 16}.items()}
    overrides = {"preset": preset, "data": {"root": str(data), "batch": batch_sizes}, "output_dir": str(out),
                 "training": {"device": args.device, "precision": args.precision}}
    if preset == "paper":
        overrides["model"] = {"backbone": {"init": "random"}}
    trainer = Trainer(config_from_dict(overrides), NullReporter())
    device, precision = trainer.device, trainer.config.training.precision
    batch = next(iter(trainer.loader)).to(device)
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
        loss.backward()
        student.zero_grad(set_to_none=True)

    def teacher_pass() -> None:
        with torch.no_grad(), autocast(device, precision):
            teacher(inputs)

    forward_backward = timed(device, student_pass, args.steps)
    teacher_forward = timed(device, teacher_pass, args.steps)
    model = front + forward_backward + teacher_forward
    peak = (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return {"clips": int(batch.audio.shape[0]), "step_s": step, "front_s": front, "student_s": forward_backward,
            "teacher_s": teacher_forward, "overhead": max(step - model, 0.0) / step, "clips_per_s": batch.audio.shape[0] / step,
            "peak_gib": peak, "params": sum(p.numel() for p in student.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's 48-clip batch")
    parser.add_argument("--steps", type=int, default=3, help="timed repeats of each measurement")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "sedstudy_bench" / "demo",
                        help="a DESED-layout dataset (the demo synthetic one is generated here if missing)")
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists() and not (args.data / "audio").exists():
        generate_dataset("demo", args.data, seed=0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in PRESETS:
            results[preset] = measure(preset, args.data, Path(tmp) / preset, args)
    print(f"device {args.device}, precision {args.precision}, batch {results['paper']['clips']} clips of 10 s, "
          f"{args.steps} timed repeats")
    print(f"{'model':<14} {'params':>11} {'step s':>8} {'front':>7} {'student f+b':>11} {'teacher f':>9} "
          f"{'overhead':>8} {'clips/s':>8} {'peak GiB':>8}")
    for preset, r in results.items():
        print(f"{preset:<14} {r['params']:>11,} {r['step_s']:>8.3f} {r['front_s']:>7.3f} {r['student_s']:>11.3f} "
              f"{r['teacher_s']:>9.3f} {100 * r['overhead']:>7.1f}% {r['clips_per_s']:>8.1f} {r['peak_gib']:>8.2f}")
    base, paper = results["crnn_baseline"], results["paper"]
    print(f"ratio paper / baseline: step time {paper['step_s'] / base['step_s']:.1f}x")


if __name__ == "__main__":
    main()
