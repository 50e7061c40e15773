"""The driver's heartbeat: while a study runs, a thread of its driver stamps the parent run every few seconds
(``StudyTracker.beat``), so ``sedstudy status`` tells a study whose driver is gone (SIGKILL, a lost machine: the
parent run stays RUNNING) from one that runs.

The beat's time is the driver's clock (UTC); a reader on another machine allows ``MISSED_BEATS`` intervals.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from reports.contract import HEARTBEAT_EVERY_TAG, HEARTBEAT_TAG
from sed_core.errors import ConfigError

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 30.0
HEARTBEAT_ENV = "SEDSTUDY_HEARTBEAT_S"  # another interval in seconds (tests beat faster)
MISSED_BEATS = 4  # a RUNNING study whose last beat is older than this many intervals has no driver
THREAD_NAME = "sedstudy-heartbeat"


def heartbeat_every_s() -> float:
    """The interval between beats: ``$SEDSTUDY_HEARTBEAT_S`` when set, else 30 s."""
    raw = os.environ.get(HEARTBEAT_ENV)
    if raw is None:
        return HEARTBEAT_EVERY_S
    try:
        every_s = float(raw)
    except ValueError:
        every_s = float("nan")
    if not every_s > 0:
        raise ConfigError(f"${HEARTBEAT_ENV} must be a number of seconds above 0, but got {raw!r}; unset it for "
                          f"the default {HEARTBEAT_EVERY_S:g} s")
    return every_s


def beat_text(at: float) -> str:
    """A Unix time as the tag holds it: ISO 8601 in UTC, to the second (readable in MLflow's UI)."""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")


def last_beat(tags: Mapping[str, str]) -> float | None:
    """The Unix time of the parent run's last beat; None when it has none (a store older than the tag) or an
    unreadable one."""
    raw = tags.get(HEARTBEAT_TAG)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        logger.warning("tag %s=%r is not an ISO 8601 time; the study's driver is taken as alive", HEARTBEAT_TAG, raw)
        return None


def driver_gone_since(tags: Mapping[str, str], now: float) -> float | None:
    """The last beat of a parent run whose driver stopped beating (``MISSED_BEATS`` intervals, at the interval the
    driver recorded); None when it beats or never did. Only meaningful for a RUNNING parent."""
    beat = last_beat(tags)
    if beat is None:
        return None
    try:
        every_s = float(tags.get(HEARTBEAT_EVERY_TAG, HEARTBEAT_EVERY_S))
    except ValueError:
        every_s = HEARTBEAT_EVERY_S
    return beat if now - beat > MISSED_BEATS * max(every_s, 0.0) else None


class Heartbeat:
    """A daemon thread that calls ``beat(every_s)`` at once and then every ``every_s`` seconds until ``stop()`` (or
    the ``with`` block ends). A beat that fails (the tracking server is down) is logged and the next one tried."""

    def __init__(self, beat: Callable[[float], None], every_s: float | None = None) -> None:
        self.beat = beat
        self.every_s = heartbeat_every_s() if every_s is None else every_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._failing = False

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._beat_once()  # the study is marked alive before anything else runs
        self._thread.start()

    def stop(self) -> None:
        """No beat after this returns (a beat under way is waited for, a few seconds at most)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(10.0, self.every_s))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.wait(self.every_s):
            self._beat_once()

    def _beat_once(self) -> None:
        try:
            self.beat(self.every_s)
        except Exception as error:  # noqa: BLE001 - a missed beat must not end the study
            if not self._failing:
                logger.warning("the study's heartbeat could not be written (%s); trying again every %g s", error,
                               self.every_s)
            self._failing = True
        else:
            self._failing = False
