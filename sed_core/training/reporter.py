"""The reporter protocol: how the trainer tells the outside world about progress, with no Ray or MLflow here."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)


@runtime_checkable
class Reporter(Protocol):
    def checkpoint(self, path: Path) -> None:
        """A resumable checkpoint directory was written; it belongs to the next ``report``."""

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        """Metrics at ``step`` (the epoch); final metrics come in the last report."""


@runtime_checkable
class StepReporter(Protocol):
    """An optional hook a reporter may add: the trainer calls ``step_done`` after every training step, so a
    display can move within an epoch. It must be cheap (it runs once per step); throttle anything slow."""

    def step_done(self, epoch: int, step: int, steps: int) -> None:
        """Training step ``step`` of ``steps`` (1-based) of epoch ``epoch`` (0-based) is done."""


class NullReporter:
    def checkpoint(self, path: Path) -> None:
        pass

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        pass


class LoggingReporter:
    """Logs each report as one line; what ``sedstudy train`` uses."""

    def __init__(self, keys: tuple[str, ...] | None = None) -> None:
        self.keys = keys
        self.history: list[tuple[int, dict[str, float]]] = []

    def checkpoint(self, path: Path) -> None:
        logger.debug("checkpoint %s", path)

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        self.history.append((step, dict(metrics)))
        shown = {k: v for k, v in metrics.items() if self.keys is None or k in self.keys}
        logger.info("step %d: %s", step, "  ".join(f"{k}={v:.4f}" for k, v in shown.items()))
