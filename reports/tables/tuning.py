"""The tuning phases of a study (child runs tagged `sedstudy.kind=tune`): per tuned cell, the samples, how many
ASHA stopped early or failed, and the best sample's values and validation value. Samples are never seeds."""
from __future__ import annotations

import json
import math

from mlflow.tracking import MlflowClient

from reports.fetch.api import search_all
from reports.fetch.load import StudyRuns
from reports.fetch.records import TAG_CELL, TAG_KIND, TAG_PARENT
from reports.tables.model import Table, TableCell

TAG_TUNED_CELLS = "sedstudy.tuned_cells"  # parent run: JSON {cell id: tuning metric}
TAG_SAMPLE, TAG_VALUES, TAG_STOPPED = "sedstudy.tune.sample", "sedstudy.tune.params", "sedstudy.tune.stopped_early"
OBJECTIVE = "tune/objective"  # a sample's best validation value over its epochs
NOTE = ("A sample's value is its best epoch on the tuning metric (a validation split); the best sample's values "
        "are the ones the cell's seed trials use. Ties go to the lowest sample index.")


def tuning_table(client: MlflowClient, runs: StudyRuns) -> Table | None:
    """None when the study tuned no cell."""
    tuned = json.loads(client.get_run(runs.parent_run_id).data.tags.get(TAG_TUNED_CELLS, "{}"))
    if not isinstance(tuned, dict) or not tuned:
        return None
    samples = search_all(client, [runs.experiment_id],
                         f"tags.`{TAG_PARENT}` = '{runs.parent_run_id}' AND tags.`{TAG_KIND}` = 'tune'")
    rows = []
    for cell, metric in tuned.items():
        own = [r for r in samples if r.data.tags.get(TAG_CELL) == cell]
        finished = [r for r in own if r.info.status == "FINISHED"]
        scored = [(-r.data.metrics[OBJECTIVE], int(r.data.tags.get(TAG_SAMPLE, "0")), r) for r in finished
                  if math.isfinite(r.data.metrics.get(OBJECTIVE, math.nan))]
        best = min(scored, key=lambda item: item[:2]) if scored else None
        values = "–" if best is None else ", ".join(
            f"{path} = {value:.4g}" if isinstance(value, float) else f"{path} = {value}"
            for path, value in json.loads(best[2].data.tags[TAG_VALUES]).items())
        rows.append((TableCell(cell), TableCell(str(len(finished))),
                     TableCell(str(sum(TAG_STOPPED in r.data.tags for r in finished))),
                     TableCell(str(sum(r.info.status == "FAILED" for r in own))), TableCell(metric),
                     TableCell("–" if best is None else f"{-best[0]:.3f}"), TableCell(values)))
    return Table(name="tuning", caption="Tuning inside cells",
                 header=("cell", "samples", "stopped early", "failed", "metric", "best", "best values"),
                 align=("l", "r", "r", "r", "l", "r", "l"), rows=tuple(rows), notes=(NOTE,))
