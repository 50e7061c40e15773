"""The synthetic datasets the benchmarks share, generated once under the temp folder and reused.

`desed_clips` is DESED-shaped where a benchmark's cost depends on it: 10 s clips at 16 kHz and a validation
split of DESED's 1,168 clips; the training splits are small (a benchmark reads a few batches of them).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from sed_core.data.synth import generate_dataset
from sed_core.data.synth.presets import SYNTH_PRESETS, SplitSizes

ROOT = Path(tempfile.gettempdir()) / "sedstudy_bench"
DESED_VALIDATION_CLIPS = 1168


def desed_clips(root: Path | None = None, *, validation: int = DESED_VALIDATION_CLIPS, workers: int = 2) -> Path:
    """10 s clips: 96 per training split, ``validation`` validation clips. Minutes the first time, then instant."""
    root = root or ROOT / f"desed_clips_{validation}"
    preset = dataclasses.replace(
        SYNTH_PRESETS["full"], name=f"bench_desed_{validation}",
        clips=SplitSizes(synthetic_train=96, strong_train=96, weak_train=96, unlabelled_train=96,
                         synthetic_validation=16, validation=validation))
    generate_dataset(preset, root, seed=0, workers=workers)
    return root
