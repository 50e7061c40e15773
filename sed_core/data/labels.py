"""Events in seconds -> frame targets on the model's output grid (hop derived from front end and pooling)."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


class LabelEncoder:
    """Encodes strong events as (n_frames, C) and weak tags as (C,), frame i covering [i*hop, (i+1)*hop)."""

    def __init__(self, classes: Sequence[str], frame_hop_s: float, n_frames: int) -> None:
        self.classes = tuple(classes)
        self.index = {c: i for i, c in enumerate(self.classes)}
        self.frame_hop_s = frame_hop_s
        self.n_frames = n_frames

    def strong(self, events: Iterable[tuple[float, float, str]]) -> np.ndarray:
        target = np.zeros((self.n_frames, len(self.classes)), dtype=np.float32)
        for onset, offset, label in events:
            start = min(max(int(math.floor(onset / self.frame_hop_s)), 0), self.n_frames)
            stop = min(max(int(math.ceil(offset / self.frame_hop_s)), 0), self.n_frames)
            target[start:stop, self.index[label]] = 1.0
        return target

    def weak(self, labels: Iterable[str]) -> np.ndarray:
        target = np.zeros(len(self.classes), dtype=np.float32)
        for label in labels:
            target[self.index[label]] = 1.0
        return target
