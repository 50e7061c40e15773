"""A table with the study's display names: factor columns, their levels and cell ids as the study names them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reports.fetch.display_names import DisplayNames
from reports.tables.model import Table


def relabel(table: Table, names: DisplayNames, factors: Sequence[str]) -> Table:
    """`table` with its factor columns titled by display name and their levels shown by display level, and a
    `cell` column's cell ids by the cells' display names."""
    columns = []
    for title in table.header:
        if title in factors:
            columns.append((names.factor(title), lambda text, f=title: names.level(f, text)))
        elif title == "cell":
            columns.append((title, names.cell))
        else:
            columns.append((title, None))
    rows = tuple(tuple(cell if rename is None else replace(cell, text=rename(cell.text))
                       for cell, (_, rename) in zip(row, columns)) for row in table.rows)
    return replace(table, header=tuple(title for title, _ in columns), rows=rows)
