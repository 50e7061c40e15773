"""Check a real DESED download and resample it to 16 kHz mono in our layout (``sedstudy prepare-desed``).

For every split this finds the TSV and the audio folder (``desed_download``), validates the TSV with the
project's metadata readers, matches TSV rows with audio files, reads every file's header (``soundfile.info``, no
decoding), then writes 16 kHz mono 16-bit WAVs with ``torchaudio.functional.resample`` (windowed sinc,
deterministic; ``resample_audio``) and copies the TSVs (``desed_tsv_copy``).

Strong labels go through the loaders' own policy for defective events (``sed_core.data.splits.read_strong_split``):
an event past its clip's end by more than one frame is refused before anything is written; the events it clips or
merges are rewritten in the copied TSV, so the prepared copy holds them fixed.

Re-running changes nothing: an output that already has the target rate, one channel and the frame count the
resampler gives is skipped, and every file is written under a temporary name and renamed when complete, so an
interrupted run never leaves a file that looks done. Existing metadata is never overwritten.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sed_core.data.clip_ends import DEFAULT_FRAME, FeatureFrame
from sed_core.data.desed_download import list_audio, locate_splits, selected_splits
from sed_core.data.desed_tsv_copy import MISSING_LIST, TsvCopy, missing_list_tsv, plan_tsv_copies
from sed_core.data.fingerprint import OFFICIAL_CLIPS
from sed_core.data.layout import SPLITS, SplitLayout
from sed_core.data.metadata import LabelFixes, read_durations_tsv, read_unlabelled_tsv, read_weak_tsv
from sed_core.data.official_lists import missing_from_official
from sed_core.data.resample_audio import (
    FileTask,
    Progress,
    audio_header,
    is_prepared,
    needs_conversion,
    remove_partials,
    resampled_length,
    run_tasks,
    write_atomic,
)
from sed_core.data.splits import read_strong_split
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)


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
    fixes: the events of a strong TSV clipped to their clip's end or merged (by line of ``tsv``).
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
    fixes: LabelFixes = LabelFixes()

    @property
    def coverage(self) -> tuple[int, int] | None:
        """(clips this copy can use, clips in DCASE 2022 Task 4's official split); None for a split without an
        official size. Without a shipped list of ids, every usable clip counts as official."""
        official = OFFICIAL_CLIPS.get(self.name)
        if official is None:
            return None
        usable = self.found - len(self.unreadable)
        lacking = official - usable if self.not_in_copy is None else len(self.not_in_copy)
        return official - lacking, official


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
class _Plan:
    report: SplitReport
    durations_tsv: Path | None
    tasks: tuple[FileTask, ...]


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
    names, required = selected_splits(splits)
    _check_arguments(sample_rate, workers)
    if not source.is_dir():
        raise DataError(f"{source}: not a folder; expected a DESED dataset root holding audio/ and metadata/")
    if drop_missing and out.resolve() == source.resolve():
        raise ConfigError(
            "drop_missing writes TSVs without the clips that lack audio, which would overwrite the downloaded "
            f"metadata in {source}; pass another output folder (--out DIR)"
        )
    located, absent = locate_splits(source, names, required)
    plans: list[_Plan] = []
    errors: list[str] = []
    for name, (tsv, audio_dir) in located.items():
        try:
            plans.append(_plan_split(name, tsv, audio_dir, source, out, sample_rate))
        except DataError as err:
            errors.append(str(err))
    if errors:
        raise DataError(f"{len(errors)} split(s) of {source} have invalid metadata:\n" + "\n".join(errors))
    writes, unchanged = plan_tsv_copies(_tsv_copies(plans, drop_missing), source, out)

    partials = 0
    if not dry_run:
        partials = remove_partials({p.report.out_audio_dir for p in plans})
        run_tasks([t for p in plans for t in p.tasks], workers, progress)
        for dst, data in writes.items():
            write_atomic(dst, data)
        missing_list = missing_list_tsv({p.report.name: p.report.not_in_copy or () for p in plans})
        if not (out / MISSING_LIST).is_file() or (out / MISSING_LIST).read_bytes() != missing_list:
            write_atomic(out / MISSING_LIST, missing_list)
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


def _check_arguments(sample_rate: int, workers: int) -> None:
    for name, value in (("sample_rate", sample_rate), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def _read_split_tsv(layout: SplitLayout, tsv: Path, durations_tsv: Path | None, audio_dir: Path,
                    frame: FeatureFrame) -> tuple[tuple[str, ...], LabelFixes]:
    """Validate a split's TSV as the loaders do (errors name file and line): its clips in file order, and the
    events the labels policy clipped or merged (strong splits; durations from ``durations_tsv`` or the audio)."""
    if layout.labels == "strong":
        labels = read_strong_split(tsv, classes=DESED_CLASSES, frame=frame, audio_dir=audio_dir, check_audio=False,
                                   durations_tsv=durations_tsv)
        return labels.filenames, labels.fixes
    if layout.labels == "weak":
        return read_weak_tsv(tsv).filenames, LabelFixes()
    return read_unlabelled_tsv(tsv), LabelFixes()


def _plan_split(name: str, tsv: Path, audio_dir: Path, source: Path, out: Path, sample_rate: int) -> _Plan:
    """Check one split's metadata and audio headers, and decide what to write for each clip.

    Events are checked against the clips' durations as the loaders will read the output: from the split's
    durations TSV, else from the length each clip gets at ``sample_rate``, with the default feature frame."""
    layout = SPLITS[name]
    durations_tsv = layout.durations_path(source)
    if durations_tsv is not None and durations_tsv.is_file():
        read_durations_tsv(durations_tsv)
    else:
        durations_tsv = None
    frame = FeatureFrame(DEFAULT_FRAME.hop_length, sample_rate)
    filenames, fixes = _read_split_tsv(layout, tsv, durations_tsv, audio_dir, frame)
    listed = list_audio(audio_dir)
    in_tsv = set(filenames)
    missing = tuple(f for f in filenames if f not in listed)
    extra = tuple(sorted(listed - in_tsv))
    out_dir = layout.audio_path(out)
    unreadable: list[str] = []
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    seconds: list[float] = []
    tasks: list[FileTask] = []
    skipped = 0
    for filename in filenames:
        if filename not in listed:
            continue
        src = audio_dir / filename
        header = audio_header(src)
        if header is None:
            unreadable.append(filename)
            continue
        rate, n_channels, frames, _ = header
        rates[rate] += 1
        channels[n_channels] += 1
        seconds.append(frames / rate)
        dst = out_dir / filename
        if is_prepared(dst, sample_rate, resampled_length(frames, rate, sample_rate)):
            skipped += 1
        else:
            tasks.append(FileTask(src, dst, resample=needs_conversion(header, sample_rate), sample_rate=sample_rate))
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
        fixes=fixes,
    )
    return _Plan(report, durations_tsv, tuple(tasks))


def _tsv_copies(plans: Sequence[_Plan], drop_missing: bool) -> list[TsvCopy]:
    """Each split's TSV (with its label fixes) and durations TSV, less the clips to drop, in split order."""
    copies: list[TsvCopy] = []
    for plan in plans:
        report = plan.report
        dropped = frozenset(report.missing) | frozenset(report.unreadable) if drop_missing else frozenset()
        copies.append(TsvCopy(report.tsv, dropped, report.fixes))
        if plan.durations_tsv is not None:
            copies.append(TsvCopy(plan.durations_tsv, dropped))
    return copies
