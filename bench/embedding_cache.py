"""Frozen-backbone study with and without the embedding cache: backbone forward passes and wall time.

    .venv/bin/python bench/embedding_cache.py [--variant base|tiny] [--cells 8] [--device auto] [--data DIR]

Runs the same cells (weak pooling x fusion, one seed) twice in this process: once with
``training.embedding_cache: off`` and once with a fresh cache folder shared by the cells, and prints the
ratio of backbone forwards and of wall time. The backbone starts from one checkpoint (random weights saved in
the official ASiT layout), so every cell has the same frozen backbone, as in a real ablation.
"""
from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import torch

from sed_core.config import config_from_dict
from sed_core.data.synth import generate_dataset
from sed_core.models import build_model
from sed_core.training.trainer import fit

POOLINGS = ["attention", "max", "mean", "linear_softmax"]
FUSIONS = ["concat", "gated"]


def config(data: Path, out: Path, checkpoint: Path, variant: str, pooling: str, fusion: str, cache: str,
           device: str):
    return config_from_dict({
        "preset": "tiny", "data": {"root": str(data)}, "output_dir": str(out),
        "training": {"epochs": 2, "steps_per_epoch": 2, "mixup": {"branches": "cnn_only"}, "embedding_cache": cache,
                     "device": device},
        "model": {"pooling": pooling, "fusion": {"name": fusion},
                  "backbone": {"name": "asit", "variant": variant, "mode": "eval", "checkpoint": str(checkpoint),
                               "freeze": {"schedule": "frozen"}}},
    })


def run(cells, data: Path, work: Path, checkpoint: Path, variant: str, cache: str, device: str
        ) -> tuple[int, float]:
    forwards = 0

    def count(module, args, output):
        nonlocal forwards
        forwards += output.shape[0]

    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, a, o: count(m, a, o) if type(m).__name__ == "ASiT" else None)
    start = time.perf_counter()
    try:
        for i, (pooling, fusion) in enumerate(cells):
            out = work / f"{cache}{i}"
            fit(config(data, out, checkpoint, variant, pooling, fusion, cache, device),
                embedding_cache_dir=work / "cache")
            shutil.rmtree(out)  # a ViT-B run's checkpoints take about 2 GB
    finally:
        handle.remove()
    return forwards, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="tiny", choices=["tiny", "base"])
    parser.add_argument("--cells", type=int, default=8, choices=range(1, 9), metavar="1..8")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data", type=Path, help="a `tiny` synthetic dataset (generated if omitted)")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = args.data or work / "data"
        if args.data is None:
            generate_dataset("tiny", data, seed=0)
        torch.manual_seed(0)
        backbone = build_model(config_from_dict({"preset": "tiny", "model": {
            "backbone": {"name": "asit", "variant": args.variant, "init": "random"},
            "fusion": {"name": "concat"}}})).backbone
        checkpoint = work / "asit.pth"
        torch.save({"teacher": {f"backbone.{k}": v for k, v in backbone.state_dict().items()}}, checkpoint)
        cells = list(itertools.product(POOLINGS, FUSIONS))[: args.cells]
        off = run(cells, data, work, checkpoint, args.variant, "off", args.device)
        on = run(cells, data, work, checkpoint, args.variant, "auto", args.device)
    print(f"{len(cells)} cells, ASiT {args.variant}, frozen, 2 epochs x 2 steps + evaluation each")
    print(f"{'':12} {'backbone clips':>15} {'wall s':>8}")
    print(f"{'no cache':12} {off[0]:>15} {off[1]:>8.1f}")
    print(f"{'cache':12} {on[0]:>15} {on[1]:>8.1f}")
    print(f"ratio (no cache / cache): backbone forwards {off[0] / max(on[0], 1):.2f}x, wall time "
          f"{off[1] / on[1]:.2f}x")


if __name__ == "__main__":
    main()
