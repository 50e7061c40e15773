"""Readers of the DESED metadata TSVs (strong, weak, unlabelled, durations), with row-level validation.

Formats (tab-separated, one header line; DCASE Task 4 / turpaultn/DESED ``data/real/metadata``):

- strong: ``filename onset offset event_label``; a row whose onset, offset and event_label are all empty marks
  a clip with no event (DESED ``validation.tsv`` has 15 of them);
- weak: ``filename event_labels`` with the labels comma-joined;
- unlabelled: ``filename``;
- durations: ``filename duration`` (seconds).

Every error is a :class:`DataError` whose message starts with ``<file>:<line>:`` (1-based, the header is line 1),
says what was expected and what was found, and how to fix it.

Defective strong labels have one policy (``read_strong_tsv`` with ``durations``; the split loaders and
``sedstudy prepare-desed`` both read through ``sed_core.data.splits.read_strong_split``): an event past its clip's
end by more than one frame, or starting at or past it, is refused; one past it by less is clipped to the duration
(``sed_core.data.clip_ends``); overlapping same-class events are merged. Every change is logged as a warning
naming the file and rows, and recorded in ``StrongLabels.fixes`` so a copied TSV can hold the fixed events.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sed_core.data.clip_ends import DEFAULT_FRAME, ClipDuration, ClipDurations, FeatureFrame, stated_resolution
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import DataError, close_match_hint

log = logging.getLogger(__name__)

STRONG_COLUMNS: tuple[str, ...] = ("filename", "onset", "offset", "event_label")
WEAK_COLUMNS: tuple[str, ...] = ("filename", "event_labels")
UNLABELLED_COLUMNS: tuple[str, ...] = ("filename",)
DURATION_COLUMNS: tuple[str, ...] = ("filename", "duration")

OverlapPolicy = Literal["raise", "merge"]
EventRow = tuple[str, float, float, str, int]  # filename, onset, offset, event_label, line

_MAX_LISTED = 5  # how many further errors / missing files a message names before it only counts


@dataclass(frozen=True)
class LabelFixes:
    """What reading a strong TSV changed, by line of the file (the header is line 1).

    rewritten: line -> the event (filename, onset, offset, event_label) that line now holds: a merged event (on
        the first line of its group) or an event clipped to its clip's end. dropped: lines merged into another.
    clipped: lines whose offset was clipped to the clip's duration. merged: the groups of lines merged, in file
        order, each led by the line that holds the merged event.
    """

    rewritten: Mapping[int, tuple[str, float, float, str]] = field(default_factory=dict)
    dropped: frozenset[int] = frozenset()
    clipped: tuple[int, ...] = ()
    merged: tuple[tuple[int, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rewritten or self.dropped)


@dataclass(frozen=True, eq=False)
class StrongLabels:
    """Strong (onset/offset) labels of one split.

    events: one row per event, columns filename (str), onset, offset (float seconds), event_label (str), in
        file order.
    filenames: every clip of the split in file order, unique, including clips without events.
    fixes: the events clipped or merged while reading (empty when the file needed none).
    """

    events: pd.DataFrame
    filenames: tuple[str, ...]
    fixes: LabelFixes = LabelFixes()

    @property
    def clips_without_events(self) -> tuple[str, ...]:
        """Clips listed in the file that have no event."""
        with_events = set(self.events["filename"])
        return tuple(f for f in self.filenames if f not in with_events)


@dataclass(frozen=True)
class WeakLabels:
    """Clip-level (weak) labels: ``labels[i]`` are the classes present in ``filenames[i]``, in file order."""

    filenames: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(zip(self.filenames, self.labels))


def read_strong_tsv(
    path: str | Path,
    *,
    classes: Sequence[str] = DESED_CLASSES,
    audio_dir: str | Path | None = None,
    on_overlap: OverlapPolicy = "raise",
    durations: ClipDurations | None = None,
    frame: FeatureFrame = DEFAULT_FRAME,
) -> StrongLabels:
    """Read a strong-label TSV (``filename onset offset event_label``).

    A row with onset, offset and event_label all empty lists a clip without events: it is in ``filenames``
    but adds no event. Format and label errors are reported first, then events past their clip's end, then
    overlaps.
    on_overlap: what to do with overlapping or touching events of the same class in one clip: "raise" a
        DataError naming both rows, or "merge" them into one event (a warning names the file and the rows).
    durations: when given, every event is checked against its clip's duration (clips of unknown duration are
        not): an onset at or past the end, or an offset past it by more than ``frame`` (plus the precision the
        duration is stated to, see ``sed_core.data.clip_ends``), is refused; an offset past it by less is
        clipped to the duration (a warning counts them, naming the file).
    audio_dir: when given, every clip must have ``audio_dir/<filename>``.
    """
    if on_overlap not in ("raise", "merge"):
        raise ValueError(f"on_overlap must be 'raise' or 'merge', got {on_overlap!r}")
    path = Path(path)
    errors = _Errors(path)
    filenames, rows = _parse_strong_rows(path, classes, errors)
    errors.raise_if_any()

    clipped: list[tuple[EventRow, ClipDuration]] = []  # each clipped event as read, and its clip's duration
    if durations is not None:
        rows = _check_clip_ends(rows, durations, frame, errors, clipped)
        errors.raise_if_any()
    merged: list[list[EventRow]] = []  # the rows of each group merged, the first holding the merged event
    rows = _resolve_overlaps(rows, on_overlap, errors, merged)
    errors.raise_if_any()

    if audio_dir is not None:
        _check_audio(path, filenames, Path(audio_dir))
    fixes = _fixes(rows, clipped, merged)
    _log_fixes(path, frame, clipped, merged, rows)
    events = pd.DataFrame(
        {
            "filename": pd.Series([r[0] for r in rows], dtype=object),
            "onset": pd.Series([r[1] for r in rows], dtype="float64"),
            "offset": pd.Series([r[2] for r in rows], dtype="float64"),
            "event_label": pd.Series([r[3] for r in rows], dtype=object),
        }
    )
    return StrongLabels(events=events, filenames=tuple(filenames), fixes=fixes)


def _parse_strong_rows(path: Path, classes: Sequence[str], errors: _Errors) -> tuple[dict[str, int], list[EventRow]]:
    """({filename: first line} of every clip in file order, the event rows); row errors go to ``errors``."""
    known = frozenset(classes)
    filenames: dict[str, int] = {}
    rows: list[EventRow] = []
    for line, (filename, onset_s, offset_s, label) in _read_rows(path, STRONG_COLUMNS):
        filenames.setdefault(filename, line)
        if not label:
            if onset_s or offset_s:
                errors.add(
                    line,
                    f"empty event_label but onset/offset given ({onset_s!r}, {offset_s!r}); expected a label, "
                    "or onset, offset and event_label all empty for a clip without events",
                )
            continue
        onset = _parse_seconds(onset_s, "onset", line, errors)
        offset = _parse_seconds(offset_s, "offset", line, errors)
        if onset is not None and offset is not None and offset <= onset:
            errors.add(
                line,
                f"offset {offset_s} <= onset {onset_s}; expected offset > onset "
                "(swap the columns or drop the zero-length event)",
            )
        if label not in known:
            errors.add(line, _unknown_label(label, classes))
        if onset is not None and offset is not None:
            rows.append((filename, onset, offset, label, line))
    return filenames, rows


def read_weak_tsv(
    path: str | Path,
    *,
    classes: Sequence[str] = DESED_CLASSES,
    audio_dir: str | Path | None = None,
) -> WeakLabels:
    """Read a weak-label TSV (``filename event_labels``, labels comma-joined, e.g. ``Dog,Speech``).

    A label repeated within one row (``Running_water,Running_water``, 3 rows of the real DESED weak.tsv) is
    kept once and the count dropped is logged. An empty event_labels field gives an empty tuple.
    """
    path = Path(path)
    errors = _Errors(path)
    known = frozenset(classes)
    first_line: dict[str, int] = {}
    filenames: list[str] = []
    labels: list[tuple[str, ...]] = []
    n_repeated = 0
    for line, (filename, joined) in _read_rows(path, WEAK_COLUMNS):
        if _check_unique(filename, line, first_line, errors):
            continue
        listed = [s.strip() for s in joined.split(",")] if joined else []
        clip_labels = tuple(dict.fromkeys(listed))  # real weak.tsv repeats a label in 3 rows: keep it once
        n_repeated += len(listed) - len(clip_labels)
        for label in clip_labels:
            if label not in known:
                errors.add(line, _unknown_label(label, classes))
        filenames.append(filename)
        labels.append(clip_labels)
    errors.raise_if_any()
    if n_repeated:
        log.info("%s: dropped %d repeated label(s) within a clip's event_labels", path, n_repeated)
    if audio_dir is not None:
        _check_audio(path, first_line, Path(audio_dir))
    return WeakLabels(filenames=tuple(filenames), labels=tuple(labels))


def read_unlabelled_tsv(path: str | Path, *, audio_dir: str | Path | None = None) -> tuple[str, ...]:
    """Read an unlabelled-clip list (``filename``); returns the filenames in file order."""
    path = Path(path)
    errors = _Errors(path)
    first_line: dict[str, int] = {}
    for line, (filename,) in _read_rows(path, UNLABELLED_COLUMNS):
        _check_unique(filename, line, first_line, errors)
    errors.raise_if_any()
    if audio_dir is not None:
        _check_audio(path, first_line, Path(audio_dir))
    return tuple(first_line)


def read_durations_tsv(path: str | Path) -> dict[str, float]:
    """Read a durations TSV (``filename duration``) into {filename: seconds}, in file order."""
    return {filename: d.seconds for filename, d in read_stated_durations(path).items()}


def read_stated_durations(path: str | Path) -> dict[str, ClipDuration]:
    """Read a durations TSV into {filename: ClipDuration}, each naming its row and the precision it is written to
    (0.1 s for ``9.3``): what events are checked against (``sed_core.data.clip_ends``)."""
    path = Path(path)
    errors = _Errors(path)
    first_line: dict[str, int] = {}
    durations: dict[str, ClipDuration] = {}
    for line, (filename, duration_s) in _read_rows(path, DURATION_COLUMNS):
        if _check_unique(filename, line, first_line, errors):
            continue
        duration = _parse_seconds(duration_s, "duration", line, errors)
        if duration is not None and duration == 0:
            errors.add(line, "duration 0; expected a clip duration > 0 seconds (remove the empty clip)")
        elif duration is not None:
            durations[filename] = ClipDuration(duration, f"{path}:{line}", stated_resolution(duration_s))
    errors.raise_if_any()
    return durations


class _Errors:
    """Collects row errors of one file so one DataError reports the first and counts the others."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        self.items.sort(key=lambda item: item[0])  # stable: errors of one line keep their order
        line, message = self.items[0]
        text = f"{self.path}:{line}: {message}"
        others = self.items[1:]
        if others:
            listed = "; ".join(f"line {ln}: {_first_clause(msg)}" for ln, msg in others[:_MAX_LISTED])
            more = f"; ... ({len(others) - _MAX_LISTED} not shown)" if len(others) > _MAX_LISTED else ""
            text += f"\n... and {len(others)} more error(s) in {self.path.name}: {listed}{more}"
        raise DataError(text)


