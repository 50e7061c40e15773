"""Torch datasets over splits, and the multi-source batches of mean-teacher training."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sed_core.data.audio import read_clip
from sed_core.data.labels import LabelEncoder
from sed_core.data.splits import SplitData


class ClipDataset(Dataset):
    """Item i of a split: waveform (S,), strong target (T', C), weak target (C,), real sample count."""

    def __init__(self, split: SplitData, encoder: LabelEncoder, *, sample_rate: int, n_samples: int) -> None:
        self.split = split
        self.encoder = encoder
        self.sample_rate = sample_rate
        self.n_samples = n_samples
        self._events: dict[str, list[tuple[float, float, str]]] = {}
        if split.events is not None:
            for row in split.events.itertuples(index=False):
                self._events.setdefault(row.filename, []).append((row.onset, row.offset, row.event_label))

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict[str, object]:
        filename = self.split.filenames[index]
        audio, valid = read_clip(self.split.audio_dir / filename, sample_rate=self.sample_rate,
                                 n_samples=self.n_samples)
        n_classes = len(self.encoder.classes)
        strong = self.encoder.strong(self._events.get(filename, ()))
        if self.split.labels == "weak":
            weak = self.encoder.weak(self.split.weak[filename])
        else:
            weak = strong.max(axis=0) if len(strong) else np.zeros(n_classes, np.float32)
        return {"audio": audio, "strong": strong, "weak": weak, "valid_samples": valid,
                "source": self.split.name, "filename": filename}


@dataclass
class Batch:
    """A training or evaluation batch. ``mask[name]`` selects rows: per source, plus "strong" and "weak"."""

    audio: torch.Tensor  # (B, S)
    strong: torch.Tensor  # (B, T', C)
    weak: torch.Tensor  # (B, C)
    valid_samples: torch.Tensor  # (B,)
    filenames: list[str]
    mask: dict[str, torch.Tensor]

    def to(self, device: torch.device) -> Batch:
        """The batch's tensors on `device` (asynchronous from pinned memory); the same batch on its own device."""
        if self.audio.device == device:
            return self
        move = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        return Batch(audio=move(self.audio), strong=move(self.strong), weak=move(self.weak),
                     valid_samples=self.valid_samples, filenames=self.filenames,
                     mask={k: move(v) for k, v in self.mask.items()})


STRONG_SOURCES = ("synthetic_train", "strong_train", "synthetic_validation", "validation")
WEAK_SOURCES = ("weak_train",)


def collate(items: Sequence[dict[str, object]]) -> Batch:
    sources = [str(it["source"]) for it in items]
    mask = {name: torch.tensor([s == name for s in sources]) for name in dict.fromkeys(sources)}
    mask["strong"] = torch.tensor([s in STRONG_SOURCES for s in sources])
    mask["weak"] = torch.tensor([s in WEAK_SOURCES for s in sources])
    return Batch(
        audio=torch.from_numpy(np.stack([it["audio"] for it in items])),
        strong=torch.from_numpy(np.stack([it["strong"] for it in items])),
        weak=torch.from_numpy(np.stack([it["weak"] for it in items])),
        valid_samples=torch.tensor([int(it["valid_samples"]) for it in items]),
        filenames=[str(it["filename"]) for it in items],
        mask=mask,
    )


class MultiSourceBatchSampler(Sampler[list[int]]):
    """Each step takes ``batch_sizes[i]`` clips from source i of a ConcatDataset (DCASE's batch composition).

    An epoch lasts as long as the smallest source allows (as DESED_task's ConcatDatasetBatchSampler) unless
    ``steps_per_epoch`` is given; the order of epoch e is a pure function of (seed, e), so resuming at an
    epoch boundary replays exactly.
    """

    def __init__(self, sizes: Sequence[int], batch_sizes: Sequence[int], *, seed: int,
                 steps_per_epoch: int | None = None) -> None:
        self.sizes = list(sizes)
        self.batch_sizes = list(batch_sizes)
        self.offsets = np.cumsum([0, *self.sizes[:-1]]).tolist()
        self.seed = seed
        self.epoch = 0
        natural = min(n // b for n, b in zip(self.sizes, self.batch_sizes))
        self.steps = steps_per_epoch or natural
        if self.steps < 1:
            raise ValueError(f"a source is smaller than its batch size: sizes {self.sizes}, batch {self.batch_sizes}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[int]]:
        streams = [self._stream(i) for i in range(len(self.sizes))]
        for _ in range(self.steps):
            batch: list[int] = []
            for i, bs in enumerate(self.batch_sizes):
                batch.extend(self.offsets[i] + next(streams[i]) for _ in range(bs))
            yield batch

    def _stream(self, source: int) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch, source])
        while True:
            yield from rng.permutation(self.sizes[source]).tolist()
