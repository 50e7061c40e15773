"""``sedstudy prepare-desed``: check a real DESED download and resample it to 16 kHz mono in our layout.

DESED as downloaded (turpaultn/DESED, DESED_task ``generate_dcase_task4_2022.py``) holds 44.1 kHz audio in
``audio/train/weak``, ``audio/validation/validation``, ...; the DCASE baseline recipe resamples each folder into a
``*_16k`` twin, and those twins are the folders ``sed_core.data.layout.SPLITS`` reads. For every split this module
finds the TSV and the audio folder (the original, else its ``_16k`` twin), validates the TSV with the project's
metadata readers, matches TSV rows with audio files, reads every file's header (``soundfile.info``, no decoding),
then writes 16 kHz mono 16-bit WAVs with ``torchaudio.functional.resample`` (windowed sinc, deterministic) and
copies the TSVs.

Re-running changes nothing: an output that already has the target rate, one channel and the frame count the
resampler gives is skipped, and every file is written under a temporary name and renamed when complete, so an
interrupted run never leaves a file that looks done. Existing metadata is never overwritten.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sed_core.data.fingerprint import OFFICIAL_CLIPS
from sed_core.data.layout import SPLITS, SplitLayout
from sed_core.data.official_lists import missing_from_official
from sed_core.data.metadata import read_durations_tsv, read_strong_tsv, read_unlabelled_tsv, read_weak_tsv
from sed_core.errors import ConfigError, DataError, close_match_hint

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

OUTPUT_SUBTYPE = "PCM_16"  # DESED's own encoding; samples are rounded and clipped to int16
AUDIO_SUFFIXES = (".wav", ".flac")
PARTIAL_TAG = ".sedstudy-partial-"  # temporary files: .<name>.sedstudy-partial-<pid>, renamed when complete
REQUIRED_SPLITS = ("synthetic_train", "weak_train", "unlabelled_train", "synthetic_validation", "validation")
CHUNK_CLIPS = 32
MISSING_LIST = "missing_official_clips.tsv"  # written at the output root: split, filename of every clip lacking
_SHOWN = 5  # names listed before a list is only counted

_DOWNLOAD_HINT = {
    "synthetic_train": "python generate_dcase_task4_2022.py --only_synth",
    "synthetic_validation": "python generate_dcase_task4_2022.py --only_synth",
    "strong_train": "python generate_dcase_task4_2022.py --only_strong",
    "weak_train": "python generate_dcase_task4_2022.py --only_real",
    "unlabelled_train": "python generate_dcase_task4_2022.py --only_real",
    "validation": "python generate_dcase_task4_2022.py --only_real",
}


@dataclass(frozen=True)
class SplitReport:
    """What prepare-desed found and did for one split.

    Paths: ``tsv`` and ``audio_dir`` are the sources used, ``out_audio_dir`` where the 16 kHz files go.
    missing: TSV clips without an audio file; extra: audio files the TSV does not list (left out);
    unreadable: files whose header soundfile cannot read, or that hold no samples (not prepared).
    not_in_copy: clips of the split's official DESED list (shipped with sedstudy) that this copy cannot use
        (not in its TSV, no audio, or unreadable), sorted; None for splits without a shipped list.
    sample_rates / channels: counts over the readable clips. resampled (or downmixed), copied (already at the
    target rate and mono), skipped (a correct output was already there): in a dry run, what a run would do.
    """

    name: str
    tsv: Path
    audio_dir: Path
    out_audio_dir: Path
    clips: int
    found: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    unreadable: tuple[str, ...]
    sample_rates: Mapping[int, int]
    channels: Mapping[int, int]
    seconds: tuple[float, float, float] | None  # (min, max, total) over readable clips
    resampled: int
    copied: int
    skipped: int
    not_in_copy: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PrepareReport:
    """The outcome of :func:`prepare_desed`: one :class:`SplitReport` per split found, in layout order."""

    source: Path
    out: Path
    sample_rate: int
    dry_run: bool
    drop_missing: bool
    splits: tuple[SplitReport, ...]
    absent: Mapping[str, str]  # optional split -> what was looked for
    tsv_written: tuple[Path, ...]
    tsv_unchanged: tuple[Path, ...]
    partials_removed: int

    @property
    def complete(self) -> bool:
        """True when every listed clip has readable audio (or was dropped from the written TSVs)."""
        return self.drop_missing or not any(s.missing or s.unreadable for s in self.splits)


@dataclass(frozen=True)
class _Task:
    """One output file to write: resampled (and downmixed) from src, or copied byte for byte."""

    src: Path
    dst: Path
    resample: bool
    sample_rate: int


@dataclass(frozen=True)
class _Plan:
    report: SplitReport
    layout: SplitLayout
    durations_tsv: Path | None
    tasks: tuple[_Task, ...]


def prepare_desed(
    source: Path,
    out: Path | None = None,
    *,
    sample_rate: int = 16000,
    workers: int = 1,
    dry_run: bool = False,
    progress: Progress | None = None,
    splits: Sequence[str] | None = None,
    drop_missing: bool = False,
) -> PrepareReport:
    """Check the DESED download at ``source`` and write its splits at ``sample_rate`` mono under ``out``.

    out: dataset root to write in the ``sed_core.data.layout`` layout; None writes the ``*_16k`` folders beside
        the downloaded ones (in place). Existing correct outputs are kept; differing existing TSVs raise.
    splits: the splits to prepare, each required; None prepares every split, requiring all but strong_train
        (AudioSet-strong is a separate, optional download).
    drop_missing: write TSVs without the rows of clips that have no readable audio, so the output loads with
        ``load_split``; needs an ``out`` other than ``source``, since the downloaded TSVs are never rewritten.
    progress: progress(done_files, total_files) as files are written.
    Raises DataError naming the path and the fix when a required split is missing or a TSV is malformed, before
    anything is written; ConfigError for bad arguments.
    """
    source = Path(source)
    out = source if out is None else Path(out)
    names, required = _selected_splits(splits)
    _check_arguments(sample_rate, workers)
    if not source.is_dir():
        raise DataError(f"{source}: not a folder; expected a DESED dataset root holding audio/ and metadata/")
    if drop_missing and out.resolve() == source.resolve():
        raise ConfigError(
            "drop_missing writes TSVs without the clips that lack audio, which would overwrite the downloaded "
            f"metadata in {source}; pass another output folder (--out DIR)"
        )
    located, absent = _locate_splits(source, names, required)
    plans: list[_Plan] = []
    errors: list[str] = []
    for name, (tsv, audio_dir) in located.items():
        try:
            plans.append(_plan_split(name, tsv, audio_dir, source, out, sample_rate))
        except DataError as err:
            errors.append(str(err))
    if errors:
        raise DataError(f"{len(errors)} split(s) of {source} have invalid metadata:\n" + "\n".join(errors))
    writes, unchanged = _plan_tsvs(plans, source, out, drop_missing)

    partials = 0
    if not dry_run:
        partials = _remove_partials({p.report.out_audio_dir for p in plans})
        _run_tasks([t for p in plans for t in p.tasks], workers, progress)
        for dst, data in writes.items():
            _write_atomic(dst, data)
        missing_list = _missing_list([p.report for p in plans])
        if not (out / MISSING_LIST).is_file() or (out / MISSING_LIST).read_bytes() != missing_list:
            _write_atomic(out / MISSING_LIST, missing_list)
        log.info("prepared %d split(s) of %s in %s", len(plans), source, out)
    return PrepareReport(
        source=source,
        out=out,
        sample_rate=sample_rate,
        dry_run=dry_run,
        drop_missing=drop_missing,
        splits=tuple(p.report for p in plans),
        absent=absent,
        tsv_written=tuple(writes),
        tsv_unchanged=tuple(unchanged),
        partials_removed=partials,
    )


def source_audio_dirs(layout: SplitLayout, root: Path) -> tuple[Path, Path]:
    """Folders that may hold a split's audio: the downloaded original (e.g. ``audio/train/weak``), then its
    ``_16k`` twin (``audio/train/weak_16k``, the DESED_task recipe's output and our layout's folder)."""
    twin = layout.audio_path(root)
    return twin.with_name(twin.name.removesuffix("_16k")), twin


def resampled_length(frames: int, orig_rate: int, new_rate: int) -> int:
    """Frames ``torchaudio.functional.resample`` returns for ``frames`` input frames.

    torchaudio cuts its output to ceil(new * frames / orig) (rates divided by their gcd) computed in float32, which
    is one less than the exact ceiling for some lengths; this mirrors it so finished files are recognised.
    """
    if orig_rate == new_rate:
        return frames
    gcd = math.gcd(orig_rate, new_rate)
    return int(np.ceil(np.float32((new_rate // gcd) * frames / (orig_rate // gcd))))


def _selected_splits(splits: Sequence[str] | None) -> tuple[list[str], set[str]]:
    """(split names in layout order, the required ones)."""
    if splits is None:
        return list(SPLITS), set(REQUIRED_SPLITS)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(
            f"unknown split {unknown[0]!r}{close_match_hint(unknown[0], SPLITS)}; expected some of "
            f"{', '.join(SPLITS)}"
        )
    if not splits:
        raise ConfigError(f"splits is empty; expected some of {', '.join(SPLITS)} (or None for all)")
    return [s for s in SPLITS if s in splits], set(splits)


def _check_arguments(sample_rate: int, workers: int) -> None:
    for name, value in (("sample_rate", sample_rate), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def _list_audio(folder: Path) -> set[str]:
    """Names of the audio files in folder (hidden files, such as partial writes, excluded)."""
    with os.scandir(folder) as entries:
        return {
            e.name
            for e in entries
            if not e.name.startswith(".") and e.name.lower().endswith(AUDIO_SUFFIXES) and e.is_file()
        }


def _locate_splits(
    source: Path, names: Iterable[str], required: set[str]
) -> tuple[dict[str, tuple[Path, Path]], dict[str, str]]:
    """{split: (tsv, audio folder)} of the splits found, and {optional split: what was looked for} of the others.

    Raises DataError for every required split without a TSV or without an audio folder holding audio files.
    """
    located: dict[str, tuple[Path, Path]] = {}
    absent: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        layout = SPLITS[name]
        tsv = layout.tsv_path(source)
        assert tsv is not None, f"split {name} has no TSV in the layout"
        folders = source_audio_dirs(layout, source)
        with_audio = [f for f in folders if f.is_dir() and _list_audio(f)]
        if tsv.is_file() and with_audio:
            located[name] = (tsv, with_audio[0])
            continue
        lacking = []
        if not tsv.is_file():
            lacking.append(f"metadata {tsv} (not found)")
        if not with_audio:
            state = "empty" if any(f.is_dir() for f in folders) else "not found"
            lacking.append(f"audio in {folders[0]} or {folders[1]} ({state})")
        looked = " and ".join(lacking)
        if name in required:
            problems.append(
                f"split {name!r}: looked for {looked}; download it (DESED_task recipe: {_DOWNLOAD_HINT[name]}) "
                "or prepare the other splits only (--splits)"
            )
        else:
            absent[name] = looked
    if problems:
        raise DataError(f"{source}: {len(problems)} required split(s) missing:\n" + "\n".join(problems))
    return located, absent


def _read_tsv_filenames(layout: SplitLayout, tsv: Path) -> tuple[str, ...]:
    """Validate a split's TSV with the project's readers (errors name file and line); its clips in file order."""
    if layout.labels == "strong":
        return read_strong_tsv(tsv, on_overlap="merge").filenames
    if layout.labels == "weak":
        return read_weak_tsv(tsv).filenames
    return read_unlabelled_tsv(tsv)


def _header(path: Path) -> tuple[int, int, int] | None:
    """(sample rate, channels, frames) from the file header, or None if unreadable or empty."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    return (info.samplerate, info.channels, info.frames) if info.frames > 0 else None


