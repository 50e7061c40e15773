"""The tuning phases of a study (child runs tagged `sedstudy.kind=tune`): per tuned cell, the samples, how many
ASHA stopped early or failed, and the best sample's values and validation value. Samples are never seeds."""
from __future__ import annotations

import json
import math

from mlflow.tracking import MlflowClient

from reports.contract import (
    CELL_TAG,
    OLDEST_FIRST,
    TUNE_KIND,
    TUNE_OBJECTIVE_METRIC,
    TUNE_PARAMS_TAG,
    TUNE_SAMPLE_TAG,
    TUNE_STOPPED_TAG,
    TUNED_CELLS_TAG,
    children_filter,
    iter_runs,
)
from reports.fetch.load import StudyRuns
from reports.tables.model import Table, TableCell

NOTE = ("A sample's value is its best epoch on the tuning metric (a validation split); the best sample's values "
        "are the ones the cell's seed trials use. Ties go to the lowest sample index.")


def tuning_table(client: MlflowClient, runs: StudyRuns) -> Table | None:
    """None when the study tuned no cell."""
    tuned = json.loads(client.get_run(runs.parent_run_id).data.tags.get(TUNED_CELLS_TAG, "{}"))
    if not isinstance(tuned, dict) or not tuned:
        return None
    samples = list(iter_runs(client, [runs.experiment_id], children_filter(runs.parent_run_id, TUNE_KIND),
                             order_by=OLDEST_FIRST))
    rows = []
    for cell, metric in tuned.items():
        own = [r for r in samples if r.data.tags.get(CELL_TAG) == cell]
        finished = [r for r in own if r.info.status == "FINISHED"]
        scored = [(-r.data.metrics[TUNE_OBJECTIVE_METRIC], int(r.data.tags.get(TUNE_SAMPLE_TAG, "0")), r)
                  for r in finished if math.isfinite(r.data.metrics.get(TUNE_OBJECTIVE_METRIC, math.nan))]
        best = min(scored, key=lambda item: item[:2]) if scored else None
        values = "–" if best is None else ", ".join(
            f"{path} = {value:.4g}" if isinstance(value, float) else f"{path} = {value}"
            for path, value in json.loads(best[2].data.tags[TUNE_PARAMS_TAG]).items())
        rows.append((TableCell(cell), TableCell(str(len(finished))),
                     TableCell(str(sum(TUNE_STOPPED_TAG in r.data.tags for r in finished))),
                     TableCell(str(sum(r.info.status == "FAILED" for r in own))), TableCell(metric),
                     TableCell("–" if best is None else f"{-best[0]:.3f}"), TableCell(values)))
    return Table(name="tuning", caption="Tuning inside cells",
                 header=("cell", "samples", "stopped early", "failed", "metric", "best", "best values"),
                 align=("l", "r", "r", "r", "l", "r", "l"), rows=tuple(rows), notes=(NOTE,))
