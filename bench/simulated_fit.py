"""A trainer that sleeps instead of training, for the scale benchmark (bench/scale.py): what the engine costs per
trial without the model's compute. It is given to ``studies.launcher.run_study(fit=...)`` by the benchmark only;
no study YAML or command reaches it.

It behaves as ``sed_core.training.trainer.fit`` does towards the study: per epoch it sleeps, writes the resumable
``last/`` checkpoint and (when the selection score improves) ``best_model.pt``, hands the checkpoint to the reporter
and reports the epoch's metrics; a resumed trial replays its history first; at the end it writes a frame-score file
and reports the final metrics with the per-class values. Its numbers are drawn from the trial's seed and config, so
a rerun reports the same values. Every epoch report carries ``sim/reported_at`` (Unix time), from which the
benchmark measures how long a report takes to reach the store.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from sed_core.training.trainer import BEST_FILE, LAST_DIR, SCORES_DIR

REPORTED_AT = "sim/reported_at"


@dataclass(frozen=True)
class SimulatedFit:
    epoch_s: float = 1.0  # the sleep per epoch

    def __call__(self, config: Any, reporter: Any, *, resume: bool = True, embedding_cache_dir: Any = None) -> None:
        out = config.output_dir
        last = out / LAST_DIR
        state_file = last / "state.json"
        digest = hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True, default=str).encode())
        rng = random.Random(digest.hexdigest())
        history: list[dict[str, float]] = []
        if resume and state_file.exists():
            history = json.loads(state_file.read_text())["history"]
            for metrics in history:
                reporter.report(metrics, step=int(metrics["epoch"]))
        split, metric = config.evaluation.selection_split, config.evaluation.selection_metric
        key = f"val/{split}/{metric}"
        best = max((m[key] for m in history), default=float("-inf"))
        for _ in range(len(history)):
            rng.random()  # the draws of the epochs replayed, so a resumed trial continues the same numbers
        for epoch in range(len(history), config.training.epochs):
            time.sleep(self.epoch_s)
            progress = (epoch + 1) / config.training.epochs
            score = 0.1 + 0.4 * progress * (0.8 + 0.4 * rng.random())
            metrics = {"train/loss": 1.0 - 0.6 * progress, "train/consistency": 0.05 * progress,
                       "train/lr": config.training.optimizer.lr, key: score,
                       f"val/{split}/loss": 0.9 - 0.5 * progress, "epoch": float(epoch)}
            out.mkdir(parents=True, exist_ok=True)
            if score > best:
                best = score
                (out / BEST_FILE).write_bytes(digest.digest() * 64)  # 2 KiB: the checkpoint hand-over's shape
            history.append(metrics)
            last.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"history": history}))
            reporter.checkpoint(last)
            reporter.report({**metrics, REPORTED_AT: time.time()}, step=epoch)
        scores = out / SCORES_DIR / config.evaluation.test_split
        scores.mkdir(parents=True, exist_ok=True)
        (scores / "clip_0.tsv").write_text("onset\toffset\t" + "\t".join(config.data.classes) + "\n")
        per_class = {f"{name}/class/{label}": rng.random() for name in ("psds1", "psds2")
                     for label in config.data.classes}
        final = {"best_epoch": float(config.training.epochs - 1), "psds1": best, "psds2": min(1.0, best * 1.5),
                 "intersection_f1": best, "collar_f1": best * 0.9, "psds1_t50": best * 0.98,
                 "psds2_t50": min(1.0, best * 1.47), **per_class}
        reporter.report(final, step=config.training.epochs - 1)