def _is_prepared(path: Path, sample_rate: int, frames: int) -> bool:
    """An existing output with the target rate, one channel and the expected frame count."""
    return path.is_file() and _header(path) == (sample_rate, 1, frames)


def _plan_split(name: str, tsv: Path, audio_dir: Path, source: Path, out: Path, sample_rate: int) -> _Plan:
    """Check one split's metadata and audio headers, and decide what to write for each clip."""
    layout = SPLITS[name]
    filenames = _read_tsv_filenames(layout, tsv)
    durations_tsv = layout.durations_path(source)
    if durations_tsv is not None and durations_tsv.is_file():
        read_durations_tsv(durations_tsv)
    else:
        durations_tsv = None
    listed = _list_audio(audio_dir)
    in_tsv = set(filenames)
    missing = tuple(f for f in filenames if f not in listed)
    extra = tuple(sorted(listed - in_tsv))
    out_dir = layout.audio_path(out)
    unreadable: list[str] = []
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    seconds: list[float] = []
    tasks: list[_Task] = []
    skipped = 0
    for filename in filenames:
        if filename not in listed:
            continue
        src = audio_dir / filename
        header = _header(src)
        if header is None:
            unreadable.append(filename)
            continue
        rate, n_channels, frames = header
        rates[rate] += 1
        channels[n_channels] += 1
        seconds.append(frames / rate)
        dst = out_dir / filename
        if _is_prepared(dst, sample_rate, resampled_length(frames, rate, sample_rate)):
            skipped += 1
        else:
            tasks.append(_Task(src, dst, resample=rate != sample_rate or n_channels != 1, sample_rate=sample_rate))
    resampled = sum(t.resample for t in tasks)
    report = SplitReport(
        name=name,
        tsv=tsv,
        audio_dir=audio_dir,
        out_audio_dir=out_dir,
        clips=len(filenames),
        found=len(filenames) - len(missing),
        missing=missing,
        extra=extra,
        unreadable=tuple(unreadable),
        sample_rates=dict(sorted(rates.items())),
        channels=dict(sorted(channels.items())),
        seconds=(min(seconds), max(seconds), math.fsum(seconds)) if seconds else None,
        resampled=resampled,
        copied=len(tasks) - resampled,
        skipped=skipped,
        not_in_copy=missing_from_official(name, in_tsv - set(missing) - set(unreadable)),
    )
    return _Plan(report, layout, durations_tsv, tuple(tasks))


