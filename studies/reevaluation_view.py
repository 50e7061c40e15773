"""The text `sedstudy evaluate` prints: one line per run as it is rescored, then the summary."""
from __future__ import annotations

from collections.abc import Sequence

from studies.reevaluate import RunEval


def run_eval_line(result: RunEval, split: str) -> str:
    values = " ".join(f"{name}={value:.4f}" for name, value in (("psds1", result.psds1), ("psds2", result.psds2))
                      if value is not None)
    note = "  (already evaluated; --force to redo)" if result.skipped else ""
    return f"{result.cell} seed={result.seed}  {split}: {values}  [{result.run_id}]{note}"


def reevaluation_summary(results: Sequence[RunEval], target: str, split: str, tracking_uri: str) -> str:
    done = [r for r in results if not r.skipped]
    psds1 = [r.psds1 for r in done if r.psds1 is not None]
    mean = f"; mean psds1 {sum(psds1) / len(psds1):.4f}" if psds1 else ""
    return (f"evaluated {len(done)} run(s) of {target} on {split}, skipped {len(results) - len(done)} "
            f"already evaluated{mean}; metrics eval/{split}/* in {tracking_uri}")
