"""Where a DESED download keeps each split: its TSV and its audio folder (the original or the ``_16k`` twin).

DESED as downloaded (turpaultn/DESED, DESED_task ``generate_dcase_task4_2022.py``) holds 44.1 kHz audio in
``audio/train/weak``, ``audio/validation/validation``, ...; the DCASE baseline recipe resamples each folder into a
``*_16k`` twin, and those twins are the folders ``sed_core.data.layout.SPLITS`` reads.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from sed_core.data.layout import SPLITS, SplitLayout
from sed_core.errors import ConfigError, DataError, close_match_hint

AUDIO_SUFFIXES = (".wav", ".flac")
# every split but strong_train (AudioSet-strong is a separate, optional download)
REQUIRED_SPLITS = ("synthetic_train", "weak_train", "unlabelled_train", "synthetic_validation", "validation")

_DOWNLOAD_HINT = {
    "synthetic_train": "python generate_dcase_task4_2022.py --only_synth",
    "synthetic_validation": "python generate_dcase_task4_2022.py --only_synth",
    "strong_train": "python generate_dcase_task4_2022.py --only_strong",
    "weak_train": "python generate_dcase_task4_2022.py --only_real",
    "unlabelled_train": "python generate_dcase_task4_2022.py --only_real",
    "validation": "python generate_dcase_task4_2022.py --only_real",
}


def selected_splits(splits: Sequence[str] | None) -> tuple[list[str], set[str]]:
    """(split names in layout order, the required ones): None selects every split, requiring REQUIRED_SPLITS."""
    if splits is None:
        return list(SPLITS), set(REQUIRED_SPLITS)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(
            f"unknown split {unknown[0]!r}{close_match_hint(unknown[0], SPLITS)}; expected some of "
            f"{', '.join(SPLITS)}"
        )
    if not splits:
        raise ConfigError(f"splits is empty; expected some of {', '.join(SPLITS)} (or None for all)")
    return [s for s in SPLITS if s in splits], set(splits)


def source_audio_dirs(layout: SplitLayout, root: Path) -> tuple[Path, Path]:
    """Folders that may hold a split's audio: the downloaded original (e.g. ``audio/train/weak``), then its
    ``_16k`` twin (``audio/train/weak_16k``, the DESED_task recipe's output and our layout's folder)."""
    twin = layout.audio_path(root)
    return twin.with_name(twin.name.removesuffix("_16k")), twin


def list_audio(folder: Path) -> set[str]:
    """Names of the audio files in folder (hidden files, such as partial writes, excluded)."""
    with os.scandir(folder) as entries:
        return {
            e.name
            for e in entries
            if not e.name.startswith(".") and e.name.lower().endswith(AUDIO_SUFFIXES) and e.is_file()
        }


def locate_splits(
    source: Path, names: Iterable[str], required: set[str]
) -> tuple[dict[str, tuple[Path, Path]], dict[str, str]]:
    """{split: (tsv, audio folder)} of the splits found, and {optional split: what was looked for} of the others.

    Raises DataError for every required split without a TSV or without an audio folder holding audio files.
    """
    located: dict[str, tuple[Path, Path]] = {}
    absent: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        layout = SPLITS[name]
        tsv = layout.tsv_path(source)
        assert tsv is not None, f"split {name} has no TSV in the layout"
        folders = source_audio_dirs(layout, source)
        with_audio = [f for f in folders if f.is_dir() and list_audio(f)]
        if tsv.is_file() and with_audio:
            located[name] = (tsv, with_audio[0])
            continue
        lacking = []
        if not tsv.is_file():
            lacking.append(f"metadata {tsv} (not found)")
        if not with_audio:
            state = "empty" if any(f.is_dir() for f in folders) else "not found"
            lacking.append(f"audio in {folders[0]} or {folders[1]} ({state})")
        looked = " and ".join(lacking)
        if name in required:
            problems.append(
                f"split {name!r}: looked for {looked}; download it (DESED_task recipe: {_DOWNLOAD_HINT[name]}) "
                "or prepare the other splits only (--splits)"
            )
        else:
            absent[name] = looked
    if problems:
        raise DataError(f"{source}: {len(problems)} required split(s) missing:\n" + "\n".join(problems))
    return located, absent
