"""What a report needs of one trial run, independent of how it was fetched (REST/file API or SQL)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reports.contract import (
    BEST_EPOCH_METRIC,
    CELL_TAG,
    CLASS_INFIX,
    COST_METRICS,
    FACTOR_TAG_PREFIX,
    FAILURE_TAG,
    KIND_TAG,
    POSTPROCESS_STAGES,
    PROVENANCE_TAGS,
    ROLES,
    SEED_TAG,
    postprocess_metric,
)

FINISHED = "FINISHED"
FAILED_STATUSES = frozenset({"FAILED", "KILLED"})
RUNNING_STATUSES = frozenset({"RUNNING", "SCHEDULED"})


@dataclass(frozen=True)
class TrialRecord:
    """One trial run reduced to the columns a report reads.

    `tags`: the sedstudy tags only; `metrics`: latest values of the study's metrics and their per-class keys;
    `params`: the params named in `Wanted.params` (text, as logged).
    """

    run_id: str
    status: str
    start_time: int
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    params: Mapping[str, str] = field(default_factory=dict)
    end_time: int = 0  # 0 while the run has not ended


@dataclass(frozen=True)
class Wanted:
    """The columns to pull: tag keys, metric keys (plus `<metric>/class/*` for each), param keys."""

    tags: tuple[str, ...]
    metrics: tuple[str, ...]
    params: tuple[str, ...]

    @classmethod
    def for_study(cls, factors: Sequence[str], metrics: Sequence[str], params: Sequence[str]) -> Wanted:
        tags = (KIND_TAG, CELL_TAG, SEED_TAG, FAILURE_TAG, *(FACTOR_TAG_PREFIX + factor for factor in factors),
                *PROVENANCE_TAGS)
        extra = [*COST_METRICS, *role_metric_keys(metrics), *postprocess_metric_keys(metrics)]
        return cls(tags=tags, metrics=(*metrics, *(m for m in dict.fromkeys(extra) if m not in metrics)),
                   params=tuple(params))

    def wants_metric(self, key: str) -> bool:
        """A study metric or a per-class key of one."""
        if key in self.metrics:
            return True
        head, sep, label = key.partition(CLASS_INFIX)
        return bool(sep) and bool(label) and head in self.metrics


def postprocess_metric_keys(metrics: Sequence[str]) -> tuple[str, ...]:
    """`pp/<stage>/<m>` of every PSDS scenario among the study metrics (`sedstudy postprocess` logs them), and
    the tuned stage's 50-threshold value where the study shows that convention."""
    keys = []
    for name in ("psds1", "psds2"):
        if name in metrics or f"{name}_t50" in metrics:
            keys += [postprocess_metric(stage, name) for stage in POSTPROCESS_STAGES]
        if f"{name}_t50" in metrics:
            keys.append(postprocess_metric("tuned_median", f"{name}_t50"))
    return tuple(keys)


def role_metric_keys(metrics: Sequence[str]) -> tuple[str, ...]:
    """`student/<m>` and `teacher/<m>` of every study metric, then `best_epoch`."""
    return (*(f"{role}/{metric}" for metric in metrics for role in ROLES), BEST_EPOCH_METRIC)


@dataclass(frozen=True)
class TrialFetch:
    """Every trial run of a study's parent run, and the per-epoch metric keys seen on any of them (sorted)."""

    records: tuple[TrialRecord, ...]
    history_keys: tuple[str, ...]
