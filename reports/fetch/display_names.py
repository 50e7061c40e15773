"""The short names a study gave its factors, levels and cells (`search_spaces.display`, stored on the parent run
as tag `sedstudy.display` or artifact `display_names.json`), read for the report's tables and figures
(`reports.tables.relabel`).

A store written before display names existed has neither: every name then shows as recorded.
"""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from reports.contract import DISPLAY_ARTIFACT, DISPLAY_TAG
from reports.fetch.artifacts import download

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
