"""A metric missing from many finished runs is one warning that counts them, not one line per run."""
from __future__ import annotations

import logging
import math

from reports.fetch.records import TrialRecord
from reports.fetch.trial_frame import trial_frame


def test_a_metric_missing_from_many_runs_is_one_counted_warning(caplog):
    records = [TrialRecord(f"run{i}", "FINISHED", i, {"sedstudy.kind": "trial", "sedstudy.cell": f"lr={i}",
                                                        "sedstudy.seed": "1"}, {"psds1": 0.5})
               for i in range(1000)]
    records.append(TrialRecord("running", "RUNNING", 0, {"sedstudy.kind": "trial", "sedstudy.cell": "lr=0",
                                                          "sedstudy.seed": "2"}, {}))
    with caplog.at_level(logging.WARNING, logger="reports.fetch.trial_frame"):
        frame = trial_frame(records, "s", ["lr"], ["psds1", "psds2_t50"])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("1000 finished trial run(s) have no metric 'psds2_t50': run0 (cell 'lr=0', seed 1)")
    assert warnings[0].endswith("and 997 more")
    assert math.isnan(frame["psds2_t50"].iloc[0]) and frame["psds1"].iloc[0] == 0.5
