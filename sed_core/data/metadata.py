"""Readers of the DESED metadata TSVs (strong, weak, unlabelled, durations), with row-level validation.

Formats (tab-separated, one header line; DCASE Task 4 / turpaultn/DESED ``data/real/metadata``):

- strong: ``filename onset offset event_label``; a row whose onset, offset and event_label are all empty marks
  a clip with no event (DESED ``validation.tsv`` has 15 of them);
- weak: ``filename event_labels`` with the labels comma-joined;
- unlabelled: ``filename``;
- durations: ``filename duration`` (seconds).

Every error is a :class:`DataError` whose message starts with ``<file>:<line>:`` (1-based, the header is line 1),
says what was expected and what was found, and how to fix it.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import DataError, close_match_hint

log = logging.getLogger(__name__)

STRONG_COLUMNS: tuple[str, ...] = ("filename", "onset", "offset", "event_label")
WEAK_COLUMNS: tuple[str, ...] = ("filename", "event_labels")
UNLABELLED_COLUMNS: tuple[str, ...] = ("filename",)
DURATION_COLUMNS: tuple[str, ...] = ("filename", "duration")

OverlapPolicy = Literal["raise", "merge"]

_MAX_LISTED = 5  # how many further errors / missing files a message names before it only counts


@dataclass(frozen=True, eq=False)
class StrongLabels:
    """Strong (onset/offset) labels of one split.

    events: one row per event, columns filename (str), onset, offset (float seconds), event_label (str), in
        file order.
    filenames: every clip of the split in file order, unique, including clips without events.
    """

    events: pd.DataFrame
    filenames: tuple[str, ...]

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
) -> StrongLabels:
    """Read a strong-label TSV (``filename onset offset event_label``).

    A row with onset, offset and event_label all empty lists a clip without events: it is in ``filenames``
    but adds no event. Format and label errors are reported first; overlaps once those are fixed.
    on_overlap: what to do with overlapping or touching events of the same class in one clip: "raise" a
        DataError naming both rows, or "merge" them into one event (the count merged is logged).
    audio_dir: when given, every clip must have ``audio_dir/<filename>``.
    """
    if on_overlap not in ("raise", "merge"):
        raise ValueError(f"on_overlap must be 'raise' or 'merge', got {on_overlap!r}")
    path = Path(path)
    errors = _Errors(path)
    known = frozenset(classes)
    filenames: dict[str, int] = {}  # filename -> first line
    rows: list[tuple[str, float, float, str, int]] = []  # filename, onset, offset, label, line

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
    errors.raise_if_any()

    rows = _resolve_overlaps(rows, on_overlap, errors)
    errors.raise_if_any()

    if audio_dir is not None:
        _check_audio(path, filenames, Path(audio_dir))
    events = pd.DataFrame(
        {
            "filename": pd.Series([r[0] for r in rows], dtype=object),
            "onset": pd.Series([r[1] for r in rows], dtype="float64"),
            "offset": pd.Series([r[2] for r in rows], dtype="float64"),
            "event_label": pd.Series([r[3] for r in rows], dtype=object),
        }
    )
    return StrongLabels(events=events, filenames=tuple(filenames))


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
    path = Path(path)
    errors = _Errors(path)
    first_line: dict[str, int] = {}
    durations: dict[str, float] = {}
    for line, (filename, duration_s) in _read_rows(path, DURATION_COLUMNS):
        if _check_unique(filename, line, first_line, errors):
            continue
        duration = _parse_seconds(duration_s, "duration", line, errors)
        if duration is not None and duration == 0:
            errors.add(line, "duration 0; expected a clip duration > 0 seconds (remove the empty clip)")
        elif duration is not None:
            durations[filename] = duration
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


def _resolve_overlaps(
    rows: list[tuple[str, float, float, str, int]], on_overlap: OverlapPolicy, errors: _Errors
) -> list[tuple[str, float, float, str, int]]:
    """Find overlapping or touching same-class events of one clip; record an error per pair or merge them.

    rows: (filename, onset, offset, label, line) in file order. A merged event takes the position and line of
    the first row (in file order) of its group; the other rows keep file order.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (filename, _, _, label, _) in enumerate(rows):
        groups.setdefault((filename, label), []).append(i)
    merged: dict[int, tuple[str, float, float, str, int]] = {}
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
                first = min(cluster)
                onset = min(rows[i][1] for i in cluster)
                offset = max(rows[i][2] for i in cluster)
                merged[first] = (filename, onset, offset, label, rows[first][4])
                dropped.update(i for i in cluster if i != first)
    if on_overlap == "merge" and dropped:
        log.info("merged %d overlapping or touching same-class event(s) into their neighbours", len(dropped))
    return [merged.get(i, row) for i, row in enumerate(rows) if i not in dropped]


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
