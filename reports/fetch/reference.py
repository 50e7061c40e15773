"""An evaluation split's stored labels (`reference/<split>/{ground_truth,durations}.tsv`) as clip events."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

Event = tuple[float, float, str]


@dataclass(frozen=True)
class Reference:
    """The evaluation split's labels: {clip: [(onset, offset, label)]} and {clip: duration in s}."""

    ground_truth: Mapping[str, Sequence[Event]]
    durations: Mapping[str, float]

    @classmethod
    def from_tables(cls, events: pd.DataFrame, durations: pd.DataFrame) -> Reference:
        """DESED layouts: events (filename, onset, offset, event_label), durations (filename, duration)."""
        clip_durations = {name.removesuffix(".wav"): float(d) for name, d in
                          zip(durations["filename"].astype(str), durations["duration"])}
        truth: dict[str, list[Event]] = {clip: [] for clip in clip_durations}
        for name, onset, offset, label in events[["filename", "onset", "offset", "event_label"]].itertuples(
                index=False):
            clip = str(name).removesuffix(".wav")
            if clip not in truth:
                raise ValueError(f"reference event of clip {clip!r} has no duration; the stored reference "
                                 "durations.tsv must list every clip of ground_truth.tsv")
            truth[clip].append((float(onset), float(offset), str(label)))
        return cls(truth, clip_durations)
