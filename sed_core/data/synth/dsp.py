"""Small signal-processing helpers shared by the synthesizers: shaped noise, slow random curves, ramps.

Everything is vectorised numpy (FFT shaping instead of sample loops) and draws only from the generator it is
given, so a clip's audio depends on nothing but its own generator.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import fft as sp_fft

TWO_PI = 2.0 * np.pi
_DB_TO_LN = math.log(10.0) / 20.0


def db_to_amp(db: float | np.ndarray) -> float | np.ndarray:
    """Amplitude ratio of a level in dB (a float for a scalar, float32 for an array)."""
    if np.ndim(db) == 0:
        return math.exp(float(db) * _DB_TO_LN)
    return np.exp(np.asarray(db, dtype=np.float32) * np.float32(_DB_TO_LN))


def sin_of(phase: np.ndarray) -> np.ndarray:
    """sin(phase) for a float64 phase in radians: exact range reduction, then a float32 sine (much faster)."""
    cycles = phase * (1.0 / TWO_PI)
    return np.sin((TWO_PI * (cycles - np.floor(cycles))).astype(np.float32))


def exp32(x: np.ndarray) -> np.ndarray:
    """exp in float32, for envelopes and decays (arguments of modest size)."""
    return np.exp(np.asarray(x, dtype=np.float32))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def unit_rms(x: np.ndarray) -> np.ndarray:
    """Scale ``x`` to RMS 1 (a silent input is returned unchanged)."""
    r = rms(x)
    return x / r if r > 0.0 else x


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def shape_spectrum(x: np.ndarray, sr: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Filter ``x`` by a zero-phase magnitude response ``gain(freqs_hz)`` (one rFFT, zero-padded to a fast size).

    Runs in float32 (well below the 16-bit output's resolution) because it is twice as fast.
    """
    n_fft = sp_fft.next_fast_len(x.size, real=True)
    spec = sp_fft.rfft(np.asarray(x, dtype=np.float32), n=n_fft)
    spec *= gain(sp_fft.rfftfreq(n_fft, 1.0 / sr)).astype(np.float32)
    return sp_fft.irfft(spec, n=n_fft)[: x.size]


