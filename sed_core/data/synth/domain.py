"""The two recording domains: "synthetic" (Scaper-like soundscapes) and "real-like" (the shifted domain).

As in DESED, the synthetic splits are soundscapes and the other splits stand for real recordings. The real-like
domain differs by: another background recipe, a synthetic room reverb, a microphone EQ (tilt, ripple, low cut),
timbre frequencies shifted and spread wider, and DESED's class imbalance. ``domain_shift`` in the preset scales
everything but the background recipe and the class balance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sed_core.data.synth.dsp import db_to_amp, exp32, fft_convolve, rms, shape_spectrum
from sed_core.data.synth.presets import SynthPreset
from sed_core.desed_classes import DESED_CLASSES

DomainName = Literal["synthetic", "real"]

SYNTHETIC_SPLITS: tuple[str, ...] = ("synthetic_train", "synthetic_validation")


@dataclass(frozen=True)
class Domain:
    """Parameters of one domain, derived from a preset."""

    name: DomainName
    class_probs: np.ndarray  # (10,) event-class probabilities, DESED_CLASSES order
    log_fscale: tuple[float, float]  # per-event log timbre-frequency scale ~ U(low, high)
    reverb_prob: float
    rt60_s: tuple[float, float]
    drr_db: tuple[float, float]  # direct-to-reverberant ratio
    eq_tilt_db_per_oct: float  # |tilt| bound
    eq_ripple_db: float  # |peak or dip| bound
    low_cut_hz: tuple[float, float]
    empty_clip_fraction: float


def domain_of(split: str, preset: SynthPreset) -> Domain:
    """The domain of a split: synthetic for synthetic_*, real-like for the rest."""
    if split in SYNTHETIC_SPLITS:
        return Domain(
            name="synthetic",
            class_probs=np.full(len(DESED_CLASSES), 1.0 / len(DESED_CLASSES)),
            log_fscale=(-0.06, 0.06),
            reverb_prob=0.0,
            rt60_s=(0.0, 0.0),
            drr_db=(0.0, 0.0),
            eq_tilt_db_per_oct=0.0,
            eq_ripple_db=0.0,
            low_cut_hz=(0.0, 0.0),
            empty_clip_fraction=0.0,
        )
    s = preset.domain_shift
    weights = np.asarray(preset.real_class_weights, dtype=np.float64)
    return Domain(
        name="real",
        class_probs=weights / weights.sum(),
        log_fscale=(-0.06 - 0.04 * s, 0.06 + 0.16 * s),  # centre moves up by ~6 % and the spread widens
        reverb_prob=0.85 * s,
        rt60_s=(0.2, 0.2 + 0.7 * s),
        drr_db=(12.0 - 10.0 * s, 12.0),
        eq_tilt_db_per_oct=3.0 * s,
        eq_ripple_db=4.0 * s,
        low_cut_hz=(40.0, 40.0 + 160.0 * s),
        empty_clip_fraction=preset.empty_clip_fraction,
    )


def draw_fscale(rng: np.random.Generator, domain: Domain) -> float:
    return float(np.exp(rng.uniform(*domain.log_fscale)))


def room_reverb(rng: np.random.Generator, x: np.ndarray, sr: int, domain: Domain) -> np.ndarray:
    """Convolve ``x`` with a random synthetic room (exponentially decaying noise tail, a few early reflections).

    Returns x unchanged (a copy is not made) when the clip draws no reverb. Output length = input length.
    """
    if rng.random() >= domain.reverb_prob:
        return x
    rt60 = rng.uniform(*domain.rt60_s)
    n_ir = int(min(1.2 * rt60, 1.0) * sr)
    t = np.arange(n_ir) / sr
    tail = rng.standard_normal(n_ir) * exp32(-6.9078 * t / rt60)  # -60 dB at rt60
    tail *= np.minimum(1.0, t / 0.005)  # the tail builds up over 5 ms after the direct sound
    for _ in range(int(rng.integers(3, 7))):
        tail[int(rng.uniform(0.002, 0.03) * sr)] += rng.uniform(-0.8, 0.8) * np.sqrt(np.sum(tail**2) / 20.0)
    tail *= db_to_amp(-rng.uniform(*domain.drr_db)) / max(rms(tail) * np.sqrt(n_ir), 1e-12)
    ir = tail
    ir[0] += 1.0
    return fft_convolve(x, ir)[: x.size]


def microphone_eq(rng: np.random.Generator, x: np.ndarray, sr: int, domain: Domain) -> np.ndarray:
    """A random device response: spectral tilt, smooth peaks and dips, and a low cut."""
    if domain.eq_tilt_db_per_oct == 0.0 and domain.eq_ripple_db == 0.0 and domain.low_cut_hz[1] == 0.0:
        return x
    tilt = rng.uniform(-domain.eq_tilt_db_per_oct, domain.eq_tilt_db_per_oct)
    n_bumps = int(rng.integers(2, 6))
    centres = np.exp(rng.uniform(np.log(200.0), np.log(7000.0), n_bumps))
    gains_db = rng.uniform(-domain.eq_ripple_db, domain.eq_ripple_db, n_bumps)
    widths_oct = rng.uniform(0.3, 1.0, n_bumps)
    low_cut = rng.uniform(*domain.low_cut_hz)

    grid = np.geomspace(1.0, sr / 2, 512)  # the response is smooth: evaluate on a log grid, interpolate
    octaves = np.log2(grid / 1000.0)
    db = tilt * octaves
    for c, g, w in zip(np.log2(centres / 1000.0), gains_db, widths_oct):
        db += g * np.exp(-0.5 * np.square((octaves - c) / w))
    response = db_to_amp(db) / np.sqrt(1.0 + np.square(np.square(low_cut / grid)))

    def gain(f: np.ndarray) -> np.ndarray:
        return np.interp(f, grid, response)

    return shape_spectrum(x, sr, gain)
