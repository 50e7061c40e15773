"""Where a clip ends, and how far past that end a labelled event may reach before it is a data defect.

A clip's duration comes from its split's durations TSV where that lists the clip (DESED's
``validation_durations.tsv``, the durations the PSDS is computed with), else from the clip's audio file header.
An event may end past the duration by at most one feature frame (``features.hop_length / data.sample_rate``,
0.016 s by default: the front end cannot place an end more finely) plus the precision the duration is stated to:
a duration written with d decimals may fall short of the clip's true length by up to 10^-d s (DESED's
``validation_durations.tsv`` writes 0.1 s: 9.3 for a clip with an event ending at 9.302). Such events are
clipped to the duration; events ending further out, or starting at or past the end, are refused
(``sed_core.data.metadata.read_strong_tsv``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sed_core.config.schema import DataConfig, ExperimentConfig, FeaturesConfig
from sed_core.data.resample_audio import audio_header, resampled_length


@dataclass(frozen=True)
class FeatureFrame:
    """One frame of the log-mel front end: ``hop_length`` samples at ``sample_rate``."""

    hop_length: int
    sample_rate: int

    @classmethod
    def of(cls, config: ExperimentConfig) -> FeatureFrame:
        """The frame of a run's front end."""
        return cls(config.features.hop_length, config.data.sample_rate)

    @property
    def seconds(self) -> float:
        return self.hop_length / self.sample_rate

    def __str__(self) -> str:
        return (f"one frame = features.hop_length {self.hop_length} / data.sample_rate {self.sample_rate} Hz "
                f"= {self.seconds:.3f} s")


DEFAULT_FRAME = FeatureFrame(FeaturesConfig.model_fields["hop_length"].default,
                             DataConfig.model_fields["sample_rate"].default)


@dataclass(frozen=True)
class ClipDuration:
    """A clip's duration in seconds, where it comes from (for messages), and by how much it may fall short of the
    clip's true length (the precision it is stated to; 0 for a length read from the audio file)."""

    seconds: float
    source: str
    resolution_s: float = 0.0

    def slack_s(self, frame: FeatureFrame) -> float:
        """How far past the duration an event may end and still be clipped rather than refused."""
        return frame.seconds + self.resolution_s


def stated_resolution(text: str) -> float:
    """The precision a number is written to: 0.1 for '9.3', 0.001 for '9.302', 1.0 for '10'."""
    digits = text.strip().lower().split("e")[0]
    decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
    return 10.0 ** -decimals


class ClipDurations:
    """Clip durations, looked up when an event needs one: the stated ones (a durations TSV) first, then the length
    of ``audio_dir/<filename>`` at ``sample_rate`` (as ``sedstudy prepare-desed`` writes it, so a downloaded clip
    and its prepared copy have the same duration); None when neither is known (no audio, or not to be opened)."""

    def __init__(self, stated: Mapping[str, ClipDuration], *, audio_dir: Path | None, sample_rate: int) -> None:
        self.stated = stated
        self.audio_dir = audio_dir
        self.sample_rate = sample_rate
        self._from_audio: dict[str, ClipDuration | None] = {}

    def get(self, filename: str) -> ClipDuration | None:
        if filename in self.stated:
            return self.stated[filename]
        if self.audio_dir is None:
            return None
        if filename not in self._from_audio:
            self._from_audio[filename] = self._read_header(filename)
        return self._from_audio[filename]

    def _read_header(self, filename: str) -> ClipDuration | None:
        header = audio_header(self.audio_dir / filename)
        if header is None:
            return None  # missing or unreadable audio is refused or reported by the audio checks
        rate, _, frames, _ = header
        seconds = resampled_length(frames, rate, self.sample_rate) / self.sample_rate
        return ClipDuration(seconds, f"the length of {self.audio_dir / filename}")
