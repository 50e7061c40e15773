"""`sedstudy status --json`: a study's progress as a JSON document."""
from __future__ import annotations

import json

from studies.heartbeat import beat_text
from studies.status import StudyStatus


def status_json(status: StudyStatus) -> str:
    return json.dumps({"study": status.study, "status": status.parent_status, "totals": status.totals,
                       "best": status.best, "cells": [vars(c) for c in status.cells], "tuning": status.tuning,
                       "time_left_s": status.time_left_s,
                       "driver_gone_since": None if status.driver_gone_since is None else
                       beat_text(status.driver_gone_since)},
                      indent=2)
