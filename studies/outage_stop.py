"""The stopper that ends a Tune pass once the study gave up waiting for its tracking server."""
from __future__ import annotations

from typing import Any

from ray import tune

from studies.tracking_outage import Outage


class OutageStop(tune.Stopper):
    """Ends Tune's experiment once the study gave up waiting for the tracking server (RunConfig's ``stop``)."""

    def __init__(self, outage: Outage) -> None:
        self.outage = outage

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.outage.gave_up
