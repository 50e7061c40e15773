"""Writing audio files at a target rate, mono, 16-bit PCM: deterministic, atomic, in chunks on a process pool.

Every file is written under a temporary name and renamed when complete, so an interrupted run never leaves a
file that looks done; an output with the target rate, one channel and the frame count the resampler gives is
recognised as finished (``audio_header``, ``resampled_length``).
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from sed_core.errors import DataError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

OUTPUT_SUBTYPE = "PCM_16"  # DESED's own encoding; samples are rounded and clipped to int16
PARTIAL_TAG = ".sedstudy-partial-"  # temporary files: .<name>.sedstudy-partial-<pid>, renamed when complete
CHUNK_CLIPS = 32


@dataclass(frozen=True)
class FileTask:
    """One output file to write: resampled (and downmixed) from src, or copied byte for byte."""

    src: Path
    dst: Path
    resample: bool
    sample_rate: int


def resampled_length(frames: int, orig_rate: int, new_rate: int) -> int:
    """Frames ``torchaudio.functional.resample`` returns for ``frames`` input frames.

    torchaudio cuts its output to ceil(new * frames / orig) (rates divided by their gcd) computed in float32, which
    is one less than the exact ceiling for some lengths; this mirrors it so finished files are recognised.
    """
    if orig_rate == new_rate:
        return frames
    gcd = math.gcd(orig_rate, new_rate)
    return int(np.ceil(np.float32((new_rate // gcd) * frames / (orig_rate // gcd))))


class AudioHeader(NamedTuple):
    sample_rate: int
    channels: int
    frames: int
    subtype: str  # libsndfile's name of the sample encoding: PCM_16, PCM_24, FLOAT, ...


def audio_header(path: Path) -> AudioHeader | None:
    """The file header's rate, channels, frames and encoding, or None if unreadable or empty."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    return AudioHeader(info.samplerate, info.channels, info.frames, info.subtype) if info.frames > 0 else None


def needs_conversion(header: AudioHeader, sample_rate: int) -> bool:
    """Whether a source file must be rewritten (rate, channels or encoding) rather than copied: the prepared
    dataset is mono 16-bit PCM at `sample_rate`, whatever the source."""
    return header.sample_rate != sample_rate or header.channels != 1 or header.subtype != OUTPUT_SUBTYPE


def is_prepared(path: Path, sample_rate: int, frames: int) -> bool:
    """An existing output with the target rate, one channel, the expected frame count and 16-bit PCM."""
    return path.is_file() and audio_header(path) == (sample_rate, 1, frames, OUTPUT_SUBTYPE)


def remove_partials(folders: Iterable[Path]) -> int:
    """Delete the temporary files an interrupted run left in the output folders; return how many."""
    removed = 0
    for folder in folders:
        if folder.is_dir():
            for path in folder.glob(f".*{PARTIAL_TAG}*"):
                path.unlink()
                removed += 1
    if removed:
        log.info("removed %d partial file(s) of an interrupted run", removed)
    return removed


def _partial_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}{PARTIAL_TAG}{os.getpid()}")


def write_atomic(dst: Path, data: bytes) -> None:
    """Write data to dst under a temporary name, renamed when complete."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_path(dst)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _resample_file(src: Path, dst: Path, sample_rate: int) -> None:
    """Write src as mono (channel mean) at sample_rate, 16-bit PCM WAV (waveform (frames,) after downmix)."""
    import torch
    import torchaudio.functional as audio_f

    try:
        audio, rate = sf.read(str(src), dtype="float32", always_2d=True)  # (frames, channels)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(
            f"{src}: cannot decode ({err}); re-download or delete it, then run prepare-desed again "
            "(finished files are kept)"
        ) from None
    mono = audio.mean(axis=1, dtype=np.float32) if audio.shape[1] > 1 else audio[:, 0]
    wave = audio_f.resample(torch.from_numpy(np.ascontiguousarray(mono)), rate, sample_rate).numpy()
    pcm = np.clip(np.round(wave.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    sf.write(str(dst), pcm, sample_rate, subtype=OUTPUT_SUBTYPE, format="WAV")


def _do_tasks(tasks: Sequence[FileTask]) -> int:
    """Write each task's file under a temporary name, renamed when complete; runs in a worker or in-process.

    torch runs single-threaded here so the output does not depend on the machine's thread count.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for task in tasks:
            task.dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = _partial_path(task.dst)
            try:
                if task.resample:
                    _resample_file(task.src, tmp, task.sample_rate)
                else:
                    shutil.copyfile(task.src, tmp)
                os.replace(tmp, task.dst)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
    finally:
        torch.set_num_threads(threads)
    return len(tasks)


def run_tasks(tasks: list[FileTask], workers: int, progress: Progress | None) -> None:
    """Run the tasks in chunks, in-process for one worker, else on a spawned process pool.

    progress: progress(done_files, total_files) as files are written.
    """
    total, done = len(tasks), 0
    if progress is not None:
        progress(0, total)
    chunks = [tasks[i : i + CHUNK_CLIPS] for i in range(0, total, CHUNK_CLIPS)]
    if workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            done += _do_tasks(chunk)
            if progress is not None:
                progress(done, total)
        return
    # spawn, not fork: the caller may hold threads (torch, logging handlers) that fork would copy half-way
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=multiprocessing.get_context("spawn"))
    try:
        for future in as_completed([pool.submit(_do_tasks, chunk) for chunk in chunks]):
            done += future.result()
            if progress is not None:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
