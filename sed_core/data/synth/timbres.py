"""The ten class synthesizers: one sound idea per DESED class, with parameters drawn per event.

Each synthesizer is ``synth(rng, n, sr, fscale) -> (n,) float64``: n samples of the sound at no particular
level (the scene scales it), every characteristic frequency multiplied by ``fscale`` (the domain's timbre
shift). Sine frequencies stay below 0.45 * sr so nothing aliases. Ranges follow docs/SYNTH_DATA.md; the
confusable pairs (Blender/Vacuum_cleaner, Cat/Speech, Dishes/Frying, Electric_shaver/Blender) are close by
design and are blended further by the scene (``confusable_strength``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sed_core.data.synth.dsp import (
    TWO_PI,
    band_gain,
    band_noise,
    db_to_amp,
    exp32,
    phase_of,
    resonances,
    segments,
    shape_spectrum,
    sin_of,
    slow_curve,
    smoothstep_gate,
    stft_filter,
    unit_rms,
)
from sed_core.desed_classes import DESED_CLASSES

SynthFn = Callable[[np.random.Generator, int, int, float], np.ndarray]


@dataclass(frozen=True)
class Timbre:
    """A class's synthesizer, its typical event length (s) and the classes it is meant to be confused with."""

    name: str
    synth: SynthFn
    length_s: tuple[float, float]
    partners: tuple[str, ...] = ()


