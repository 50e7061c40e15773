"""Post-processing: per cell, PSDS of the raw scores, with the trained median filter, with class-wise windows tuned
on the validation split, and piPSDS; then whether each difference to the baseline survives every stage (the same
paired tests, stage by stage). Shown once `sedstudy postprocess` has run on the study."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from reports.fetch.load import FINISHED
from reports.sections.section import DataFile, ReportInputs, Section, SectionContent
from reports.stats.comparisons import compare_to_baseline
from reports.tables.model import Table, TableCell
from reports.tables.study import DASH, DECIMALS, comparison_table, metric_name

STAGE_NAMES = {"raw": "raw", "median": "trained median", "tuned_median": "tuned median", "pipsds": "piPSDS"}
NOTE = ("From the unfiltered frame scores each trial stored, without retraining (`sedstudy postprocess`). raw: no "
        "filter; trained median: the run's own window for every class (the logged value, but for clips shorter than "
        "the clip length, which the trainer filtered with their padding and this stage filters without); tuned "
        "median: one "
        "window per class, chosen per scenario on the selection (validation) split, never on the test split, then "
        "applied to the test split; piPSDS: the median-filter-independent PSDS (DCASE 2024) over the same windows. "
        "All exact PSDS (every threshold).")
POSTPROCESSING_CSV = "postprocessing.csv"
POSTPROCESSING_COMPARISONS_CSV = "postprocessing_comparisons.csv"


def stage_label(key: str) -> str:
    """`pp/tuned_median/psds1` -> `PSDS1 tuned median`."""
    _, stage, metric = key.split("/", 2)
    return f"{metric_name(metric)} {STAGE_NAMES.get(stage, stage)}"


def build(inputs: ReportInputs) -> SectionContent:
    runs = inputs.runs
    frame = runs.postprocessed
    keys = [k for k in frame.columns if frame[k].notna().any()] if not frame.empty else []
    if not keys:
        return SectionContent(empty_note="No trial is post-processed yet: `sedstudy postprocess STUDY` adds this "
                                         "section from the scores the trials stored.")
    finished = runs.runs["status"] == FINISHED
    values = pd.concat([runs.runs.loc[finished, ["cell", "seed"]], frame.loc[finished, keys]], axis=1)
    per_cell = _stage_table(values, keys, runs.cells, inputs.link)
    stage_keys = [k for k in keys if not k.endswith("_t50")]
    comparisons = compare_to_baseline(values, cells=runs.cells, baseline=runs.baseline_cell, metrics=stage_keys,
                                      correction=inputs.analysis.correction, alpha=inputs.analysis.alpha)
    comparisons["role"] = "secondary"  # the plan's verdicts are about the logged metric, not these stages
    comparisons["significant"] = False
    shown = comparisons.assign(metric=comparisons["metric"].map(stage_label))
    survives = comparison_table(shown, runs.cell_levels, runs.factors, correction=inputs.analysis.correction,
                                alpha=inputs.analysis.alpha, link=inputs.link)
    survives = Table(name="postprocessing_comparisons", caption="Differences to the baseline, stage by stage",
                     header=survives.header, align=survives.align, rows=survives.rows,
                     notes=(*survives.notes, "Secondary: a difference whose corrected p stays below alpha on every "
                                             "stage does not depend on the post-processing; the verdicts are the "
                                             "analysis plan's, on the logged metric."))
    return SectionContent(tables=(per_cell, survives), data_files=(
        DataFile(POSTPROCESSING_CSV, values.reset_index(drop=True)),
        DataFile(POSTPROCESSING_COMPARISONS_CSV, comparisons)))


def _stage_table(values: pd.DataFrame, keys: list[str], cells: tuple[str, ...], link: Callable[[str], str]) -> Table:
    rows = []
    for cell in cells:
        mine = values[values["cell"] == cell]
        if mine.empty:
            continue
        row = [TableCell(cell, link=link(cell)), TableCell(str(len(mine)))]
        for key in keys:
            column = mine[key].dropna()
            text = DASH if column.empty else (f"{column.mean():.{DECIMALS}f} ± "
                                              + ("n/a" if len(column) < 2 else f"{column.std(ddof=1):.{DECIMALS}f}"))
            row.append(TableCell(text))
        rows.append(tuple(row))
    return Table(name="postprocessing", caption="PSDS per post-processing stage",
                 header=("cell", "n", *(stage_label(k) for k in keys)),
                 align=("l", "r", *("c",) * len(keys)), rows=tuple(rows), notes=(NOTE,))


SECTION = Section("postprocessing", "Post-processing", build, optional=True)