def _first_clause(message: str) -> str:
    """The part of a message before its '; expected ...' explanation, to keep error summaries short."""
    return message.split("; expected", 1)[0]


def _read_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Yield (line number, stripped fields) of each data row after checking the header; blank lines skipped."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a TSV with columns {', '.join(columns)}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start}); "
                        f"expected a UTF-8 TSV: re-save it as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        yield from _rows(path, reader, columns)
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num + 1}: unreadable row ({err}); expected tab-separated fields "
                        f"{', '.join(columns)}") from None


def _rows(path: Path, reader: Any, columns: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """The header check and the data rows of an open TSV (see `_read_rows`)."""
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}:1: empty file; expected a header line: {'<TAB>'.join(columns)}")
    header = [h.strip() for h in header]
    if tuple(header) != columns:
        missing = [c for c in columns if c not in header]
        extra = [h for h in header if h not in columns]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(repr(c) for c in missing)}")
        if extra:
            hints = "".join(close_match_hint(h, columns) for h in extra[:1])
            detail.append(f"unexpected {', '.join(repr(h) for h in extra)}{hints}")
        if not detail:
            detail.append("wrong order")
        raise DataError(
            f"{path}:1: expected columns {', '.join(columns)} (tab-separated), found "
            f"{', '.join(header) or '(none)'}: {'; '.join(detail)}"
        )
    for fields in reader:
        line = reader.line_num
        if not fields or all(not s.strip() for s in fields):
            continue
        if len(fields) != len(columns):
            raise DataError(
                f"{path}:{line}: expected {len(columns)} tab-separated fields ({', '.join(columns)}), "
                f"found {len(fields)}: {fields!r}; check for spaces instead of tabs or a missing column"
            )
        stripped = tuple(s.strip() for s in fields)
        if not stripped[0]:
            raise DataError(f"{path}:{line}: empty filename; expected a clip filename such as 'Y...wav'")
        yield line, stripped