def _missing_list(reports: Sequence[SplitReport]) -> bytes:
    """A TSV of the official clips each split lacks (``split  filename``), the list to ask the organisers for."""
    rows = ["split\tfilename"] + [f"{r.name}\t{f}" for r in reports for f in (r.not_in_copy or ())]
    return ("\n".join(rows) + "\n").encode()


def _without_rows(data: bytes, dropped: set[str]) -> bytes:
    """A TSV's bytes without the data rows whose first field is in dropped; header and other rows unchanged."""
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines[1:] if line.split(b"\t", 1)[0].strip().decode("utf-8") not in dropped]
    return b"".join(lines[:1] + kept)


def _plan_tsvs(
    plans: Sequence[_Plan], source: Path, out: Path, drop_missing: bool
) -> tuple[dict[Path, bytes], list[Path]]:
    """({output TSV: bytes to write}, [output TSVs already identical]); raises if an output TSV differs."""
    writes: dict[Path, bytes] = {}
    unchanged: list[Path] = []
    conflicts: list[str] = []
    for plan in plans:
        dropped = set(plan.report.missing) | set(plan.report.unreadable) if drop_missing else set()
        for src in (plan.report.tsv, plan.durations_tsv):
            if src is None:
                continue
            dst = out / src.relative_to(source)
            data = src.read_bytes()
            if dropped:
                data = _without_rows(data, dropped)
            if dst.resolve() == src.resolve() or (dst.is_file() and dst.read_bytes() == data):
                unchanged.append(dst)
            elif dst.exists():
                conflicts.append(
                    f"{dst}: exists and differs from {src}{' less the clips without audio' if dropped else ''}"
                )
            else:
                writes[dst] = data
    if conflicts:
        raise DataError(
            "prepare-desed never overwrites metadata, but " + "; ".join(conflicts)
            + "; delete the file(s) or choose another output folder"
        )
    return writes, unchanged


