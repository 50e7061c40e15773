"""The metadata a prepared DESED copy gets: the downloaded TSVs copied (less the rows of clips without audio when
asked, with the events the labels policy clipped or merged rewritten), never overwriting a differing file, and the
list of official clips the copy lacks."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sed_core.data.metadata import LabelFixes
from sed_core.errors import DataError

MISSING_LIST = "missing_official_clips.tsv"  # written at the output root: split, filename of every clip lacking


def missing_list_tsv(not_in_copy: Mapping[str, Sequence[str]]) -> bytes:
    """A TSV of the official clips each split lacks (``split  filename``), the list to ask the organisers for."""
    rows = ["split\tfilename"] + [f"{split}\t{f}" for split, names in not_in_copy.items() for f in names]
    return ("\n".join(rows) + "\n").encode()


def without_rows(data: bytes, dropped: set[str]) -> bytes:
    """A TSV's bytes without the data rows whose first field is in dropped; header and other rows unchanged."""
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines[1:] if line.split(b"\t", 1)[0].strip().decode("utf-8") not in dropped]
    return b"".join(lines[:1] + kept)


def with_fixes(data: bytes, fixes: LabelFixes) -> bytes:
    """A strong TSV's bytes with the events its reading clipped or merged (``StrongLabels.fixes``, by line): a
    rewritten line holds its fixed event, a line merged into an earlier one is left out, the rest is unchanged."""
    kept: list[bytes] = []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        if number in fixes.dropped:
            continue
        event = fixes.rewritten.get(number)
        if event is not None:
            ending = line[len(line.rstrip(b"\r\n")):]
            filename, onset, offset, label = event
            line = "\t".join((filename, _seconds(onset), _seconds(offset), label)).encode("utf-8") + ending
        kept.append(line)
    return b"".join(kept)


def _seconds(value: float) -> str:
    """DESED's 3 decimals where they hold the value exactly, else the shortest text that reads back as it."""
    text = f"{value:.3f}"
    return text if float(text) == value else repr(value)


@dataclass(frozen=True)
class TsvCopy:
    """A TSV under the source to copy: less the rows of ``dropped`` clips, with the label ``fixes`` applied."""

    src: Path
    dropped: frozenset[str] = frozenset()
    fixes: LabelFixes = field(default_factory=LabelFixes)

    def data(self) -> bytes:
        data = self.src.read_bytes()
        if self.fixes:
            data = with_fixes(data, self.fixes)  # by line of the source, so before any row is dropped
        return without_rows(data, set(self.dropped)) if self.dropped else data

    def changes(self) -> str:
        """' less the clips without audio', ' with its events clipped or merged', both, or ''."""
        changes = [text for text, done in (("less the clips without audio", self.dropped),
                                           ("with its events clipped or merged", self.fixes)) if done]
        return f" {' and '.join(changes)}" if changes else ""


def plan_tsv_copies(copies: Iterable[TsvCopy], source: Path, out: Path) -> tuple[dict[Path, bytes], list[Path]]:
    """({output TSV: bytes to write}, [output TSVs already identical]) for TSVs under source.

    Each TSV goes to the same relative path under out. Raises DataError if an output TSV exists and differs.
    An output that is its source (in place) is never rewritten: the loaders apply the same label fixes on reading.
    """
    writes: dict[Path, bytes] = {}
    unchanged: list[Path] = []
    conflicts: list[str] = []
    for copy in copies:
        dst = out / copy.src.relative_to(source)
        data = copy.data()
        if dst.resolve() == copy.src.resolve() or (dst.is_file() and dst.read_bytes() == data):
            unchanged.append(dst)
        elif dst.exists():
            conflicts.append(f"{dst}: exists and differs from {copy.src}{copy.changes()}")
        else:
            writes[dst] = data
    if conflicts:
        raise DataError(
            "prepare-desed never overwrites metadata, but " + "; ".join(conflicts)
            + "; delete the file(s) or choose another output folder"
        )
    return writes, unchanged
