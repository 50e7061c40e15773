"""Serialising clips and labels: 16-bit PCM WAV bytes and DESED-format TSV text (deterministic bytes)."""
from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Protocol

import numpy as np
import soundfile as sf

from sed_core.data.synth.presets import SAMPLE_RATE
from sed_core.data.synth.scene import Event


class LabelledClip(Protocol):
    """What the TSV writers need of a clip (a rendered Clip or the record a worker sends back)."""

    @property
    def filename(self) -> str: ...

    @property
    def duration(self) -> float: ...

    @property
    def events(self) -> tuple[Event, ...]: ...

    @property
    def tags(self) -> tuple[str, ...]: ...


def encode_wav(audio: np.ndarray) -> bytes:
    """16-bit PCM mono WAV of float audio in [-1, 1], quantised here (round half to even, clipped)."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> bytes:
    lines = ["\t".join(header)] + ["\t".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def strong_tsv(clips: Iterable[LabelledClip]) -> bytes:
    """``filename onset offset event_label``; a clip without events gets one row with the last three empty."""
    rows: list[tuple[str, ...]] = []
    for clip in clips:
        if not clip.events:
            rows.append((clip.filename, "", "", ""))
        rows.extend((clip.filename, f"{e.onset:.3f}", f"{e.offset:.3f}", e.label) for e in clip.events)
    return _table(("filename", "onset", "offset", "event_label"), rows)


def weak_tsv(clips: Iterable[LabelledClip]) -> bytes:
    """``filename event_labels`` (comma-joined, sorted)."""
    return _table(("filename", "event_labels"), ((c.filename, ",".join(c.tags)) for c in clips))


def unlabelled_tsv(clips: Iterable[LabelledClip]) -> bytes:
    return _table(("filename",), ((c.filename,) for c in clips))


def durations_tsv(clips: Iterable[LabelledClip]) -> bytes:
    """``filename duration`` (seconds, 3 decimals)."""
    return _table(("filename", "duration"), ((c.filename, f"{c.duration:.3f}") for c in clips))
