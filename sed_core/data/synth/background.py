"""Backgrounds: coloured noise beds with slow changes, one recipe per domain, returned at unit RMS.

synthetic: coloured noise with a random tilt, a slowly swelling low room tone, optional mains hum, mild level
drift. real: a random smooth spectral colour, rumble swells, occasional broadband gusts, optional hum, strong
level drift (non-stationary, as outdoor and domestic recordings are).
"""
from __future__ import annotations

import math

import numpy as np

from sed_core.data.synth.domain import DomainName
from sed_core.data.synth.dsp import (
    TWO_PI,
    band_noise,
    db_to_amp,
    shaped_noise,
    slow_curve,
    unit_rms,
)


def _hum(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Mains hum (50 or 60 Hz, 5 harmonics): one exact repeating block, tiled."""
    mains = 50 if rng.random() < 0.5 else 60
    block = sr // math.gcd(sr, mains)  # samples holding a whole number of periods
    t = np.arange(block) / sr
    decay = rng.uniform(0.5, 2.0)
    x = np.zeros(block)
    for k in range(1, 6):
        x += k**-decay * np.sin(TWO_PI * k * mains * t + rng.uniform(0.0, TWO_PI))
    return unit_rms(np.tile(x, n // block + 1)[:n])


def _synthetic(rng: np.random.Generator, n: int, sr: int, hum_prob: float) -> np.ndarray:
    tilt = rng.uniform(-6.0, -1.0)

    def colour(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1.0)
        return (f / 1000.0) ** (tilt / 6.0206) / np.sqrt(1.0 + (30.0 / f) ** 4)

    x = shaped_noise(rng, n, sr, colour)
    room = band_noise(rng, n, sr, 20.0, 250.0)
    depth = rng.uniform(0.3, 0.7)
    room *= 1.0 + depth * slow_curve(rng, n, sr, rng.uniform(0.05, 0.3))
    x = x + db_to_amp(rng.uniform(-6.0, 3.0)) * room
    if rng.random() < hum_prob:
        x = x + db_to_amp(rng.uniform(-25.0, -8.0)) * _hum(rng, n, sr)
    return unit_rms(x * db_to_amp(1.5 * slow_curve(rng, n, sr, rng.uniform(0.1, 0.5))))


def _real(rng: np.random.Generator, n: int, sr: int, hum_prob: float) -> np.ndarray:
    knots_hz = np.geomspace(40.0, sr / 2, 9)
    knots_db = rng.normal(0.0, 5.0, knots_hz.size) + rng.uniform(-8.0, -2.0) * np.log2(knots_hz / 1000.0)

    def colour(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1.0)
        return db_to_amp(np.interp(np.log(f), np.log(knots_hz), knots_db))

    x = shaped_noise(rng, n, sr, colour)
    swell = np.maximum(0.0, 0.5 + slow_curve(rng, n, sr, rng.uniform(0.05, 0.2)))
    x = x + db_to_amp(rng.uniform(-3.0, 6.0)) * band_noise(rng, n, sr, 20.0, 150.0, order=2) * swell
    for _ in range(int(rng.poisson(0.7 * n / sr / 5.0))):  # gusts
        length = min(n, int(rng.uniform(0.5, 2.0) * sr))
        start = int(rng.integers(0, n - length + 1))
        env = np.sin(np.pi * np.arange(length) / length) ** 2
        level = db_to_amp(rng.uniform(3.0, 10.0))
        x[start : start + length] += level * env * band_noise(rng, length, sr, 50.0, 3000.0, order=1)
    if rng.random() < hum_prob:
        x = x + db_to_amp(rng.uniform(-25.0, -8.0)) * _hum(rng, n, sr)
    return unit_rms(x * db_to_amp(4.0 * slow_curve(rng, n, sr, rng.uniform(0.1, 0.4))))


def render_background(rng: np.random.Generator, n: int, sr: int, recipe: DomainName, hum_prob: float) -> np.ndarray:
    """n samples of the domain's background bed at unit RMS."""
    if recipe == "synthetic":
        return _synthetic(rng, n, sr, hum_prob)
    return _real(rng, n, sr, hum_prob)
