"""Clip-level tests of the synthetic generator: labels follow the audible part, classes are guaranteed."""
from __future__ import annotations

import numpy as np
import pytest

from sed_core.data.synth import SAMPLE_RATE, SYNTH_PRESETS, render_clip
from sed_core.data.synth.dsp import db_ramp
from sed_core.data.synth.scene import _audible_span
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError

TINY = SYNTH_PRESETS["tiny"]


def _band_power(x: np.ndarray, lo: float = 300.0, hi: float = 7000.0) -> np.ndarray:
    """Power per 16 ms frame in [lo, hi] Hz."""
    frames = x[: x.size // 256 * 256].reshape(-1, 256)
    spec = np.abs(np.fft.rfft(frames * np.hanning(256), axis=1)) ** 2
    f = np.fft.rfftfreq(256, 1 / SAMPLE_RATE)
    return spec[:, (f >= lo) & (f <= hi)].sum(axis=1)


def test_the_label_starts_where_a_fade_crosses_the_threshold() -> None:
    sr = SAMPLE_RATE
    raw = np.sin(2 * np.pi * 1000 * np.arange(2 * sr) / sr)
    env = np.ones(raw.size)
    env[:sr] = db_ramp(sr)  # 1 s fade in, linear in dB from -60 dB: crosses -20 dB at 2/3 s
    first, last = _audible_span(raw, env, -20.0, sr, fallback=False)
    assert abs(first / sr - 2 / 3) < 0.01
    assert last == raw.size


def test_a_fade_that_never_gets_loud_enough_is_not_labelled() -> None:
    sr = SAMPLE_RATE
    raw = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    env = np.full(raw.size, 0.05)  # -26 dB below its own full level
    assert _audible_span(raw, env, -20.0, sr, fallback=False) is None
    assert _audible_span(raw, env, -20.0, sr, fallback=True) is not None  # a clip's first event is kept


def test_labelled_spans_are_louder_than_the_rest_of_the_clip() -> None:
    """One loud event per clip, no distractors: band power inside the label is well above the power outside."""
    preset = TINY.replace(events_per_clip=(1, 1), distractor_rate=0.0, snr_db=(20.0, 25.0), short_event_prob=0.0)
    ratios = []
    for split, index in [(s, i) for s in ("synthetic_validation", "validation") for i in range(10)]:
        clip = render_clip(preset, split, index, seed=0)
        assert len(clip.events) == 1
        event = clip.events[0]
        power = _band_power(clip.audio.astype(np.float64))
        t = (np.arange(power.size) + 0.5) * 256 / SAMPLE_RATE
        inside = (t >= event.onset) & (t <= event.offset)
        outside = (t < event.onset - 0.1) | (t > event.offset + 0.3)  # leave room for reverb tails
        if inside.sum() < 3 or outside.sum() < 10:
            continue
        ratios.append(10 * np.log10(power[inside].mean() / power[outside].mean()))
    assert len(ratios) >= 8
    assert min(ratios) > 6.0, ratios


def test_labels_lie_inside_the_clip_for_many_clips() -> None:
    for split in ("synthetic_train", "validation", "strong_train"):
        for index in range(10, 30):
            clip = render_clip(TINY, split, index, seed=5)
            for e in clip.events:
                assert 0.0 <= e.onset < e.offset <= clip.duration + 1e-9, (split, index, e)
                assert e.offset - e.onset >= 0.03 - 1e-9


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("split", ["synthetic_validation", "validation"])
def test_the_first_ten_clips_cycle_through_every_class(split: str, seed: int) -> None:
    firsts = set()
    for index in range(len(DESED_CLASSES)):
        clip = render_clip(TINY, split, index, seed=seed)
        assert clip.events, (split, index)
        firsts |= {e.label for e in clip.events}
    assert firsts == set(DESED_CLASSES)


def test_clips_are_reproducible_and_seed_dependent() -> None:
    a = render_clip(TINY, "strong_train", 12, seed=3)
    b = render_clip(TINY, "strong_train", 12, seed=3)
    c = render_clip(TINY, "strong_train", 12, seed=4)
    d = render_clip(TINY, "unlabelled_train", 12, seed=3)
    assert np.array_equal(a.audio, b.audio) and a.events == b.events
    assert not np.array_equal(a.audio, c.audio)
    assert not np.array_equal(a.audio, d.audio)


def test_real_like_splits_hold_clips_without_events_and_weak_train_never() -> None:
    preset = TINY.replace(empty_clip_fraction=0.5)
    empty = {s: [i for i in range(10, 30) if not render_clip(preset, s, i, seed=0).events]
             for s in ("validation", "weak_train", "synthetic_train")}
    assert len(empty["validation"]) == 10
    assert empty["weak_train"] == [] and empty["synthetic_train"] == []


def test_an_unknown_split_raises() -> None:
    with pytest.raises(ConfigError, match="did you mean 'validation'"):
        render_clip(TINY, "validaton", 0, seed=0)
