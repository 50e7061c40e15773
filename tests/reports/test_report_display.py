"""The study's display names (tag `sedstudy.display`) title the report's tables, LaTeX and figures."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlflow.tracking import MlflowClient

from reports.build import build_report
from reports.fetch.display_names import DisplayNames, parse_display
from reports.tables.model import Table, TableCell
from reports.tables.relabel import relabel

from .conftest import CELL_A, CELL_B, STUDY

DISPLAY = {"factors": {"model.pooling": "pooling", "training.mixup.probability": "mixup"},
           "levels": {"training.mixup.probability": {"0.5": "on", "0.0": "off"}},
           "cells": {CELL_A: "pooling=attention, mixup=on", CELL_B: "pooling=attention, mixup=off"}}


def test_relabel_renames_factor_columns_their_levels_and_cells_only() -> None:
    names = parse_display(DISPLAY)
    table = Table(name="t", caption="c", header=("model.pooling", "training.mixup.probability", "cell", "note"),
                  align=("l", "l", "l", "l"),
                  rows=((TableCell("attention"), TableCell("0.0", bold=True), TableCell(CELL_B), TableCell("0.5")),))
    shown = relabel(table, names, ["model.pooling", "training.mixup.probability"])
    assert shown.header == ("pooling", "mixup", "cell", "note")
    assert [c.text for c in shown.rows[0]] == ["attention", "off", "pooling=attention, mixup=off", "0.5"]
    assert shown.rows[0][1].bold  # only the text changes
    assert relabel(table, DisplayNames(), ["model.pooling"]) == table
    assert parse_display("not a mapping") == DisplayNames() and parse_display({"levels": 3}).levels == {}


def test_the_report_shows_the_display_names(store, tmp_path: Path) -> None:
    shutil.copy(store.root / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    MlflowClient(uri).set_tag(store.parent_run_id, "sedstudy.display", json.dumps(DISPLAY))
    paths = build_report(uri, STUDY, tmp_path / "report", clip_statistic=None)
    latex = paths.latex.read_text()
    assert "pooling & mixup & n" in latex and "model.pooling" not in latex
    assert "& off &" in latex and "& on &" in latex
    markdown = paths.markdown.read_text()
    assert "- Factors: pooling (`model.pooling`), mixup (`training.mixup.probability`)" in markdown
    assert f"- Baseline cell: pooling=attention, mixup=on (`{CELL_A}`)" in markdown
    assert "| pooling | mixup | n |" in markdown and "| attention | on | 3 |" in markdown  # the results table
    roles = markdown.split("## Student and teacher")[1].split("## ")[0]
    assert "| pooling=attention, mixup=off |" in roles and CELL_B.replace("|", "\\|") not in roles