def _max_harmonics(f_max: float, sr: int, cap: int) -> int:
    return int(max(1, min(cap, 0.45 * sr // max(f_max, 1.0))))


def _harmonics(
    rng: np.random.Generator, phase: np.ndarray, k_max: int, weight: Callable[[int], np.ndarray | float]
) -> np.ndarray:
    """Sum of k_max harmonics of ``phase`` with amplitudes ``weight(k)`` (scalar or per sample) and random phases."""
    out = np.zeros(phase.size)
    offsets = rng.uniform(0.0, TWO_PI, k_max)
    for k in range(1, k_max + 1):
        out += weight(k) * sin_of(k * phase + offsets[k - 1])
    return out


def _wavetable(rng: np.random.Generator, phase: np.ndarray, k_max: int, weights: np.ndarray) -> np.ndarray:
    """Like ``_harmonics`` with constant weights, via one period tabulated at 4096 points (cost independent of k)."""
    grid = np.arange(4097) * (TWO_PI / 4096)
    offsets = rng.uniform(0.0, TWO_PI, k_max)
    table = np.zeros(grid.size)
    for k in range(1, k_max + 1):
        table += weights[k - 1] * np.sin(k * grid + offsets[k - 1])
    return np.interp(np.mod(phase, TWO_PI), grid, table)


def alarm_bell(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """2-4 partials at 1.5-4 kHz, either ringing (fast tremolo), a beep train, or repeated bell strikes."""
    t = np.arange(n) / sr
    n_partials = int(rng.integers(2, 5))
    freqs = [rng.uniform(1500.0, 2500.0) * fscale]
    for _ in range(n_partials - 1):
        freqs.append(freqs[-1] * rng.uniform(1.12, 1.45))
    freqs_arr = np.minimum(np.array(freqs), min(4000.0 * fscale, 0.45 * sr))
    amps = rng.uniform(0.4, 1.0, n_partials)
    phases = rng.uniform(0.0, TWO_PI, n_partials)
    x = np.zeros(n)
    for f, a, p in zip(freqs_arr, amps, phases):
        x += a * sin_of(TWO_PI * f * t + p)
    mode = int(rng.integers(3))
    if mode == 0:  # electric bell: hammer tremolo
        fm = rng.uniform(12.0, 25.0)
        x *= (0.5 + 0.5 * sin_of(TWO_PI * fm * t)) ** rng.uniform(1.0, 3.0)
    elif mode == 1:  # beep train
        rate = rng.uniform(1.5, 5.0)
        x *= smoothstep_gate((t * rate) % 1.0, rng.uniform(0.3, 0.7), 0.008 * rate)
    else:  # repeated strikes with a decay
        rate, tau = rng.uniform(5.0, 15.0), rng.uniform(0.02, 0.08)
        x *= exp32(-((t * rate) % 1.0) / (rate * tau))
    return x


def blender(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Motor harmonics (f0 100-300 Hz) with a spin-up and speed drift, plus band noise modulated by the motor."""
    f0 = rng.uniform(100.0, 300.0) * fscale
    speed = 1.0 + 0.12 * slow_curve(rng, n, sr, rng.uniform(0.5, 2.0))
    spin = max(1, int(rng.uniform(0.2, 0.6) * sr))
    speed *= 0.5 + 0.5 * np.minimum(1.0, np.arange(n) / spin)
    phase = phase_of(f0 * speed, n, sr)
    alpha = rng.uniform(0.4, 1.0)
    k_max = _max_harmonics(f0 * 1.15, sr, 20)
    x = unit_rms(_wavetable(rng, phase, k_max, np.arange(1, k_max + 1) ** -alpha))
    noise = band_noise(rng, n, sr, 500.0 * fscale, 4000.0 * fscale) * (1.0 + 0.4 * sin_of(phase))
    return x + rng.uniform(0.2, 0.6) * noise


def _meow(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    u = np.arange(n) / max(n, 1)
    f_start, f_peak, f_end = (rng.uniform(400.0, 600.0), rng.uniform(650.0, 900.0), rng.uniform(350.0, 550.0))
    f_start, f_peak, f_end = f_start * fscale, f_peak * fscale, f_end * fscale
    p = rng.uniform(0.25, 0.6)
    f0 = np.where(
        u < p,
        f_start + (f_peak - f_start) * np.sin(0.5 * np.pi * u / p),
        f_peak + (f_end - f_peak) * (1.0 - np.cos(0.5 * np.pi * (u - p) / (1.0 - p))),
    )
    f0 *= 1.0 + 0.01 * sin_of(TWO_PI * rng.uniform(4.0, 7.0) * np.arange(n) / sr)
    phase = phase_of(f0, n, sr)
    centres = np.array([rng.uniform(800.0, 1400.0), rng.uniform(1800.0, 3200.0)]) * fscale
    widths = np.array([rng.uniform(150.0, 300.0), rng.uniform(250.0, 450.0)])
    opening = 0.8 + 0.3 * sin_of(np.pi * u)  # the mouth opens then closes: F1 rises and falls

    def weight(k: int) -> np.ndarray:
        fk = k * f0
        return k**-0.7 * (
            1.0 / np.sqrt(1.0 + ((fk - centres[0] * opening) / widths[0]) ** 2)
            + 1.0 / np.sqrt(1.0 + ((fk - centres[1]) / widths[1]) ** 2)
        )

    x = _harmonics(rng, phase, _max_harmonics(f_peak * 1.02, sr, 12), weight)
    x = unit_rms(x) + 0.05 * band_noise(rng, n, sr, 1000.0, 4000.0)
    return x * np.maximum(sin_of(np.pi * u), 0.0) ** 0.6


def cat(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Meows: a harmonic glide 400-900 Hz that rises then falls, through two formants."""
    out = np.zeros(n)
    for start, length in segments(rng, n, sr, (0.4, 1.5), (0.15, 0.5)):
        out[start : start + length] = _meow(rng, length, sr, fscale)
    return out


def dishes(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """A train of damped inharmonic clinks at 2-8 kHz (the first at the start)."""
    out = np.zeros(n)
    rate = rng.uniform(2.0, 8.0)
    start = 0
    while start < n:
        m = int(rng.integers(2, 5))
        freqs = np.minimum(rng.uniform(2000.0, 8000.0, m) * fscale, 0.45 * sr)
        taus = rng.uniform(0.02, 0.12, m)
        length = min(int(4.0 * taus.max() * sr), n - start)
        tt = np.arange(length) / sr
        clink = exp32(-tt[None, :] / taus[:, None]) * sin_of(
            TWO_PI * freqs[:, None] * tt[None, :] + rng.uniform(0.0, TWO_PI, m)[:, None]
        )
        out[start : start + length] += rng.lognormal(0.0, 0.5) * (rng.uniform(0.3, 1.0, m) @ clink)
        start += max(1, int(rng.exponential(1.0 / rate) * sr) + int(0.03 * sr))
    return out


def _bark(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    t = np.arange(n) / sr
    u = np.arange(n) / max(n, 1)
    f_top = rng.uniform(300.0, 700.0) * fscale
    f0 = f_top * (1.0 - rng.uniform(0.15, 0.35) * u)
    centre, width = rng.uniform(800.0, 1500.0) * fscale, 400.0
    x = _harmonics(
        rng,
        phase_of(f0, n, sr),
        _max_harmonics(f_top, sr, 10),
        lambda k: k**-0.5 * (0.3 + 1.0 / np.sqrt(1.0 + ((k * f0 - centre) / width) ** 2)),
    )
    x = unit_rms(x) + rng.uniform(0.3, 0.8) * band_noise(rng, n, sr, 400.0 * fscale, 3500.0 * fscale)
    attack, decay = rng.uniform(0.003, 0.008), rng.uniform(0.3, 0.6) * n / sr
    return x * (1.0 - exp32(-t / attack)) * exp32(-t / max(decay, 1e-3))


def dog(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """1-4 barks of 0.1-0.4 s: harmonics of 300-700 Hz falling, plus noise, with a sharp attack."""
    out = np.zeros(n)
    for start, length in segments(rng, n, sr, (0.1, 0.4), (0.15, 0.5)):
        out[start : start + length] = _bark(rng, length, sr, fscale)
    return out


def electric_shaver(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """A pulse buzz at 80-250 Hz (odd harmonics from a soft clipper), slight pitch and level modulation."""
    t = np.arange(n) / sr
    f0 = rng.uniform(80.0, 250.0) * fscale * (1.0 + 0.02 * slow_curve(rng, n, sr, rng.uniform(0.5, 3.0)))
    x = np.tanh(rng.uniform(2.0, 8.0) * sin_of(phase_of(f0, n, sr)))
    x = unit_rms(shape_spectrum(x, sr, band_gain(60.0, 6000.0 * fscale, order=2)))
    x *= 1.0 - rng.uniform(0.0, 0.3) * (0.5 + 0.5 * sin_of(TWO_PI * rng.uniform(2.0, 8.0) * t))
    return x + rng.uniform(0.0, 0.2) * band_noise(rng, n, sr, 2000.0, 6000.0)


def frying(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Random crackles (heavy-tailed amplitudes, 1-7 kHz) over a high hiss, with a slowly varying intensity."""
    count = int(rng.poisson(rng.uniform(30.0, 150.0) * n / sr))
    width = 48
    pos = rng.integers(0, n, count)
    amps = (rng.pareto(2.0, count) + 1.0) * rng.choice([-1.0, 1.0], count)
    kernels = rng.standard_normal((count, width)) * np.exp(-np.arange(width) / rng.uniform(8.0, 24.0))
    crackles = np.zeros(n)
    idx = pos[:, None] + np.arange(width)[None, :]
    valid = idx < n
    np.add.at(crackles, idx[valid], (amps[:, None] * kernels)[valid])
    crackles = unit_rms(shape_spectrum(crackles, sr, band_gain(1000.0 * fscale, 7000.0, order=2)))
    crackles *= 0.7 + 0.3 * slow_curve(rng, n, sr, rng.uniform(0.3, 1.0))
    return crackles + rng.uniform(0.2, 0.5) * band_noise(rng, n, sr, 2000.0 * fscale, 7500.0, order=2)


def running_water(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Band noise 0.8-6 kHz in three sub-bands whose levels drift slowly, with a fast bubbling modulation."""
    edges = np.minimum(np.array([800.0, 1800.0, 3500.0, 6000.0]) * fscale, 0.47 * sr)
    x = np.zeros(n)
    for lo, hi in zip(edges[:-1], edges[1:]):
        drift = db_to_amp(6.0 * slow_curve(rng, n, sr, rng.uniform(0.3, 1.5)))
        x += band_noise(rng, n, sr, lo, hi) * drift
    x *= 1.0 + rng.uniform(0.2, 0.5) * slow_curve(rng, n, sr, rng.uniform(8.0, 25.0))
    return x * db_to_amp(3.0 * slow_curve(rng, n, sr, rng.uniform(0.2, 0.6)))


_VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410],
     [440, 1020, 2240]],
    dtype=np.float64,
)  # F1-F3 (Hz) of a, i, u, e, o, ae, ʊ (Peterson & Barney 1952, male averages)
_FORMANT_WIDTHS = np.array([90.0, 120.0, 180.0])


def _utterance(rng: np.random.Generator, n: int, sr: int, f0: float, fscale: float) -> np.ndarray:
    t = np.arange(n) / sr
    dur = n / sr
    n_syl = max(1, round(dur * rng.uniform(3.0, 6.0)))
    bounds = np.concatenate(([0.0], np.cumsum(rng.uniform(0.6, 1.4, n_syl))))
    bounds *= dur / bounds[-1]
    syl = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, n_syl - 1)
    local = (t - bounds[syl]) / (bounds[syl + 1] - bounds[syl])
    voicing = np.sqrt(np.maximum(sin_of(np.pi * np.clip(local, 0.0, 1.0)), 0.0))
    contour = f0 * (1.1 - 0.2 * t / dur) * (1.0 + 0.12 * slow_curve(rng, n, sr, 3.0))
    saw = 2.0 * ((phase_of(contour, n, sr) / TWO_PI) % 1.0) - 1.0
    source = (saw + 0.05 * rng.standard_normal(n)) * voicing
    formants = _VOWELS[rng.integers(0, len(_VOWELS), n_syl)] * fscale

    def gains(f: np.ndarray, tf: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(bounds, tf, side="right") - 1, 0, n_syl - 1)
        track = formants[idx]  # (frames, 3)
        if len(track) > 2:  # co-articulation: smooth the hops over 3 frames
            track = np.concatenate((track[:1], (track[:-2] + track[1:-1] + track[2:]) / 3.0, track[-1:]))
        return resonances(f[:, None], track[None, :, :], _FORMANT_WIDTHS)  # (bins, frames)

    y = unit_rms(stft_filter(source, sr, gains))
    for k in range(n_syl):  # fricative onsets
        if rng.random() < 0.3:
            start = int(bounds[k] * sr)
            length = min(int(rng.uniform(0.04, 0.12) * sr), n - start)
            if length > 8:
                y[start : start + length] += 0.4 * band_noise(rng, length, sr, 3000.0 * fscale, 7000.0)
    return y


def speech(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Source-filter speech: f0 90-250 Hz with a contour, vowel formants hopping at 3-6 syllables/s, pauses."""
    f0 = rng.uniform(90.0, 250.0) * fscale
    formant_scale = fscale * rng.uniform(0.92, 1.15)
    out = np.zeros(n)
    for start, length in segments(rng, n, sr, (0.25, 1.2), (0.08, 0.35)):
        out[start : start + length] = _utterance(rng, length, sr, f0, formant_scale)
    return out


def vacuum_cleaner(rng: np.random.Generator, n: int, sr: int, fscale: float) -> np.ndarray:
    """Broadband low-mid noise plus a 1-3 kHz whine that spins up at the start."""
    noise = band_noise(rng, n, sr, 60.0, 2500.0 * fscale, order=2, tilt_db_per_oct=-rng.uniform(1.0, 4.0))
    spin = np.minimum(1.0, np.arange(n) / max(1, int(rng.uniform(0.5, 1.5) * sr)))
    f_whine = rng.uniform(1000.0, 3000.0) * fscale * (0.6 + 0.4 * spin)
    f_whine *= 1.0 + 0.003 * slow_curve(rng, n, sr, 2.0)
    phase = phase_of(f_whine, n, sr)
    whine = sin_of(phase)
    if f_whine.max() * 2 < 0.45 * sr:
        whine += rng.uniform(0.1, 0.4) * sin_of(2.0 * phase)
    whine = unit_rms(whine) * db_to_amp(rng.uniform(-12.0, -3.0)) * spin
    return (noise + whine) * (1.0 + 0.1 * slow_curve(rng, n, sr, 0.5))


TIMBRES: dict[str, Timbre] = {
    t.name: t
    for t in (
        Timbre("Alarm_bell_ringing", alarm_bell, (1.0, 8.0)),
        Timbre("Blender", blender, (2.0, 8.0), ("Vacuum_cleaner", "Electric_shaver_toothbrush")),
        Timbre("Cat", cat, (0.4, 1.5), ("Speech",)),
        Timbre("Dishes", dishes, (0.3, 3.0), ("Frying",)),
        Timbre("Dog", dog, (0.4, 3.0)),
        Timbre("Electric_shaver_toothbrush", electric_shaver, (2.0, 8.0), ("Blender",)),
        Timbre("Frying", frying, (3.0, 10.0), ("Dishes",)),
        Timbre("Running_water", running_water, (2.0, 10.0)),
        Timbre("Speech", speech, (0.5, 4.0), ("Cat",)),
        Timbre("Vacuum_cleaner", vacuum_cleaner, (3.0, 10.0), ("Blender",)),
    )
}
assert tuple(TIMBRES) == DESED_CLASSES, "TIMBRES must list the DESED classes in their order"
