"""Reading clips: mono float32 at the expected sample rate, padded or cut to the clip length."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from sed_core.errors import DataError


def check_finite(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Refuse audio with NaN or infinite samples (a float WAV can hold them): the model would score every frame NaN
    and detect nothing, silently."""
    bad = ~np.isfinite(audio)
    if bad.any():
        first = int(np.argmax(bad.any(axis=1) if bad.ndim > 1 else bad))
        raise DataError(f"{path}: {int(bad.sum()):,} samples are NaN or infinite (the first at "
                        f"{first / sample_rate:.3f} s); the file is corrupt: export it again or leave it out")


def read_clip(path: Path, *, sample_rate: int, n_samples: int) -> tuple[np.ndarray, int]:
    """Return (waveform of exactly ``n_samples``, number of real samples before padding)."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(f"{path}: cannot read audio ({err}); is the file complete and a WAV/FLAC?") from None
    if rate != sample_rate:
        raise DataError(
            f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz; resample the dataset "
            f"(`sedstudy prepare-desed`) or set data.sample_rate"
        )
    if audio.shape[0] == 0:
        raise DataError(f"{path}: the file holds no samples")
    check_finite(path, audio, rate)
    mono = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    valid = min(len(mono), n_samples)
    out = np.zeros(n_samples, dtype=np.float32)
    out[:valid] = mono[:valid]
    return out, valid