def _remove_partials(folders: Iterable[Path]) -> int:
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


def _write_atomic(dst: Path, data: bytes) -> None:
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


def _do_tasks(tasks: Sequence[_Task]) -> int:
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


def _run_tasks(tasks: list[_Task], workers: int, progress: Progress | None) -> None:
    """Run the tasks in chunks, in-process for one worker, else on a spawned process pool."""
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


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


def _counts(counts: Mapping[int, int], label: Callable[[int], str]) -> str:
    return ", ".join(f"{label(key)} x{n}" for key, n in counts.items()) or "-"


def _channels(n: int) -> str:
    return {1: "mono", 2: "stereo"}.get(n, f"{n}-channel")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def format_report(report: PrepareReport) -> str:
    """A plain-text account of a :class:`PrepareReport`: per split what was found and what was (or would be)
    written, then the TSVs and warnings with their fixes."""
    r = report
    verbs = ("to resample", "to copy", "already done") if r.dry_run else ("resampled", "copied", "skipped")
    lines = [
        f"prepare-desed {r.source} -> {r.out}: {r.sample_rate} Hz mono {OUTPUT_SUBTYPE} WAV"
        + (" (dry run: nothing written)" if r.dry_run else "")
    ]
    warnings: list[str] = []
    for s in r.splits:
        lines.append(f"{s.name}: {_rel(s.tsv, r.source)}")
        lines.append(f"  audio {_rel(s.audio_dir, r.source)} -> {_rel(s.out_audio_dir, r.out)}")
        lines.append(
            f"  clips in TSV {s.clips}, audio found {s.found}, missing {len(s.missing)}, extra {len(s.extra)}, "
            f"unreadable {len(s.unreadable)}"
        )
        official = OFFICIAL_CLIPS.get(s.name)
        if official is not None:
            usable = s.found - len(s.unreadable)
            lacking = official - usable if s.not_in_copy is None else len(s.not_in_copy)
            lines.append(f"  coverage {official - lacking:,} / {official:,} clips of the official DESED list"
                         + ("" if not lacking else f" ({lacking:,} missing: published numbers "
                                                   "on this copy are not directly comparable)"))
            if s.not_in_copy:
                where = "would be listed in" if r.dry_run else "listed in"
                lines.append(f"  not in this copy: {_names(s.not_in_copy)} ({where} {_rel(r.out / MISSING_LIST, r.out)})")
        duration = f"{s.seconds[0]:.2f}-{s.seconds[1]:.2f} s, {s.seconds[2] / 3600:.2f} h" if s.seconds else "-"
        rates = _counts(s.sample_rates, lambda rate: f"{rate} Hz")
        lines.append(f"  sample rates {rates}; channels {_counts(s.channels, _channels)}; durations {duration}")
        lines.append(f"  {verbs[0]} {s.resampled}, {verbs[1]} {s.copied}, {verbs[2]} {s.skipped}")
        if s.missing:
            lines.append(f"  missing: {_names(s.missing)}")
        if s.unreadable:
            lines.append(f"  unreadable: {_names(s.unreadable)}")
        if s.extra:
            lines.append(f"  extra (not in the TSV, left out): {_names(s.extra)}")
        lacking = len(s.missing) + len(s.unreadable)
        if lacking and not r.drop_missing:
            warnings.append(
                f"{s.name}: {lacking} of {s.clips} clip(s) have no readable audio, so load_split refuses the split; "
                "download them, or run again with --drop-missing --out DIR to write TSVs without them"
            )
        elif lacking:
            lines.append(f"  {lacking} clip(s) without readable audio left out of the written TSV")
    for name, looked in r.absent.items():
        lines.append(f"{name}: not found (optional), looked for {looked}")
        warnings.append(f"{name}: absent; set data.batch.{name}=0 in configs that would read it")
    tsv_verb = "to write" if r.dry_run else "written"
    lines.append(f"TSVs: {len(r.tsv_written)} {tsv_verb}, {len(r.tsv_unchanged)} already in place")
    if r.partials_removed:
        lines.append(f"removed {r.partials_removed} partial file(s) left by an interrupted run")
    if r.complete and not r.dry_run:
        lines.append(f"ready: train on it with data.root={r.out}")
    lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines)
