"""The short names a study gave its factors, levels and cells (`search_spaces.display`, stored on the parent run
as tag `sedstudy.display` or artifact `display_names.json`), applied to the report's tables and figures.

A store written before display names existed has neither: every name then shows as recorded.
"""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from reports.artifacts import download
from reports.contract import DISPLAY_ARTIFACT, DISPLAY_TAG
from reports.table_model import Table

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class DisplayNames:
    factors: Mapping[str, str] = field(default_factory=dict)
    levels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cells: Mapping[str, str] = field(default_factory=dict)

    def factor(self, name: str) -> str:
        return self.factors.get(name, name)

    def level(self, factor: str, text: str) -> str:
        return self.levels.get(factor, {}).get(text, text)

    def cell(self, cell: str) -> str:
        return self.cells.get(cell, cell)


def parse_display(value: object) -> DisplayNames:
    """DisplayNames from the stored JSON object; anything malformed is ignored (names show as recorded)."""
    if not isinstance(value, dict):
        return DisplayNames()

    def texts(raw: object) -> dict[str, str]:
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    levels = value.get("levels")
    return DisplayNames(factors=texts(value.get("factors")), cells=texts(value.get("cells")),
                        levels={str(f): texts(v) for f, v in levels.items()} if isinstance(levels, dict) else {})


def read_display(client: MlflowClient, parent: Run) -> DisplayNames:
    """The parent run's display names: its tag, else its artifact, else none."""
    raw = parent.data.tags.get(DISPLAY_TAG)
    if raw is None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                raw = download(client, parent.info.run_id, DISPLAY_ARTIFACT, tmp).read_text()
        except (MlflowException, OSError):
            return DisplayNames()
    try:
        return parse_display(json.loads(raw))
    except ValueError:
        logger.warning("parent run %s: %s is not JSON; names show as recorded", parent.info.run_id, DISPLAY_TAG)
        return DisplayNames()


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

