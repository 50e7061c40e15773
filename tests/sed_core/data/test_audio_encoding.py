"""Prepared audio is mono 16-bit PCM at the target rate whatever the source's encoding; clips with NaN samples are
refused by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sed_core.data.audio import read_clip
from sed_core.data.resample_audio import FileTask, _do_tasks, audio_header, is_prepared, needs_conversion
from sed_core.errors import DataError


def test_a_24_bit_source_at_the_target_rate_is_rewritten_as_16_bit(tmp_path: Path) -> None:
    source, target = tmp_path / "src.wav", tmp_path / "out" / "src.wav"
    wave = (0.3 * np.sin(np.arange(4000) / 7.0)).astype(np.float32)
    sf.write(str(source), wave, 16000, subtype="PCM_24")
    header = audio_header(source)
    assert header is not None and header.subtype == "PCM_24" and needs_conversion(header, 16000)
    target.parent.mkdir()
    sf.write(str(target), wave, 16000, subtype="PCM_24")  # a copy made before: same rate, channels and length
    assert not is_prepared(target, 16000, 4000)  # its encoding is not the prepared dataset's
    _do_tasks([FileTask(source, target, resample=True, sample_rate=16000)])
    info = sf.info(str(target))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 4000, "PCM_16")
    assert np.abs(sf.read(str(target), dtype="float32")[0] - wave).max() <= 1 / 32768 + 1e-7
    assert is_prepared(target, 16000, 4000)
    sf.write(str(source), wave, 16000, subtype="PCM_16")
    assert not needs_conversion(audio_header(source), 16000)  # already what the dataset holds: copied


def test_a_clip_with_nan_samples_is_refused_by_name(tmp_path: Path) -> None:
    wave = np.zeros(1600, dtype=np.float32)
    wave[100] = np.inf
    sf.write(str(tmp_path / "bad.wav"), wave, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"bad.wav: 1 samples are NaN or infinite \(the first at 0.006 s\)"):
        read_clip(tmp_path / "bad.wav", sample_rate=16000, n_samples=1600)
