"""A study's report built from the tracking store and attached to its parent run."""
from __future__ import annotations

from pathlib import Path

from reports.build import CLIP_RESAMPLES, ReportPaths, build_report
from studies.tracking import log_report


def publish_report(study: str, tracking_uri: str, out: Path, *, clip_metric: str = "auto",
                   clip_resamples: int | None = None, ui_url: str | None = None,
                   correction: str | None = None) -> ReportPaths:
    """Write the report into `out` and log its HTML and Markdown to the parent run (artifact folder ``report/``).

    `clip_metric` "none" skips the bootstrap over clips; `clip_resamples` None takes the report's default;
    `correction` replaces the study's analysis plan's (None keeps it).
    """
    paths = build_report(tracking_uri, study, out, clip_statistic=None if clip_metric == "none" else clip_metric,
                         clip_resamples=clip_resamples or CLIP_RESAMPLES, ui_base=ui_url, correction=correction)
    log_report(tracking_uri, study, [paths.html, paths.markdown])
    return paths
