"""``sedstudy prepare-desed``: the account printed for a :class:`PrepareReport`; the work is
``sed_core.data.desed_prepare.prepare_desed`` (checking a DESED download and resampling it to 16 kHz mono)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sed_core.data.desed_prepare import PrepareReport, prepare_desed
from sed_core.data.desed_tsv_copy import MISSING_LIST
from sed_core.data.metadata import LabelFixes
from sed_core.data.resample_audio import OUTPUT_SUBTYPE

__all__ = ["format_report", "prepare_desed"]

_SHOWN = 5  # names listed before a list is only counted


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


def _fixes_text(fixes: LabelFixes, report: PrepareReport) -> str:
    """What the labels policy changed in a split's TSV (by line) and where the fixed events are."""
    parts = []
    if fixes.clipped:
        lines = ("line " if len(fixes.clipped) == 1 else "lines ") + _names([str(line) for line in fixes.clipped])
        parts.append(f"{len(fixes.clipped)} event(s) ending past their clip's end by at most one frame (and the "
                     f"precision of a stated duration) clipped to its duration ({lines})")
    if fixes.merged:
        groups = _names(["+".join(str(line) for line in group) for group in fixes.merged])
        parts.append(f"{sum(map(len, fixes.merged))} overlapping same-class event(s) merged into "
                     f"{len(fixes.merged)} (lines {groups})")
    if report.out.resolve() == report.source.resolve():
        where = "the downloaded TSV is kept as is; the loaders apply the same fixes when they read it"
    else:
        where = "the written TSV holds the fixed events" if not report.dry_run else "the TSV would be written fixed"
    return f"  labels fixed: {'; '.join(parts)}; {where}"


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
        if s.coverage is not None:
            usable, official = s.coverage
            lacking = official - usable
            lines.append(f"  coverage {usable:,} / {official:,} clips of the official DESED list"
                         + ("" if not lacking else f" ({lacking:,} missing: published numbers "
                                                   "on this copy are not directly comparable)"))
            if s.not_in_copy:
                where = "would be listed in" if r.dry_run else "listed in"
                listed = _rel(r.out / MISSING_LIST, r.out)
                lines.append(f"  not in this copy: {_names(s.not_in_copy)} ({where} {listed})")
        duration = f"{s.seconds[0]:.2f}-{s.seconds[1]:.2f} s, {s.seconds[2] / 3600:.2f} h" if s.seconds else "-"
        rates = _counts(s.sample_rates, lambda rate: f"{rate} Hz")
        lines.append(f"  sample rates {rates}; channels {_counts(s.channels, _channels)}; durations {duration}")
        lines.append(f"  {verbs[0]} {s.resampled}, {verbs[1]} {s.copied}, {verbs[2]} {s.skipped}")
        if s.fixes:
            lines.append(_fixes_text(s.fixes, r))
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