def _parse_seconds(text: str, column: str, line: int, errors: _Errors) -> float | None:
    """Parse a time in seconds >= 0; on failure record an error and return None."""
    try:
        value = float(text)
    except ValueError:
        errors.add(line, f"{column} {text!r} is not a number; expected seconds >= 0 such as '1.250'")
        return None
    if not math.isfinite(value) or value < 0:
        errors.add(line, f"{column} {text} is {'negative' if value < 0 else 'not finite'}; expected seconds >= 0")
        return None
    return value


def _unknown_label(label: str, classes: Sequence[str]) -> str:
    return (
        f"unknown label {label!r}{close_match_hint(label, classes)}; expected one of the {len(classes)} "
        f"classes: {', '.join(classes)}"
    )


def _check_unique(filename: str, line: int, first_line: dict[str, int], errors: _Errors) -> bool:
    """Record filename's first line; return True (and record an error) if it was seen before."""
    if filename in first_line:
        errors.add(
            line,
            f"duplicate filename {filename!r} (first at line {first_line[filename]}); expected each clip once "
            "(merge the rows into one)",
        )
        return True
    first_line[filename] = line
    return False


def _check_clip_ends(
    rows: list[EventRow], durations: ClipDurations, frame: FeatureFrame, errors: _Errors,
    clipped: list[tuple[EventRow, ClipDuration]],
) -> list[EventRow]:
    """The rows with offsets past their clip's end by at most the slack clipped to the duration (each row as read
    appended to ``clipped`` with its duration); an onset at or past the end, or an offset past the slack, is an
    error."""
    checked: list[EventRow] = []
    for row in rows:
        filename, onset, offset, label, line = row
        duration = durations.get(filename)
        if duration is None or offset <= duration.seconds:
            checked.append(row)
            continue
        where = f"clip {filename!r} lasts {duration.seconds:g} s ({duration.source})"
        if onset >= duration.seconds:
            errors.add(
                line,
                f"{label!r} event {onset:.3f}-{offset:.3f} starts at or past its clip's end: {where}; expected "
                "onset < duration (correct the onset and offset, or drop the row; if the clip is longer, "
                "correct its duration)",
            )
        elif offset - duration.seconds > duration.slack_s(frame):
            errors.add(
                line,
                f"{label!r} event {onset:.3f}-{offset:.3f} ends {offset - duration.seconds:.3f} s past its clip's "
                f"end: {where}; expected an offset past the end by at most {_slack_text(duration, frame)}, "
                "which is clipped to the duration (correct the offset, or the duration if the clip is longer)",
            )
        else:
            clipped.append((row, duration))
            checked.append((filename, onset, duration.seconds, label, line))
    return checked


