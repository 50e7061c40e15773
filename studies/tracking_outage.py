"""A tracking server that stops answering mid-study: writes wait for it, then the study stops and keeps them.

The driver is the study's only MLflow writer, and Tune's loop runs its callbacks one at a time: while a write
waits, trials pause at their next report (their workers hold the result until the driver takes it). MLflow's REST
client retries a request for about four minutes by itself (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``); past that,
``PatientClient`` tries again every few seconds until the server answers or ``failures.tracking_outage_s`` has
passed since it stopped answering. Then the study gives up: Tune is stopped (studies/outage_stop.py), every record the
server did not take goes to a journal in the work directory (studies/tracking.py keeps it), and
``sedstudy resume`` writes the journal first, in order, before it runs anything. A record written twice adds
nothing (the store keeps one row per metric value and step; tags and run states are set, not appended), so a
write the server took just before it went away is harmless in the journal.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE, ErrorCode

from sed_core.errors import ConfigError
from studies.definition import Sample, Study, Trial
from studies.interrupt import TrackingUnavailable
from studies.trial_identity import trial_identity

logger = logging.getLogger(__name__)

RETRY_EVERY_S = 5.0
WARN_EVERY_S = 60.0
UNREACHABLE_MARKERS = ("Max retries exceeded", "Connection refused", "ConnectionError", "Connection aborted",
                       "RemoteDisconnected", "timed out", "Name or service not known", "503 Service Unavailable",
                       "too many 502", "too many 503", "too many 504")


class TrackingUnreachable(Exception):
    """The tracking server has not answered for longer than the study allows; raised by every call after that."""


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the tracking store did not answer (connection refused or reset, a timeout, a proxy's
    5xx after MLflow's retries, a database that went away), as opposed to a request the store refused."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        name = type(current).__name__
        if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "RetryError", "MaxRetryError",
                    "OperationalError", "NewConnectionError", "ProtocolError"):
            return True
        if isinstance(current, MlflowException):
            if current.error_code == ErrorCode.Name(TEMPORARILY_UNAVAILABLE):
                return True
            if str(current.message).startswith("API request to") and \
                    any(marker in str(current.message) for marker in UNREACHABLE_MARKERS):
                return True
        current = current.__cause__ or current.__context__
    return False


class Outage:
    """Whether the tracking store answers, since when it does not, and whether the study gave up waiting."""

    def __init__(self, uri: str, limit_s: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, retry_every_s: float = RETRY_EVERY_S) -> None:
        self.uri = uri
        self.limit_s = limit_s
        self.clock = clock
        self.sleep = sleep
        self.retry_every_s = retry_every_s
        self.since: float | None = None  # clock() when the store stopped answering
        self.gave_up_after_s: float | None = None
        self._warned = 0.0

    @property
    def gave_up(self) -> bool:
        return self.gave_up_after_s is not None

    def call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, tried again while the store does not answer, up to the limit."""
        while True:
            if self.gave_up:
                raise TrackingUnreachable(self.reason())
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                if not is_unreachable(error):
                    raise
                self._missed(what, error)
                continue
            if self.since is not None:
                logger.warning("the tracking server at %s answers again after %.0f s; the study goes on", self.uri,
                               self.clock() - self.since)
                self.since = None
            return result

    def _missed(self, what: str, error: BaseException) -> None:
        now = self.clock()
        if self.since is None:
            self.since = self._warned = now
            logger.warning("the tracking server at %s does not answer (%s: %s); the study's records wait for it and "
                           "trials pause at their next report; it stops after %s", self.uri, what,
                           str(error).splitlines()[0][:200] if str(error) else type(error).__name__, self._limit_text())
        elif now - self._warned >= WARN_EVERY_S:
            self._warned = now
            logger.warning("the tracking server at %s has not answered for %.0f s; still waiting (%s)", self.uri,
                           now - self.since, self._limit_text())
        if self.limit_s is not None and now - self.since > self.limit_s:
            self.gave_up_after_s = now - self.since
            raise TrackingUnreachable(self.reason())
        self.sleep(self.retry_every_s)

    def _limit_text(self) -> str:
        return "never (failures.tracking_outage_s: null)" if self.limit_s is None else \
            f"{self.limit_s:g} s without an answer (failures.tracking_outage_s)"

    def reason(self) -> str:
        return (f"the tracking server at {self.uri} did not answer for {self.gave_up_after_s or 0:.0f} s, longer "
                f"than failures.tracking_outage_s ({self.limit_s:g} s)")

    def stopped(self, journal: Journal | None) -> TrackingUnavailable:
        """What the study says when it gives up: why, and where the records the server did not take are kept."""
        kept = "" if journal is None or not len(journal) else \
            (f"; {len(journal)} record(s) it did not take are kept in {journal.path} and written first by "
             f"`sedstudy resume`, once the server answers")
        return TrackingUnavailable(self.reason() + kept)


