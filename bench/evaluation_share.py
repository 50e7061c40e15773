"""Evaluation on a DESED-sized validation split (1,168 clips of 10 s) as a share of a training epoch.

    .venv/bin/python bench/evaluation_share.py                                    # CPU, baseline CRNN
    .venv/bin/python bench/evaluation_share.py --device cuda --model paper --precision bf16

All in this process, on a DESED-shaped synthetic set (generated once):
- epoch: `Trainer.train_step` on the paper's batch (8 synthetic + 8 strong + 16 weak + 16 unlabelled clips),
  times DESED's steps per epoch at that batch (98: the 1,578 weak clips in batches of 16 run out first);
- forward: the model's median-filtered frame probabilities for the 1,168 clips (`predict`);
- metrics: PSDS1 and PSDS2 from those probabilities (sed_scores_eval, the way every trial is scored) with each
  number of metric processes (--jobs, `evaluation.num_jobs`), and, on their own, intersection F1 (the default
  per-epoch selection metric) and the full set a trial's final evaluation computes.
Shares are of one epoch; the goal is that PSDS1 + PSDS2 cost at most 5 % of it.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_data import desed_clips
from step_timing import PAPER_BATCH, timed, timed_result

from sed_core.config import config_from_dict
from sed_core.training.evaluate import METRIC_NAMES, predict, score_split
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer

DESED_TRAIN_CLIPS = {"synthetic_train": 10000, "strong_train": 3470, "weak_train": 1578, "unlabelled_train": 14412}
DESED_STEPS_PER_EPOCH = min(DESED_TRAIN_CLIPS[k] // PAPER_BATCH[k] for k in PAPER_BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="crnn_baseline", choices=["crnn_baseline", "paper"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--steps", type=int, default=2, help="timed training steps")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                        help="metric processes (evaluation.num_jobs) to compare for PSDS1 + PSDS2")
    parser.add_argument("--data", type=Path, help="a DESED-layout dataset (a synthetic one is generated if omitted)")
    args = parser.parse_args()
    data = args.data or desed_clips()
    overrides = {"preset": args.model, "data": {"root": str(data), "batch": PAPER_BATCH},
                 "training": {"device": args.device, "precision": args.precision},
                 "evaluation": {"selection_split": "validation", "test_split": "validation"}}
    if args.model == "paper":
        overrides["model"] = {"backbone": {"init": "random"}}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config_from_dict({**overrides, "output_dir": tmp}), NullReporter())
    device, ecfg = trainer.device, trainer.config.evaluation
    batch = next(iter(trainer.loader)).to(device)
    trainer.train_step(batch)  # warm-up
    step = timed(device, lambda: trainer.train_step(batch), args.steps)
    epoch = step * DESED_STEPS_PER_EPOCH

    dataset, model = trainer.datasets["validation"], trainer.student
    forward, preds = timed_result(device, lambda: predict(model, dataset, batch_size=ecfg.batch_size,
                                                     median_window=ecfg.median_window, median_mode=ecfg.median_mode))
    hop = model.frame_hop_s
    metric_sets = {f"psds1 + psds2, {jobs} process(es)": (("psds1", "psds2"), jobs) for jobs in args.jobs}
    metric_sets |= {"intersection_f1 (per-epoch selection)": (("intersection_f1",), 1),
                    "all final metrics": (METRIC_NAMES, 1)}
    costs = {name: timed(device, lambda m=m, j=j: score_split(preds, dataset, ecfg, hop, m, num_jobs=j))
             for name, (m, j) in metric_sets.items()}
    print(f"{args.model} on {device} ({args.precision}); {len(dataset)} validation clips of 10 s; "
          f"train step {step:.3f} s x {DESED_STEPS_PER_EPOCH} steps = epoch {epoch:,.1f} s")
    print(f"{'':40} {'seconds':>9} {'share of an epoch':>18}")
    print(f"{'forward (median-filtered probabilities)':40} {forward:>9.2f} {100 * forward / epoch:>17.2f}%")
    for name, cost in costs.items():
        print(f"{name:40} {cost:>9.2f} {100 * cost / epoch:>17.2f}%")
    psds = min(cost for name, cost in costs.items() if name.startswith("psds1 + psds2"))
    print(f"PSDS1 + PSDS2 (fastest) would reach 5 % of an epoch at a train step of "
          f"{psds / 0.05 / DESED_STEPS_PER_EPOCH:.3f} s")


if __name__ == "__main__":
    main()
