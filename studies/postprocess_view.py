"""What `sedstudy postprocess` prints: a line per run, then the stages' means."""
from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence

from reports.contract import POSTPROCESS_STAGES, postprocess_metric
from studies.postprocess import RunPostprocess


def run_line(result: RunPostprocess) -> str:
    values = result.values
    shown = "  ".join(f"{stage} {values[postprocess_metric(stage, 'psds1')]:.3f}" for stage in POSTPROCESS_STAGES
                      if postprocess_metric(stage, "psds1") in values)
    when = "already done" if result.skipped else f"{result.seconds:.1f} s"
    return f"{result.cell} seed={result.seed}: PSDS1 {shown} ({when})"


def summary_lines(results: Sequence[RunPostprocess], target: str, store: str) -> Iterator[str]:
    done = [r for r in results if not r.skipped]
    yield (f"{target}: {len(results)} run(s) post-processed ({len(done)} now, {len(results) - len(done)} already); "
           f"metrics pp/<stage>/<metric> in {store}")
    for metric in ("psds1", "psds2"):
        means = []
        for stage in POSTPROCESS_STAGES:
            key = postprocess_metric(stage, metric)
            values = [r.values[key] for r in results if key in r.values]
            if values:
                means.append(f"{stage} {statistics.fmean(values):.4f}")
        yield f"  mean {metric.upper()}: " + ", ".join(means)
    if done:
        yield f"  {statistics.fmean(r.seconds for r in done):.1f} s per run"