def _slack_text(duration: ClipDuration, frame: FeatureFrame) -> str:
    """'one frame (...)', plus the duration's stated precision when it has one."""
    text = f"one frame ({frame})"
    if duration.resolution_s:
        text += f" plus the {duration.resolution_s:g} s the duration is written to"
    return text


def _resolve_overlaps(
    rows: list[EventRow], on_overlap: OverlapPolicy, errors: _Errors, merged_groups: list[list[EventRow]]
) -> list[EventRow]:
    """Find overlapping or touching same-class events of one clip; record an error per pair or merge them.

    rows: (filename, onset, offset, label, line) in file order. A merged event takes the position and line of
    the first row (in file order) of its group; the other rows keep file order. The rows of each merged group
    (first row first, then file order) are appended to ``merged_groups``.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (filename, _, _, label, _) in enumerate(rows):
        groups.setdefault((filename, label), []).append(i)
    merged: dict[int, EventRow] = {}
    dropped: set[int] = set()
    for (filename, label), idx in groups.items():
        if len(idx) < 2:
            continue
        idx.sort(key=lambda i: (rows[i][1], rows[i][2]))
        clusters: list[list[int]] = [[idx[0]]]
        reach = idx[0]  # the row of the current cluster that ends last
        for i in idx[1:]:
            onset, offset, line = rows[i][1], rows[i][2], rows[i][4]
            if onset > rows[reach][2]:
                clusters.append([i])
                reach = i
                continue
            if on_overlap == "raise":
                other = rows[reach]
                errors.add(
                    line,
                    f"{label!r} event {onset:.3f}-{offset:.3f} in clip {filename!r} "
                    f"{'touches' if onset == other[2] else 'overlaps'} the {label!r} event at line {other[4]} "
                    f"({other[1]:.3f}-{other[2]:.3f}); expected disjoint events of one class per clip "
                    "(pass on_overlap='merge' to merge them)",
                )
            clusters[-1].append(i)
            if offset > rows[reach][2]:
                reach = i
        for cluster in clusters:
            if len(cluster) > 1:
                cluster.sort()
                first = cluster[0]
                onset = min(rows[i][1] for i in cluster)
                offset = max(rows[i][2] for i in cluster)
                merged[first] = (filename, onset, offset, label, rows[first][4])
                dropped.update(cluster[1:])
                merged_groups.append([rows[i] for i in cluster])
    merged_groups.sort(key=lambda group: group[0][4])
    return [merged.get(i, row) for i, row in enumerate(rows) if i not in dropped]


def _fixes(rows: list[EventRow], clipped: list[tuple[EventRow, ClipDuration]], merged: list[list[EventRow]]
           ) -> LabelFixes:
    """The LabelFixes of the final rows, the clipped rows and the merged groups."""
    changed = {row[4] for row, _ in clipped} | {group[0][4] for group in merged}
    return LabelFixes(
        rewritten={row[4]: row[:4] for row in rows if row[4] in changed},
        dropped=frozenset(row[4] for group in merged for row in group[1:]),
        clipped=tuple(row[4] for row, _ in clipped),
        merged=tuple(tuple(row[4] for row in group) for group in merged),
    )


def _log_fixes(path: Path, frame: FeatureFrame, clipped: list[tuple[EventRow, ClipDuration]],
               merged: list[list[EventRow]], rows: list[EventRow]) -> None:
    """One warning for the clipped events and one for the merged ones of a file, naming the file and the rows."""
    if clipped:
        listed = "; ".join(f"line {row[4]}: {row[0]} {row[3]} offset {row[2]:.3f} -> {duration.seconds:g} s"
                           for row, duration in clipped[:_MAX_LISTED])
        more = f"; ... ({len(clipped) - _MAX_LISTED} more)" if len(clipped) > _MAX_LISTED else ""
        stated = ", plus the precision its stated duration is written to" if any(
            duration.resolution_s for _, duration in clipped) else ""
        log.warning("%s: clipped %d event offset(s) to their clip's duration, each past the clip's end by at most "
                    "one frame (%s)%s: %s%s", path, len(clipped), frame, stated, listed, more)
    if merged:
        final = {row[4]: row for row in rows}
        listed = "; ".join(_merged_text(path, group, final[group[0][4]]) for group in merged[:_MAX_LISTED])
        more = f"; ... ({len(merged) - _MAX_LISTED} more)" if len(merged) > _MAX_LISTED else ""
        n_dropped = sum(len(group) - 1 for group in merged)
        log.warning("%s: merged %d overlapping or touching same-class event(s) into their neighbours (rows merged, "
                    "their events, the merged event): %s%s", path, n_dropped, listed, more)


def _merged_text(path: Path, group: list[EventRow], result: EventRow) -> str:
    """'<file>:2+4: a.wav Dog 1.500-2.500 + 0.500-2.000 -> 0.500-2.500'."""
    lines = "+".join(str(row[4]) for row in group)
    parts = " + ".join(f"{row[1]:.3f}-{row[2]:.3f}" for row in group)
    return f"{path.name}:{lines}: {result[0]} {result[3]} {parts} -> {result[1]:.3f}-{result[2]:.3f}"


def _check_audio(path: Path, first_line: dict[str, int], audio_dir: Path) -> None:
    """Every listed clip must have an audio file in audio_dir."""
    if not audio_dir.is_dir():
        raise DataError(
            f"{path}: audio directory {audio_dir} not found; expected the folder holding the clips of this file"
        )
    present = {p.name for p in audio_dir.iterdir()}
    missing = [f for f in first_line if f not in present and not (audio_dir / f).is_file()]
    if missing:
        shown = ", ".join(missing[:_MAX_LISTED]) + (", ..." if len(missing) > _MAX_LISTED else "")
        raise DataError(
            f"{path}:{first_line[missing[0]]}: {len(missing)} of {len(first_line)} clip(s) have no audio file in "
            f"{audio_dir}: {shown}; expected {audio_dir}/<filename> for every row "
            "(add the missing audio or remove its rows)"
        )
