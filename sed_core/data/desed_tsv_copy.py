"""The metadata a prepared DESED copy gets: the downloaded TSVs copied (less the rows of clips without audio when
asked), never overwriting a differing file, and the list of official clips the copy lacks."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

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


def plan_tsv_copies(
    copies: Iterable[tuple[Path, set[str]]], source: Path, out: Path
) -> tuple[dict[Path, bytes], list[Path]]:
    """({output TSV: bytes to write}, [output TSVs already identical]) for (TSV under source, clips to drop) pairs.

    Each TSV goes to the same relative path under out. Raises DataError if an output TSV exists and differs.
    """
    writes: dict[Path, bytes] = {}
    unchanged: list[Path] = []
    conflicts: list[str] = []
    for src, dropped in copies:
        dst = out / src.relative_to(source)
        data = src.read_bytes()
        if dropped:
            data = without_rows(data, dropped)
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
