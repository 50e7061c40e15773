"""Where each number comes from and what it cost: per-run provenance tags and `cost/*` metrics, one row per run
(the tables are `reports/tables/provenance.py`).

Provenance (code, data and its coverage of the official lists, backbone weights, the metric's specification,
the machine) is shown once for the study when every run agrees, and per cell where runs differ. Cost (wall time,
GPU hours, energy) is summed per cell and for the study over every run, failed ones included: they were paid.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.contract import (
    BACKBONE_SHA256_TAG,
    CODE_COMMIT_TAG,
    CODE_DIRTY_TAG,
    COST_METRICS,
    DATA_COVERAGE_TAG,
    DATA_KIND_TAG,
    DATA_SHA256_TAG,
    ENVIRONMENT_TAG,
    METRIC_SPEC_TAG,
)
from reports.fetch.records import TrialRecord

ATTRIBUTES = (("code", "Code"), ("data", "Data"), ("coverage", "Clips per split (of the official list)"),
              ("backbone", "Backbone checkpoint"), ("metric", "Metric"), ("environment", "Machine"))


def provenance_frame(records: Sequence[TrialRecord], runs: pd.DataFrame) -> pd.DataFrame:
    """One row per kept trial run (`runs`' order): cell, status, the provenance attributes and the cost metrics."""
    by_id = {record.run_id: record for record in records}
    rows = []
    for run_id, cell, status in zip(runs["run_id"], runs["cell"], runs["status"]):
        record = by_id[run_id]
        tags = record.tags
        commit = tags.get(CODE_COMMIT_TAG)
        code = None if commit is None else commit[:12] + (" (dirty tree)" if tags.get(CODE_DIRTY_TAG) == "true"
                                                         else "")
        kind, sha = tags.get(DATA_KIND_TAG), tags.get(DATA_SHA256_TAG)
        backbone = tags.get(BACKBONE_SHA256_TAG)
        rows.append({"run_id": run_id, "cell": cell, "status": status, "code": code,
                     "data": None if sha is None else f"{kind} {sha[:12]}",
                     "coverage": tags.get(DATA_COVERAGE_TAG),
                     "backbone": None if backbone is None else
                     backbone if backbone.startswith("none") else f"sha256 {backbone[:12]}",
                     "metric": tags.get(METRIC_SPEC_TAG), "environment": tags.get(ENVIRONMENT_TAG),
                     **{key: record.metrics.get(key, math.nan) for key in COST_METRICS}})
    columns = ["run_id", "cell", "status", *(key for key, _ in ATTRIBUTES), *COST_METRICS]
    return pd.DataFrame(rows, columns=columns)
