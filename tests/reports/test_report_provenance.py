"""Provenance shown once when every run agrees and per cell where runs differ; cost summed per cell and study."""
from __future__ import annotations

import math

import pandas as pd

from reports.fetch.provenance import provenance_frame
from reports.fetch.records import TrialRecord
from reports.tables.provenance import cost_table, provenance_table

TAGS = {"sedstudy.code.commit": "0123456789abcdef", "sedstudy.code.dirty": "false", "sedstudy.data.kind": "desed",
        "sedstudy.data.sha256": "f" * 64, "sedstudy.data.coverage": "validation 1,093 / 1,168",
        "sedstudy.metric": "sed_scores_eval 0.0.4; PSDS1 ...", "sedstudy.environment": "AMD EPYC x2, no GPU"}


def record(run_id: str, *, energy: float | None = 0.002, cpu_measured: float = 0.0, **tags: str) -> TrialRecord:
    metrics = {"cost/wall_s": 1800.0, "cost/gpu_hours": 0.5, "cost/energy_measured": 1.0,
               "cost/cpu_energy_measured": cpu_measured, "cost/attempts": 1.0}
    if energy is not None:
        metrics["cost/energy_kwh"] = energy
    return TrialRecord(run_id, "FINISHED", 0, {**TAGS, **tags}, metrics)


def test_shared_values_once_and_differences_per_cell() -> None:
    records = [record("r1"), record("r2"), record("r3", **{"sedstudy.code.dirty": "true"})]
    runs = pd.DataFrame({"run_id": ["r1", "r2", "r3"], "cell": ["a", "a", "b"], "status": ["FINISHED"] * 3})
    frame = provenance_frame(records, runs)
    table, shared = provenance_table(frame, ["a", "b"])
    assert "Clips per split (of the official list): validation 1,093 / 1,168" in shared
    assert "Backbone checkpoint: not recorded" in shared
    frame = provenance_frame([record("r1", **{"sedstudy.backbone.sha256": "none (no SSL backbone)"}),
                              record("r2", **{"sedstudy.backbone.sha256": "ab" * 32})], runs.iloc[:2])
    assert list(frame["backbone"]) == ["none (no SSL backbone)", "sha256 abababababab"]
    assert table.header == ("cell", "Code") and [r[1].text for r in table.rows] == [
        "0123456789ab", "0123456789ab (dirty tree)"]


def test_cost_per_cell_and_for_the_study() -> None:
    records = [record("r1"), record("r2", energy=0.004), record("r3", energy=None)]
    runs = pd.DataFrame({"run_id": ["r1", "r2", "r3"], "cell": ["a", "a", "b"], "status": ["FINISHED"] * 3})
    table = cost_table(provenance_frame(records, runs), ["a", "b"])
    rows = {r[0].text: [c.text for c in r[1:]] for r in table.rows}
    assert rows["a"] == ["2 / 2", "1", "30", "1", "0.006", "3"]
    assert rows["b"] == ["1 / 1", "0.5", "30", "0.5", "–", "–"]
    assert rows["all cells (study)"] == ["3 / 3", "1.5", "30", "1.5", "0.006", "3"]
    assert any("CPU energy is an estimate" in note for note in table.notes)
    assert math.isnan(provenance_frame([record("x", energy=None)], runs.iloc[:0].assign(
        run_id=["x"], cell=["a"], status=["FINISHED"]))["cost/energy_kwh"].iloc[0])
