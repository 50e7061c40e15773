"""Building a whole synthetic dataset: every split of ``layout.SPLITS``, its TSVs and the manifest.

Clips are rendered in chunks, in-process or on a process pool; the bytes do not depend on ``workers`` because
each clip has its own generator. The build goes to a hidden temporary folder beside ``out`` that is renamed to
``out`` only when complete, so an interrupted build never leaves a folder that looks like a dataset.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sed_core.data.layout import SPLITS
from sed_core.data.synth.manifest import MANIFEST_NAME, check_existing, encode_manifest, sha256_bytes
from sed_core.data.synth.presets import SynthPreset, resolve_preset
from sed_core.data.synth.scene import Event, render_clip
from sed_core.data.synth.seeding import check_seed
from sed_core.data.synth.writers import durations_tsv, encode_wav, strong_tsv, unlabelled_tsv, weak_tsv
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CHUNK_CLIPS = 16

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClipRecord:
    """What a worker sends back for one written clip: its labels and the sha256 of its WAV."""

    filename: str
    duration: float
    events: tuple[Event, ...]
    tags: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class _Chunk:
    preset: SynthPreset
    seed: int
    split: str
    start: int
    stop: int
    audio_dir: Path


def _render_chunk(chunk: _Chunk) -> list[ClipRecord]:
    """Render and write clips [start, stop) of a split; runs in a worker process or in-process."""
    records = []
    for index in range(chunk.start, chunk.stop):
        clip = render_clip(chunk.preset, chunk.split, index, chunk.seed)
        data = encode_wav(clip.audio)
        (chunk.audio_dir / clip.filename).write_bytes(data)
        records.append(ClipRecord(clip.filename, clip.duration, clip.events, clip.tags, sha256_bytes(data)))
    return records


def _run_chunks(chunks: list[_Chunk], workers: int, progress: Progress | None) -> list[list[ClipRecord]]:
    """Results in chunk order, rendered by ``workers`` processes (in-process for 1)."""
    total = sum(c.stop - c.start for c in chunks)
    done = 0
    if progress is not None:
        progress(0, total)
    results: list[list[ClipRecord] | None] = [None] * len(chunks)
    if workers == 1:
        for i, chunk in enumerate(chunks):
            results[i] = _render_chunk(chunk)
            done += chunk.stop - chunk.start
            if progress is not None:
                progress(done, total)
    else:
        # spawn, not fork: the caller may hold threads (torch, logging handlers) that fork would copy half-way
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context)
        try:
            futures = {pool.submit(_render_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += chunks[i].stop - chunks[i].start
                if progress is not None:
                    progress(done, total)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    assert all(r is not None for r in results), "every chunk must have reported"
    return results  # type: ignore[return-value]


def _split_stats(records: list[ClipRecord], clip_seconds: float) -> dict[str, Any]:
    per_class = {c: 0 for c in DESED_CLASSES}
    for r in records:
        for e in r.events:
            per_class[e.label] += 1
    return {
        "clips": len(records),
        "events": sum(per_class.values()),
        "events_per_class": per_class,
        "clips_without_events": sum(not r.events for r in records),
        "short_clips": sum(r.duration < clip_seconds for r in records),
    }


def _build(preset: SynthPreset, seed: int, root: Path, workers: int, progress: Progress | None) -> None:
    sizes = preset.split_sizes()
    chunks = []
    for split, layout in SPLITS.items():
        audio_dir = layout.audio_path(root)
        audio_dir.mkdir(parents=True)
        chunks += [
            _Chunk(preset, seed, split, s, min(s + CHUNK_CLIPS, sizes[split]), audio_dir)
            for s in range(0, sizes[split], CHUNK_CLIPS)
        ]
    results = _run_chunks(chunks, workers, progress)

    files: dict[str, str] = {}
    stats: dict[str, Any] = {}

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[path.relative_to(root).as_posix()] = sha256_bytes(data)

    for split, layout in SPLITS.items():
        records = [r for chunk, res in zip(chunks, results) if chunk.split == split for r in res]
        audio_rel = layout.audio_path(root).relative_to(root).as_posix()
        files.update({f"{audio_rel}/{r.filename}": r.sha256 for r in records})
        table = {"strong": strong_tsv, "weak": weak_tsv, "none": unlabelled_tsv}[layout.labels]
        tsv_path = layout.tsv_path(root)
        if tsv_path is not None:
            write(tsv_path, table(records))
        durations_path = layout.durations_path(root)
        if durations_path is not None:
            write(durations_path, durations_tsv(records))
        stats[split] = _split_stats(records, preset.clip_seconds)
    (root / MANIFEST_NAME).write_bytes(encode_manifest(preset, seed, stats, files))


def generate_dataset(
    preset: str | SynthPreset,
    out: Path,
    *,
    seed: int = 0,
    workers: int = 1,
    progress: Progress | None = None,
) -> Path:
    """Write a DESED-shaped synthetic dataset under ``out`` and return the path of its manifest.

    An ``out`` that already holds this very build (same preset parameters, seed and generator version) is
    returned as is, after reading only its manifest. progress(done_clips, total_clips) is called as clips
    finish. Raises DataError if ``out`` holds another build or unrelated files, ConfigError for bad arguments.
    """
    preset = resolve_preset(preset)
    seed = check_seed(seed)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    out = Path(out)
    manifest_path = out / MANIFEST_NAME
    if manifest_path.exists() and check_existing(manifest_path, preset, seed):
        log.info("%s already holds synthetic preset %r (seed %d); not rebuilding", out, preset.name, seed)
        return manifest_path
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(
            f"{out}: exists and is neither empty nor a synthetic dataset (no {MANIFEST_NAME}); "
            "pass another --out or delete it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # not tempfile.mkdtemp: its 0700 mode would carry over to the dataset
    started = time.perf_counter()
    log.info("building synthetic preset %r (seed %d) with %d worker(s) in %s", preset.name, seed, workers, tmp)
    try:
        _build(preset, seed, tmp, workers, progress)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s in %.1f s", out, time.perf_counter() - started)
    return manifest_path
