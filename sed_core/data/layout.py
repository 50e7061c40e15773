"""The DESED folder layout: where each split's audio and metadata live below a dataset root.

Mirrors the DCASE Task 4 baseline recipe (``recipes/dcase2022_task4_baseline/confs/default.yaml``) so a real
DESED download and the synthetic generator's output are read by the same code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LabelKind = Literal["strong", "weak", "none"]


@dataclass(frozen=True)
class SplitLayout:
    """Relative paths of one split below the dataset root."""

    name: str
    audio_dir: str
    tsv: str | None
    labels: LabelKind
    durations_tsv: str | None = None

    def audio_path(self, root: Path) -> Path:
        return root / self.audio_dir

    def tsv_path(self, root: Path) -> Path | None:
        return root / self.tsv if self.tsv else None

    def durations_path(self, root: Path) -> Path | None:
        return root / self.durations_tsv if self.durations_tsv else None


SPLITS: dict[str, SplitLayout] = {
    s.name: s
    for s in (
        SplitLayout(
            "synthetic_train",
            "audio/train/synthetic21_train/soundscapes_16k",
            "metadata/train/synthetic21_train/soundscapes.tsv",
            "strong",
        ),
        SplitLayout(
            "strong_train",
            "audio/train/strong_label_real_16k",
            "metadata/train/audioset_strong.tsv",
            "strong",
        ),
        SplitLayout("weak_train", "audio/train/weak_16k", "metadata/train/weak.tsv", "weak"),
        SplitLayout(
            "unlabelled_train",
            "audio/train/unlabel_in_domain_16k",
            "metadata/train/unlabel_in_domain.tsv",
            "none",
        ),
        SplitLayout(
            "synthetic_validation",
            "audio/validation/synthetic21_validation/soundscapes_16k",
            "metadata/validation/synthetic21_validation/soundscapes.tsv",
            "strong",
            "metadata/validation/synthetic21_validation/durations.tsv",
        ),
        SplitLayout(
            "validation",
            "audio/validation/validation_16k",
            "metadata/validation/validation.tsv",
            "strong",
            "metadata/validation/validation_durations.tsv",
        ),
    )
}

TRAIN_SPLITS = ("synthetic_train", "strong_train", "weak_train", "unlabelled_train")
EVAL_SPLITS = ("synthetic_validation", "validation")