def shaped_noise(rng: np.random.Generator, n: int, sr: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Unit-RMS noise with magnitude spectrum ``gain(freqs_hz)``, drawn directly in the frequency domain.

    Bins get uniform real and imaginary parts (4x cheaper than normal draws); each output sample sums
    thousands of bins, so it is Gaussian all the same. float32: noise needs no more precision.
    """
    n_fft = sp_fft.next_fast_len(n, real=True)
    n_bins = n_fft // 2 + 1
    spec = (rng.random(2 * n_bins, dtype=np.float32) - np.float32(0.5)).view(np.complex64)
    spec *= gain(sp_fft.rfftfreq(n_fft, 1.0 / sr)).astype(np.float32)
    return unit_rms(sp_fft.irfft(spec, n=n_fft)[:n])


def band_gain(lo: float, hi: float, order: int = 4, tilt_db_per_oct: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """Magnitude of a band-pass with Butterworth-like skirts (``order`` 1, 2 or 4) and an optional tilt around 1 kHz."""
    if order not in (1, 2, 4):
        raise ValueError(f"order must be 1, 2 or 4, got {order}")

    def gain(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1.0)
        a = np.square(lo / f)
        b = np.square(f / hi)
        for _ in range(order.bit_length() - 1):  # raise to the power 2 * order by squaring
            a, b = a * a, b * b
        g = 1.0 / np.sqrt((1.0 + a) * (1.0 + b))
        if tilt_db_per_oct:
            g *= np.exp(np.log(f / 1000.0) * (tilt_db_per_oct / 6.0206))
        return g

    return gain


def band_noise(
    rng: np.random.Generator, n: int, sr: int, lo: float, hi: float, *, order: int = 4, tilt_db_per_oct: float = 0.0
) -> np.ndarray:
    """Unit-RMS Gaussian noise band-limited to [lo, hi] Hz."""
    return shaped_noise(rng, n, sr, band_gain(lo, hi, order, tilt_db_per_oct))


def slow_curve(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A smooth random curve in [-1, 1] with about ``rate_hz`` independent values per second.

    Knots are cosine-interpolated on a 1 ms grid, then linearly to samples.
    """
    step = max(1.0, sr / max(rate_hz, 1e-3))  # samples between knots
    knots = rng.uniform(-1.0, 1.0, int((n + 16) / step) + 2)
    grid = np.arange(0, n + 16, 16, dtype=np.float64)
    pos = grid / step
    i = pos.astype(np.int64)
    w = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    coarse = knots[i] * (1.0 - w) + knots[i + 1] * w
    return np.interp(np.arange(n, dtype=np.float64), grid, coarse)


def phase_of(freq_hz: np.ndarray | float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Instantaneous phase (radians) of a tone following ``freq_hz`` (array of n, or a constant)."""
    if np.ndim(freq_hz) == 0:
        return phase0 + TWO_PI * float(freq_hz) * np.arange(n) / sr
    return phase0 + TWO_PI * np.cumsum(freq_hz) / sr


def db_ramp(n: int, floor_db: float = -60.0) -> np.ndarray:
    """A rising fade of n samples, linear in dB from ``floor_db`` to 0 dB (ends at exactly 1)."""
    if n <= 0:
        return np.ones(0)
    return db_to_amp(floor_db * (1.0 - np.arange(1, n + 1) / n))


def smoothstep_gate(frac: np.ndarray, duty: float, edge: float) -> np.ndarray:
    """A periodic on/off gate: ``frac`` in [0, 1) is the position in the period, on for ``frac < duty``.

    edge: rise/fall width as a fraction of the period (smoothstep shaped).
    """
    dist = np.where(frac < duty, np.minimum(frac, duty - frac), 0.0)
    g = np.clip(dist / max(edge, 1e-6), 0.0, 1.0)
    return g * g * (3.0 - 2.0 * g)


def smoothed_power(x: np.ndarray, win: int, hop: int = 1) -> np.ndarray:
    """Moving average of ``x**2`` over ``win`` samples centred on samples 0, hop, 2 hop, ... (edges use fewer)."""
    c = np.concatenate(([0.0], np.cumsum(np.square(x, dtype=np.float64))))
    n = x.size
    centres = np.arange(0, n, hop)
    lo = np.clip(centres - win // 2, 0, n)
    hi = np.clip(centres + win - win // 2, 0, n)
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def segments(
    rng: np.random.Generator, n: int, sr: int, length_s: tuple[float, float], gap_s: tuple[float, float]
) -> list[tuple[int, int]]:
    """Split n samples into (start, length) units separated by gaps; the first unit starts at 0.

    The last unit is cut at n; at least one unit is returned.
    """
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < n:
        length = max(1, int(rng.uniform(*length_s) * sr))
        out.append((pos, min(length, n - pos)))
        pos += length + int(rng.uniform(*gap_s) * sr)
    return out


def stft_filter(
    x: np.ndarray, sr: int, gains: Callable[[np.ndarray, np.ndarray], np.ndarray], nperseg: int = 512
) -> np.ndarray:
    """Time-varying filtering: multiply the STFT of ``x`` by ``gains(freqs_hz, frame_times_s)`` (bins x frames).

    Periodic Hann window, hop nperseg / 4, weighted overlap-add (exact reconstruction for unit gains).
    """
    hop = nperseg // 4
    window = (0.5 - 0.5 * np.cos(TWO_PI * np.arange(nperseg) / nperseg)).astype(np.float32)
    padded = np.pad(x, (nperseg, nperseg + hop - (x.size % hop)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, nperseg)[::hop]  # (frames, nperseg)
    times = (np.arange(len(frames)) * hop + nperseg / 2 - nperseg) / sr
    spec = sp_fft.rfft(frames * window, axis=1)
    spec *= gains(sp_fft.rfftfreq(nperseg, 1.0 / sr), times).T.astype(np.float32)
    out_frames = sp_fft.irfft(spec, n=nperseg, axis=1) * window
    n_frames = len(frames)
    acc = np.zeros((n_frames + 3, hop))
    for j in range(4):  # overlap-add: frame i covers hops i .. i + 3
        acc[j : j + n_frames] += out_frames[:, j * hop : (j + 1) * hop]
    return acc.ravel()[nperseg : nperseg + x.size] / 1.5  # sum of squared periodic Hann at 75 % overlap


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution of x and h via one real FFT of a fast length."""
    n = x.size + h.size - 1
    n_fft = sp_fft.next_fast_len(n, real=True)
    x32, h32 = np.asarray(x, dtype=np.float32), np.asarray(h, dtype=np.float32)  # float32: twice as fast
    return sp_fft.irfft(sp_fft.rfft(x32, n=n_fft) * sp_fft.rfft(h32, n=n_fft), n=n_fft)[:n]


def resonances(f: np.ndarray, centres: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Sum of resonance magnitudes 1 / sqrt(1 + ((f - c) / w)^2); f broadcasts against centres[..., k]."""
    return np.sum(1.0 / np.sqrt(1.0 + ((f[..., None] - centres) / widths) ** 2), axis=-1)
