"""One table model (header, rows of cells with bold and links) rendered to Markdown, LaTeX and HTML alike."""
from __future__ import annotations

from dataclasses import dataclass, field

ALIGNMENTS = ("l", "c", "r")


@dataclass(frozen=True)
class TableCell:
    """One cell's text; `bold` marks the best value of a column; `link` is where the number comes from."""

    text: str
    bold: bool = False
    link: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Table:
    """A rendered table: `align` has one of l, c, r per column; `notes` are printed under the table."""

    name: str
    caption: str
    header: tuple[str, ...]
    align: tuple[str, ...]
    rows: tuple[tuple[TableCell, ...], ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.align) != len(self.header):
            raise ValueError(f"table {self.name!r}: expected one alignment per column ({len(self.header)}), "
                             f"but got {len(self.align)}")
        bad = sorted(set(self.align) - set(ALIGNMENTS))
        if bad:
            raise ValueError(f"table {self.name!r}: alignments must be among {ALIGNMENTS}, but got {bad}")
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"table {self.name!r}: row {i} has {len(row)} cells, expected {len(self.header)}")
