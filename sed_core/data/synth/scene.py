"""One clip: background, placed and levelled events, distractors, the domain's room and microphone, labels.

``render_clip(preset, split, index, seed)`` depends on nothing but its arguments (one generator per clip), so
a clip made alone equals the same clip made inside a whole build.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sed_core.data.layout import SPLITS
from sed_core.data.synth.background import render_background
from sed_core.data.synth.distractors import DISTRACTORS
from sed_core.data.synth.domain import Domain, domain_of, draw_fscale, microphone_eq, room_reverb
from sed_core.data.synth.dsp import db_ramp, db_to_amp, log_uniform, rms, smoothed_power, unit_rms
from sed_core.data.synth.presets import SAMPLE_RATE, SynthPreset
from sed_core.data.synth.seeding import clip_rng, split_rng, stratified_flag
from sed_core.data.synth.timbres import TIMBRES
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, close_match_hint

LABEL_WINDOW_S = 0.01  # smoothing window of the envelope that decides the labelled (audible) span
MIN_EVENT_S = 0.05  # shortest event placed
MIN_IN_CLIP_S = 0.5  # an event cut by the clip end keeps at least this much (or all of itself) inside
MIN_LABEL_S = 0.1  # shortest labelled span kept
MIN_REGULAR_LABEL_S = 0.3  # shortest labelled span of an event not drawn as short (DESED: ~0.5 % are shorter)
PLACEMENT_TRIES = 20


@dataclass(frozen=True)
class Event:
    """One labelled event: class and audible span in seconds (rounded to ms)."""

    label: str
    onset: float
    offset: float


@dataclass(frozen=True, eq=False)
class Clip:
    """A rendered clip.

    audio: (n,) float32 in [-1, 1] at SAMPLE_RATE; n may be below clip_seconds * SAMPLE_RATE (short clips).
    events: sorted by (onset, label). tags: the clip's weak labels, sorted (weak-label noise applies on
    weak_train only).
    """

    filename: str
    audio: np.ndarray
    events: tuple[Event, ...]
    tags: tuple[str, ...]

    @property
    def duration(self) -> float:
        return round(self.audio.size / SAMPLE_RATE, 3)


@dataclass(frozen=True)
class _Extent:
    label: str
    start: int  # samples, within the clip
    stop: int  # exclusive


@dataclass(frozen=True)
class SplitPlan:
    """Split-level choices every clip can rebuild alone from (seed, split).

    class_cycle: the class of the first event of clips 0-9 (a permutation of DESED_CLASSES).
    short_offset, empty_offset: phases of the evenly spread short and empty clips (``stratified_flag``).
    """

    class_cycle: tuple[str, ...]
    short_offset: float
    empty_offset: float


@functools.lru_cache(maxsize=32)
def split_plan(seed: int, split: str) -> SplitPlan:
    rng = split_rng(seed, split)
    cycle = tuple(DESED_CLASSES[i] for i in rng.permutation(len(DESED_CLASSES)))
    short_offset, empty_offset = (float(v) for v in rng.uniform(size=2))
    return SplitPlan(cycle, short_offset, empty_offset)


def clip_filename(split: str, index: int) -> str:
    return f"{split}_{index:06d}.wav"


def _envelope(rng: np.random.Generator, n: int, sr: int, preset: SynthPreset) -> np.ndarray:
    """Attack and release ramps (linear in dB from -60 dB), one or both made long with soft_boundary_prob."""
    attack = rng.uniform(*preset.attack_release_s)
    release = rng.uniform(*preset.attack_release_s)
    if rng.random() < preset.soft_boundary_prob:
        which = int(rng.integers(3))  # 0: fade in, 1: fade out, 2: both
        if which != 1:
            attack = rng.uniform(*preset.soft_fade_s)
        if which != 0:
            release = rng.uniform(*preset.soft_fade_s)
    limit = 0.8 * n / sr
    if attack + release > limit:
        attack, release = attack * limit / (attack + release), release * limit / (attack + release)
    env = np.ones(n)
    a, r = int(attack * sr), int(release * sr)
    env[:a] = db_ramp(a)
    if r:
        env[n - r :] = db_ramp(r)[::-1]
    return env


def _fits(extents: list[_Extent], label: str, start: int, stop: int, gap: int, max_polyphony: int) -> bool:
    """No same-class event within ``gap`` samples, and fewer than max_polyphony events sounding anywhere."""
    for e in extents:
        if e.label == label and start < e.stop + gap and e.start < stop + gap:
            return False
    points = [start] + [e.start for e in extents if start <= e.start < stop]
    return all(sum(e.start <= p < e.stop for e in extents) < max_polyphony for p in points)


def _event_length(rng: np.random.Generator, label: str, preset: SynthPreset, sr: int) -> tuple[int, bool]:
    """(length in samples, whether the event was drawn as a deliberately short one)."""
    short = bool(rng.random() < preset.short_event_prob)
    seconds = rng.uniform(*preset.short_event_s) if short else log_uniform(rng, *TIMBRES[label].length_s)
    return max(int(seconds * sr), int(MIN_EVENT_S * sr)), short


def _render_event(
    rng: np.random.Generator, label: str, length: int, n_in: int, preset: SynthPreset, domain: Domain, sr: int
) -> tuple[np.ndarray, np.ndarray]:
    """(sound at unit RMS, envelope): the first n_in samples of an event of ``length`` samples."""
    timbre = TIMBRES[label]
    fscale = draw_fscale(rng, domain)
    raw = unit_rms(timbre.synth(rng, n_in, sr, fscale))
    if timbre.partners and preset.confusable_strength > 0.0:
        partner = TIMBRES[timbre.partners[int(rng.integers(len(timbre.partners)))]]
        w = rng.uniform(0.0, preset.confusable_strength)
        raw = np.sqrt(1.0 - w) * raw + np.sqrt(w) * unit_rms(partner.synth(rng, n_in, sr, fscale))
    return raw, _envelope(rng, length, sr, preset)[:n_in]


def _audible_span(
    raw: np.ndarray, env: np.ndarray, threshold_db: float, sr: int, fallback: bool
) -> tuple[int, int] | None:
    """[first, last] + 1 samples where the event's smoothed power is within threshold_db of its full level.

    The full level is the peak smoothed power of the event without its envelope, so fades below the threshold
    are not labelled. fallback: if nothing passes (a fade-dominated event), use the enveloped peak instead.
    """
    win, hop = max(1, int(LABEL_WINDOW_S * sr)), sr // 1000  # envelope on a 1 ms grid (labels are in ms)
    power = smoothed_power(raw * env, win, hop)
    ratio = 10.0 ** (threshold_db / 10.0)
    above = np.flatnonzero(power >= smoothed_power(raw, win, hop).max() * ratio)
    if above.size == 0:
        if not fallback:
            return None
        above = np.flatnonzero(power >= power.max() * ratio)
    first, last = int(above[0]) * hop, min(raw.size, (int(above[-1]) + 1) * hop)
    min_len = int(MIN_LABEL_S * sr)
    if last - first < min_len:
        if not fallback:
            return None
        last = min(raw.size, first + min_len)
        first = max(0, last - min_len)
    return first, last


def render_clip(preset: SynthPreset, split: str, index: int, seed: int) -> Clip:
    """Render clip ``index`` of ``split``: audio and labels, from a generator seeded by (seed, split, index)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}{close_match_hint(split, SPLITS)}; splits: {', '.join(SPLITS)}")
    if index < 0:
        raise ConfigError(f"clip index must be >= 0, got {index}")
    sr = SAMPLE_RATE
    rng = clip_rng(seed, split, index)
    plan = split_plan(seed, split)
    domain = domain_of(split, preset)

    clip_ms = round(preset.clip_seconds * 1000)
    if split == "validation" and stratified_flag(index, preset.short_clip_fraction, plan.short_offset):
        clip_ms = round(clip_ms * rng.uniform(*preset.short_clip_ratio))
    n = clip_ms * sr // 1000
    forced = plan.class_cycle[index] if index < len(DESED_CLASSES) else None
    empty = (
        forced is None
        and split != "weak_train"
        and stratified_flag(index, domain.empty_clip_fraction, plan.empty_offset)
    )

    bg_level = db_to_amp(rng.uniform(*preset.background_dbfs))
    mix = bg_level * render_background(rng, n, sr, domain.name, preset.hum_prob)
    foreground = np.zeros(n)
    extents: list[_Extent] = []
    events: list[Event] = []
    gap = int(round((preset.same_class_gap_s + 0.001) * sr))  # + 1 ms: labels are rounded to ms
    n_events = 0 if empty else int(rng.integers(preset.events_per_clip[0], preset.events_per_clip[1] + 1))
    for k in range(n_events):
        first = k == 0  # the first event always fits wholly inside, so no non-empty clip ends up without events
        if first and forced is not None:
            label = forced
        else:
            label = DESED_CLASSES[int(rng.choice(len(DESED_CLASSES), p=domain.class_probs))]
        length, short = _event_length(rng, label, preset, sr)
        length = min(length, n)
        if first:
            start = int(rng.integers(0, n - length + 1))
        else:
            for _ in range(PLACEMENT_TRIES):
                start = int(rng.integers(0, max(1, n - min(length, int(MIN_IN_CLIP_S * sr)) + 1)))
                if _fits(extents, label, start, min(start + length, n), gap, preset.max_polyphony):
                    break
            else:
                continue
        stop = min(start + length, n)
        raw, env = _render_event(rng, label, length, stop - start, preset, domain, sr)
        span = _audible_span(raw, env, preset.label_threshold_db, sr, fallback=first)
        if span is None or (not first and not short and span[1] - span[0] < MIN_REGULAR_LABEL_S * sr):
            continue  # only events drawn as short may be labelled shorter than a few label frames
        x = raw * env
        gain = bg_level * db_to_amp(rng.uniform(*preset.snr_db)) / max(rms(x[span[0] : span[1]]), 1e-12)
        foreground[start:stop] += gain * x
        extents.append(_Extent(label, start, stop))
        events.append(Event(label, round((start + span[0]) / sr, 3), round((start + span[1]) / sr, 3)))

    for _ in range(int(rng.poisson(preset.distractor_rate))):
        distractor = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
        length = max(1, min(int(rng.uniform(*distractor.length_s) * sr), n))
        start = int(rng.integers(0, n - length + 1))
        level = bg_level * db_to_amp(rng.uniform(*preset.distractor_snr_db))
        foreground[start : start + length] += level * unit_rms(distractor.synth(rng, length, sr))

    mix += room_reverb(rng, foreground, sr, domain)
    mix = microphone_eq(rng, mix, sr, domain)
    mix *= db_to_amp(rng.uniform(*preset.peak_dbfs)) / max(float(np.abs(mix).max()), 1e-12)

    tags = sorted({e.label for e in events})
    if split == "weak_train" and preset.weak_label_noise > 0.0 and len(tags) > 1:
        kept = [t for t in tags if rng.random() >= preset.weak_label_noise]
        tags = kept or [tags[int(rng.integers(len(tags)))]]
    return Clip(
        filename=clip_filename(split, index),
        audio=mix.astype(np.float32),
        events=tuple(sorted(events, key=lambda e: (e.onset, e.label))),
        tags=tuple(tags),
    )
