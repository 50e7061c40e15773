"""A split of a DESED-layout dataset: its clips, labels and durations, validated once when loaded."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sed_core.data.clip_ends import DEFAULT_FRAME, ClipDurations, FeatureFrame
from sed_core.data.layout import SPLITS
from sed_core.data.metadata import (
    StrongLabels,
    read_durations_tsv,
    read_stated_durations,
    read_strong_tsv,
    read_unlabelled_tsv,
    read_weak_tsv,
)
from sed_core.errors import DataError, close_match_hint


@dataclass(frozen=True)
class SplitData:
    """One split: ``filenames`` in file order; ``events`` (strong splits) or ``weak`` tags (weak splits)."""

    name: str
    audio_dir: Path
    filenames: tuple[str, ...]
    labels: str  # "strong" | "weak" | "none"
    events: pd.DataFrame | None = None
    weak: dict[str, tuple[str, ...]] | None = None
    durations: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self.filenames)


def load_split(root: Path, name: str, *, classes: tuple[str, ...], check_audio: bool = True,
               frame: FeatureFrame = DEFAULT_FRAME) -> SplitData:
    """Read split ``name`` of the DESED-layout dataset at ``root`` (see ``sed_core.data.layout``).

    check_audio: every clip must have its audio file, and strong events are checked against the clips' lengths
        where the split has no durations TSV (False: audio is not opened, and only the stated durations are).
    frame: the feature frame of the run (``features.hop_length / data.sample_rate``): how far past its clip's end
        an event may reach and be clipped rather than refused (``read_strong_split``).
    """
    if name not in SPLITS:
        raise DataError(f"unknown split {name!r}{close_match_hint(name, SPLITS)}; known: {', '.join(SPLITS)}")
    layout = SPLITS[name]
    audio_dir = layout.audio_path(root)
    if not audio_dir.is_dir():
        raise DataError(
            f"{audio_dir}: audio folder of split {name!r} not found; is {root} a DESED-layout dataset? "
            f"Create one with `sedstudy synth --out {root}` or point data.root at a DESED copy"
        )
    check_dir = audio_dir if check_audio else None
    tsv = layout.tsv_path(root)
    if tsv is None or not tsv.is_file():
        raise DataError(f"{tsv}: metadata of split {name!r} not found")
    dpath = layout.durations_path(root)
    durations_tsv = dpath if dpath is not None and dpath.is_file() else None
    durations = read_durations_tsv(durations_tsv) if durations_tsv is not None else None
    if layout.labels == "strong":
        labels = read_strong_split(tsv, classes=classes, frame=frame, audio_dir=check_dir, check_audio=check_audio,
                                   durations_tsv=durations_tsv)
        return SplitData(name, audio_dir, labels.filenames, "strong", events=labels.events, durations=durations)
    if layout.labels == "weak":
        weak = read_weak_tsv(tsv, classes=classes, audio_dir=check_dir)
        return SplitData(name, audio_dir, weak.filenames, "weak", weak=dict(zip(weak.filenames, weak.labels)))
    filenames = read_unlabelled_tsv(tsv, audio_dir=check_dir)
    return SplitData(name, audio_dir, filenames, "none")


def read_strong_split(tsv: Path, *, classes: Sequence[str], frame: FeatureFrame, audio_dir: Path | None,
                      check_audio: bool, durations_tsv: Path | None = None) -> StrongLabels:
    """A split's strong labels under the one policy for defective events that the loaders and
    ``sedstudy prepare-desed`` share: events checked against their clip's duration (from ``durations_tsv`` where it
    lists the clip, else from the length of ``audio_dir/<filename>`` at ``frame.sample_rate``), refused past the end
    by more than one frame and clipped within it; same-class overlaps merged. See ``read_strong_tsv``.

    check_audio: every clip must have ``audio_dir/<filename>``; audio_dir None: no audio is opened.
    """
    stated = read_stated_durations(durations_tsv) if durations_tsv is not None else {}
    durations = ClipDurations(stated, audio_dir=audio_dir, sample_rate=frame.sample_rate)
    return read_strong_tsv(tsv, classes=classes, audio_dir=audio_dir if check_audio else None, on_overlap="merge",
                           durations=durations, frame=frame)


def check_scorable(split: SplitData, classes: Sequence[str], *, role: str, root: Path) -> None:
    """A split that PSDS and F1 are computed on must hold at least one event of every class (both are undefined
    for a class without reference events); raised before any compute, naming the split's file and the classes.

    role: what the run uses the split for ("the test split", "the selection split")."""
    if split.labels != "strong" or split.events is None:
        raise DataError(f"split {split.name!r} ({role}) has no strong labels; PSDS is computed on a split with "
                        f"onset/offset events, e.g. validation or synthetic_validation")
    present = set(split.events["event_label"])
    without = [c for c in classes if c not in present]
    if without:
        tsv = SPLITS[split.name].tsv_path(root)
        raise DataError(f"{tsv}: split {split.name!r} ({role}) has no event of class(es) {', '.join(without)}; "
                        f"PSDS and F1 are undefined for a class without reference events: score on a split that "
                        f"has every class, or leave the class out of data.classes")