class PatientClient:
    """An MlflowClient whose every call waits out an outage (``Outage.call``)."""

    def __init__(self, client: Any, outage: Outage) -> None:
        self._client = client
        self._outage = outage

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def patient(*args: Any, **kwargs: Any) -> Any:
            return self._outage.call(name, attribute, *args, **kwargs)

        return patient


class Journal:
    """The tracker's writes the store did not take, in order: one JSON line each, ``{"method", "item", "args",
    "kwargs"}``, the item (a trial or a tuning sample) by what rebuilds it from the study."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, method: str, item: Trial | Sample, args: tuple, kwargs: dict) -> None:
        entry = {"method": method, "item": item_record(item), "args": list(args), "kwargs": kwargs}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, default=str) + "\n")

    def __len__(self) -> int:
        if not self.path.is_file():
            return 0
        with self.path.open(encoding="utf-8") as lines:
            return sum(1 for line in lines if line.strip())

    def take(self, study: Study) -> list[tuple[str, Trial | Sample, list, dict]]:
        """Every entry with its item rebuilt, the file removed (an entry that fails again is appended anew)."""
        if not self.path.is_file():
            return []
        entries = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                item = item_of(study, entry["item"])
                entries.append((entry["method"], item, entry["args"], entry["kwargs"]))
            except (ValueError, KeyError, TypeError) as error:
                raise ConfigError(f"{self.path}:{number}: a record kept while the tracking server was away cannot "
                                  f"be read back ({error}); the study YAML must be the one that kept it. Move the "
                                  f"file away to resume without it (its records are then lost)") from None
        self.path.unlink()
        return entries


def item_record(item: Trial | Sample) -> dict[str, Any]:
    """What rebuilds ``item`` from its study (``item_of``), with its trial id to check the rebuild by."""
    if isinstance(item, Sample):
        return {"sample": {"cell": item.cell.id, "index": item.index, "values": [list(v) for v in item.values]},
                "trial_id": item.trial_id}
    return {"trial": {"cell": item.cell.id, "seed": item.seed, "tuned": [list(v) for v in item.tuned]},
            "trial_id": item.trial_id}


def item_of(study: Study, record: Mapping[str, Any]) -> Trial | Sample:
    cells = {cell.id: cell for cell in study.cells}
    cell_id = (record.get("sample") or record.get("trial") or {}).get("cell")
    if cell_id not in cells:
        raise ValueError(f"the study has no cell {cell_id}")
    if "sample" in record:
        sample = record["sample"]
        item: Trial | Sample = study.sample(cells[sample["cell"]], int(sample["index"]),
                                            {path: value for path, value in sample["values"]})
    else:
        trial = record["trial"]
        tuned = {path: value for path, value in trial["tuned"]}
        if tuned:
            config = study.cell_config(cells[trial["cell"]], tuned, seed=int(trial["seed"]))
            item = Trial(cells[trial["cell"]], int(trial["seed"]), config, trial_identity(config),
                         tuple(tuned.items()))
        else:
            found = [t for t in study.trials if t.cell.id == trial["cell"] and t.seed == int(trial["seed"])]
            if not found:
                raise ValueError(f"the study has no trial of cell {trial['cell']} with seed {trial['seed']}")
            item = found[0]
    if item.trial_id != record["trial_id"]:
        raise ValueError(f"its trial is {record['trial_id']}, but this study makes {item.trial_id} of it")
    return item
