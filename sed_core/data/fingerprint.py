"""Which data a run saw: a fingerprint of the dataset folder and each split's coverage of its official list.

Real DESED is a downloader, not a dataset: labs' copies miss 100-200 clips of the official lists, which alone
moves published numbers. So every run states, per split it reads, how many clips it has of how many DESED lists
(`OFFICIAL_CLIPS`, the DCASE 2022 Task 4 lists), and a fingerprint that changes whenever the metadata or the
audio files (names and sizes) change. A synthetic dataset is identified by its manifest, which hashes every file.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from sed_core.data.layout import SPLITS
from sed_core.data.splits import SplitData
from sed_core.data.synth.manifest import MANIFEST_NAME

# clips in DESED's official lists (DESED_task, DCASE 2022 Task 4): metadata rows, unique filenames
OFFICIAL_CLIPS: dict[str, int] = {
    "synthetic_train": 10000,
    "strong_train": 3470,
    "weak_train": 1578,
    "unlabelled_train": 14412,
    "synthetic_validation": 2500,
    "validation": 1168,
}
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class SplitCoverage:
    split: str
    clips: int  # clips of the split the run reads
    listed: int | None  # clips the split should have: the official DESED list, or the synthetic manifest

    def text(self) -> str:
        return f"{self.split} {self.clips:,}" + ("" if self.listed is None else f" / {self.listed:,}")


@dataclass(frozen=True)
class DataFingerprint:
    kind: str  # "synthetic" (a sedstudy manifest at the root) or "desed" (any other folder in the DESED layout)
    sha256: str  # of the manifest, or of the splits' metadata files and audio listings (relative name, size)
    coverage: tuple[SplitCoverage, ...]

    def coverage_text(self) -> str:
        return ", ".join(c.text() for c in self.coverage)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "sha256": self.sha256, "coverage": [asdict(c) for c in self.coverage]}


def data_fingerprint(root: Path, splits: Iterable[SplitData]) -> DataFingerprint:
    """The fingerprint of `root` as read by a run that loaded `splits` (see the module docstring)."""
    splits = list(splits)
    kind, sha256 = content_sha256(root, [s.name for s in splits])
    if kind == "synthetic":
        stats = json.loads((root / MANIFEST_NAME).read_bytes()).get("splits", {})
        coverage = tuple(SplitCoverage(s.name, len(s), stats.get(s.name, {}).get("clips")) for s in splits)
    else:
        coverage = tuple(SplitCoverage(s.name, len(s), OFFICIAL_CLIPS.get(s.name)) for s in splits)
    return DataFingerprint(kind, sha256, coverage)


def content_sha256(root: Path, split_names: Iterable[str]) -> tuple[str, str]:
    """(kind, sha256) of what a run reading ``split_names`` under ``root`` sees, without reading audio: the
    manifest of a synthetic set, else the splits' metadata files and audio listings (relative name, size). Where
    the folder is, or what it is called, plays no part."""
    manifest = root / MANIFEST_NAME
    if manifest.is_file():
        return "synthetic", hashlib.sha256(manifest.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(split_names):
        layout = SPLITS[name]
        for path in (layout.tsv_path(root), layout.durations_path(root)):
            if path is not None and path.is_file():
                digest.update(f"{path.relative_to(root)}\n".encode())
                digest.update(path.read_bytes())
        audio_dir = layout.audio_path(root)
        listing = sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in audio_dir.rglob("*")
                         if p.suffix.lower() in AUDIO_SUFFIXES) if audio_dir.is_dir() else []
        digest.update(json.dumps(listing).encode())
    return "desed", digest.hexdigest()
