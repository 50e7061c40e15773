"""Unannotated distractor sounds (chirps, knocks, pure beeps, rustles): false-positive bait, never labelled.

Each is ``synth(rng, n, sr) -> (n,)`` like the class timbres, with a structure no class has (a single pure
tone, sweeps above 4.5 kHz, low thumps, gated mid noise).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sed_core.data.synth.dsp import TWO_PI, band_noise, segments, sin_of, slow_curve, unit_rms


@dataclass(frozen=True)
class Distractor:
    name: str
    synth: Callable[[np.random.Generator, int, int], np.ndarray]
    length_s: tuple[float, float]


def _hann_edges(n: int, sr: int, edge_s: float = 0.005) -> np.ndarray:
    m = min(n // 2, max(1, int(edge_s * sr)))
    w = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
    w[:m] = ramp
    w[n - m :] = ramp[::-1]
    return w


def chirps(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """1-4 bird-like sweeps between 4.5 and 7.2 kHz."""
    out = np.zeros(n)
    for start, length in segments(rng, n, sr, (0.05, 0.3), (0.05, 0.3)):
        f_a, f_b = rng.uniform(4500.0, 5800.0), rng.uniform(6000.0, 7200.0)
        if rng.random() < 0.5:
            f_a, f_b = f_b, f_a
        u = np.arange(length) / max(length, 1)
        freq = f_a * (f_b / f_a) ** u
        out[start : start + length] = sin_of(TWO_PI * np.cumsum(freq) / sr) * np.sin(np.pi * u)
    return out


def knocks(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """1-4 low thumps (damped 60-200 Hz) with a short click."""
    out = np.zeros(n)
    for start, length in segments(rng, n, sr, (0.05, 0.12), (0.1, 0.4)):
        tt = np.arange(length) / sr
        thump = np.exp(-tt / rng.uniform(0.01, 0.04)) * np.sin(TWO_PI * rng.uniform(60.0, 200.0) * tt)
        click = np.exp(-tt / 0.001) * rng.standard_normal(length) * 0.5
        out[start : start + length] = thump + click
    return out


def beep(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """One steady pure tone at 0.9-1.4 kHz or 4.5-6.5 kHz (alarms have several partials and modulation)."""
    f = rng.uniform(900.0, 1400.0) if rng.random() < 0.5 else rng.uniform(4500.0, 6500.0)
    return sin_of(TWO_PI * f * np.arange(n) / sr + rng.uniform(0.0, TWO_PI)) * _hann_edges(n, sr)


def rustle(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Mid-band noise (0.3-2 kHz) gated by a fast random modulation, like paper or clothes."""
    gate = np.maximum(0.0, slow_curve(rng, n, sr, rng.uniform(15.0, 40.0))) ** 2
    return unit_rms(band_noise(rng, n, sr, 300.0, 2000.0) * gate) * _hann_edges(n, sr, 0.02)


DISTRACTORS: tuple[Distractor, ...] = (
    Distractor("chirp", chirps, (0.1, 1.0)),
    Distractor("knock", knocks, (0.1, 1.2)),
    Distractor("beep", beep, (0.1, 0.8)),
    Distractor("rustle", rustle, (0.2, 1.5)),
)
