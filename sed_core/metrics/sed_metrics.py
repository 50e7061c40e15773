"""Event-based SED metrics through sed_scores_eval: PSDS (scenarios 1 and 2), collar F1, intersection F1,
and the weak (clip tagging) macro F1.

PSDS: Bilen et al., "A Framework for the Robust Evaluation of Sound Event Detection", ICASSP 2020; computed
exactly over all thresholds as in Ebbers et al., ICASSP 2022 (sed_scores_eval). Scenario values are the DCASE
Task 4 ones.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sed_scores_eval import collar_based, intersection_based

from sed_core.errors import ConfigError, DataError
from sed_core.metrics.scores import audio_id

_MAX_LISTED = 5
_TIME_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class PSDSScenario:
    """One PSDS operating scenario.

    dtc/gtc/cttc thresholds: detection tolerance, ground-truth intersection and cross-trigger tolerance
    criteria in (0, 1]; cttc_threshold must be None exactly when alpha_ct == 0 (sed_scores_eval rejects
    anything else). max_efpr: effective false positives per hour up to which the PSD-ROC is integrated.
    """

    dtc_threshold: float
    gtc_threshold: float
    cttc_threshold: float | None
    alpha_ct: float
    alpha_st: float
    max_efpr: float

    def __post_init__(self) -> None:
        for name in ("dtc_threshold", "gtc_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"PSDSScenario.{name} must be in (0, 1], got {value}")
        if self.alpha_ct < 0 or self.alpha_st < 0:
            raise ConfigError(
                f"PSDSScenario alpha_ct and alpha_st must be >= 0, got alpha_ct={self.alpha_ct}, "
                f"alpha_st={self.alpha_st}"
            )
        if (self.alpha_ct == 0) != (self.cttc_threshold is None):
            raise ConfigError(
                f"PSDSScenario: cttc_threshold must be None when alpha_ct == 0 and set when alpha_ct > 0, got "
                f"cttc_threshold={self.cttc_threshold}, alpha_ct={self.alpha_ct}"
            )
        if self.cttc_threshold is not None and not 0 < self.cttc_threshold <= 1:
            raise ConfigError(f"PSDSScenario.cttc_threshold must be in (0, 1], got {self.cttc_threshold}")
        if not self.max_efpr > 0:
            raise ConfigError(f"PSDSScenario.max_efpr must be > 0 per hour, got {self.max_efpr}")


PSDS_SCENARIO_1 = PSDSScenario(
    dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0
)
PSDS_SCENARIO_2 = PSDSScenario(
    dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0
)
DEFAULT_PSDS_SCENARIOS: Mapping[str, PSDSScenario] = {"psds1": PSDS_SCENARIO_1, "psds2": PSDS_SCENARIO_2}
# The operating points of the PSDS the DCASE 2022 papers published (DESED_task: psds_eval on the median-filtered
# scores decoded at 50 thresholds, np.arange(1 / 100, 1, 1 / 50)); the exact PSDS integrates over every threshold.
PUBLISHED_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 + 0.02 * k, 2) for k in range(50))
PUBLISHED_SUFFIX = "_t50"  # psds1_t50: scenario 1 at the published operating points
F1_SCORES = ("collar_f1", "intersection_f1")


@dataclass(frozen=True)
class SedMetrics:
    """Scores of one evaluation.

    psds: {scenario name: PSDS}; per_class_psds: {scenario name: {class: PSDS of that class alone}}.
    collar_f1 / intersection_f1: macro averages over classes at the fixed threshold; the per-class values
    are in collar_f1_per_class / intersection_f1_per_class.
    psd_roc: {scenario name: (efpr, tpr)}, the effective PSD-ROC whose normalised area up to max_efpr is the
    PSDS (a step function: tpr[i] holds from efpr[i] to efpr[i + 1]).
    """

    psds: Mapping[str, float]
    per_class_psds: Mapping[str, Mapping[str, float]]
    collar_f1: float
    intersection_f1: float
    collar_f1_per_class: Mapping[str, float]
    intersection_f1_per_class: Mapping[str, float]
    psd_roc: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # {scenario name: PSDS at the published 50 operating points} where it was asked for
    psds_t50: Mapping[str, float] = field(default_factory=dict)

    @property
    def psds1(self) -> float:
        return self._scenario("psds1")

    @property
    def psds2(self) -> float:
        return self._scenario("psds2")

    @property
    def psds1_t50(self) -> float:
        return self._published("psds1")

    @property
    def psds2_t50(self) -> float:
        return self._published("psds2")

    def _published(self, name: str) -> float:
        if name not in self.psds_t50:
            raise KeyError(f"no 50-threshold PSDS of scenario {name!r} was computed; computed: "
                           f"{', '.join(self.psds_t50) or 'none'}")
        return self.psds_t50[name]

    def _scenario(self, name: str) -> float:
        if name not in self.psds:
            raise KeyError(f"no PSDS scenario {name!r} was computed; computed: {', '.join(self.psds)}")
        return self.psds[name]

    def as_flat_dict(self) -> dict[str, float]:
        """Flat {metric name: value} for a tracking store: psds1, collar_f1, and per class `<metric>/class/<label>`
        (psds1/class/Dog, collar_f1/class/Dog), the names reports read per-class values from."""
        flat: dict[str, float] = dict(self.psds)
        flat.update({f"{name}{PUBLISHED_SUFFIX}": value for name, value in self.psds_t50.items()})
        flat["collar_f1"] = self.collar_f1
        flat["intersection_f1"] = self.intersection_f1
        for name, per_class in self.per_class_psds.items():
            flat.update(per_class_names(name, per_class))
        flat.update(per_class_names("collar_f1", self.collar_f1_per_class))
        flat.update(per_class_names("intersection_f1", self.intersection_f1_per_class))
        return flat


def per_class_names(metric: str, values: Mapping[str, float]) -> dict[str, float]:
    """{`<metric>/class/<label>`: value}: how per-class values are named in a tracking store."""
    return {f"{metric}/class/{cls}": float(value) for cls, value in values.items()}


def compute_sed_metrics(
    scores: Mapping[str, pd.DataFrame],
    ground_truth: Mapping[str, Sequence[tuple[float, float, str]]],
    durations: Mapping[str, float],
    *,
    classes: Sequence[str],
    psds_scenarios: Mapping[str, PSDSScenario] = DEFAULT_PSDS_SCENARIOS,
    collar_onset: float = 0.2,
    collar_offset: float = 0.2,
    collar_offset_rate: float = 0.2,
    threshold: float = 0.5,
    intersection_dtc: float = 0.5,
    intersection_gtc: float = 0.5,
    f1_scores: Sequence[str] = F1_SCORES,
    published: Sequence[str] = (),
    num_jobs: int = 1,
) -> SedMetrics:
    """PSDS per scenario, collar F1 and intersection F1 of frame scores against strong labels.

    scores: {audio_id: score DataFrame} as built by ``frame_scores_to_dataframe`` (columns onset, offset,
        *classes), one per clip of the split.
    ground_truth: {audio_id: [(onset, offset, label), ...]} for the same clips (``events_to_ground_truth``).
    durations: clip durations in seconds, keyed by audio id or filename (``read_durations_tsv``); may hold
        more clips than scored. They set the false-positive rate of PSDS, so they must be the true durations.
    collar_*: collar F1 tolerances (0.2 s onset; offset max(0.2 s, 20 % of the event)), as in DCASE.
    threshold: decision threshold of both F1 scores; intersection_dtc/gtc: criteria of the intersection F1.
    f1_scores: which F1 scores to compute (each costs about as much as a PSDS scenario); one left out is NaN.
    published: the scenarios (names of ``psds_scenarios``) whose PSDS is also computed at the 50 operating points
        the DCASE 2022 papers used (``published_psds``; ``SedMetrics.psds_t50``), as much again per scenario.
    num_jobs: processes sed_scores_eval spreads the clips over (the same values with any number).
    """
    unknown_f1 = [name for name in f1_scores if name not in F1_SCORES]
    if unknown_f1:
        raise ConfigError(f"f1_scores: unknown {unknown_f1}; expected some of {list(F1_SCORES)}")
    classes = list(classes)
    clip_durations = _check_inputs(scores, ground_truth, durations, classes)
    scores = dict(scores)
    gt = {clip: list(events) for clip, events in ground_truth.items()}

    psds: dict[str, float] = {}
    per_class_psds: dict[str, dict[str, float]] = {}
    psd_roc: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, scenario in psds_scenarios.items():
        value, per_class, (tpr, efpr), _ = intersection_based.psds(
            scores=scores,
            ground_truth=gt,
            audio_durations=clip_durations,
            dtc_threshold=scenario.dtc_threshold,
            gtc_threshold=scenario.gtc_threshold,
            cttc_threshold=scenario.cttc_threshold,
            alpha_ct=scenario.alpha_ct,
            alpha_st=scenario.alpha_st,
            max_efpr=scenario.max_efpr,
            num_jobs=num_jobs,
        )
        psds[name] = float(value)
        per_class_psds[name] = {cls: float(per_class[cls]) for cls in classes}
        psd_roc[name] = (np.asarray(efpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64))

    psds_t50 = {name: published_psds(scores, gt, clip_durations, psds_scenarios[name], num_jobs=num_jobs)
                for name in published}

    collar_f = intersection_f = dict.fromkeys(["macro_average", *classes], math.nan)
    if "collar_f1" in f1_scores:
        collar_f, *_ = collar_based.fscore(
            scores=scores,
            ground_truth=gt,
            threshold=threshold,
            onset_collar=collar_onset,
            offset_collar=collar_offset,
            offset_collar_rate=collar_offset_rate,
            num_jobs=num_jobs,
        )
    if "intersection_f1" in f1_scores:
        intersection_f, *_ = intersection_based.fscore(
            scores=scores,
            ground_truth=gt,
            threshold=threshold,
            dtc_threshold=intersection_dtc,
            gtc_threshold=intersection_gtc,
            num_jobs=num_jobs,
        )
    return SedMetrics(
        psds=psds,
        per_class_psds=per_class_psds,
        collar_f1=float(collar_f["macro_average"]),
        intersection_f1=float(intersection_f["macro_average"]),
        collar_f1_per_class={cls: float(collar_f[cls]) for cls in classes},
        intersection_f1_per_class={cls: float(intersection_f[cls]) for cls in classes},
        psd_roc=psd_roc,
        psds_t50=psds_t50,
    )


def published_psds(scores: Mapping[str, pd.DataFrame], ground_truth: Mapping[str, Sequence[tuple[float, float, str]]],
                   durations: Mapping[str, float], scenario: PSDSScenario, *,
                   thresholds: Sequence[float] = PUBLISHED_THRESHOLDS, num_jobs: int = 1) -> float:
    """PSDS whose PSD-ROC has only the operating points of ``thresholds`` (psds_eval's approximation, as DCASE 2022
    papers report it), computed exactly on scores snapped down to the threshold grid: a frame is active at
    threshold t iff its score > t (DESED_task's decoding), which is iff its snapped score >= t. Scores below the
    lowest threshold snap to 0, which adds one operating point psds_eval lacks: every frame active, one detection
    per clip and class, a false-positive rate of hundreds per hour on 10-s clips, beyond max_efpr (100)."""
    value, *_ = intersection_based.psds(
        scores={clip: snapped_to_thresholds(frame, thresholds) for clip, frame in scores.items()},
        ground_truth=ground_truth, audio_durations=durations,
        dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
        cttc_threshold=scenario.cttc_threshold, alpha_ct=scenario.alpha_ct, alpha_st=scenario.alpha_st,
        max_efpr=scenario.max_efpr, num_jobs=num_jobs)
    return float(value)


def snapped_to_thresholds(frame: pd.DataFrame, thresholds: Sequence[float]) -> pd.DataFrame:
    """Each class score replaced by the largest threshold strictly below it (0 below them all)."""
    grid = np.asarray(sorted(thresholds), dtype=np.float64)
    out = frame.copy()
    classes = [c for c in frame.columns if c not in ("onset", "offset")]
    values = frame[classes].to_numpy(dtype=np.float64)
    below = np.searchsorted(grid, values, side="left") - 1  # index of the largest threshold < value
    out[classes] = np.where(below >= 0, grid[np.clip(below, 0, None)], 0.0)
    return out


def _check_inputs(
    scores: Mapping[str, pd.DataFrame],
    ground_truth: Mapping[str, Sequence[tuple[float, float, str]]],
    durations: Mapping[str, float],
    classes: list[str],
) -> dict[str, float]:
    """Raise DataError for inputs sed_scores_eval would reject with an assert or score wrongly; return the
    durations of the scored clips keyed by audio id."""
    if not scores:
        raise DataError("no scored clips; expected scores for every clip of the evaluation split")
    no_gt = [clip for clip in scores if clip not in ground_truth]
    if no_gt:
        raise DataError(
            f"{_count_and_list(no_gt)} scored clip(s) have no ground-truth entry; expected one per scored clip "
            "(a clip without events needs an empty list, see events_to_ground_truth)"
        )
    not_scored = [clip for clip in ground_truth if clip not in scores]
    if not_scored:
        raise DataError(
            f"{_count_and_list(not_scored)} ground-truth clip(s) have no scores; expected scores for every clip "
            "of the split (score the missing clips or drop them from the ground truth)"
        )

    counts = dict.fromkeys(classes, 0)
    unknown: list[str] = []
    for clip, events in ground_truth.items():
        for _, _, label in events:
            if label in counts:
                counts[label] += 1
            else:
                unknown.append(f"{clip}: {label!r}")
    if unknown:
        raise DataError(
            f"{_count_and_list(unknown)} ground-truth event(s) have a label outside classes {classes}; "
            "expected labels from classes"
        )
    without = [cls for cls, n in counts.items() if n == 0]
    if without:
        raise DataError(
            f"no ground-truth event for class(es) {', '.join(without)}; PSDS and F1 are undefined for a class "
            "without reference events (evaluate on a split that has them, or leave the class out of classes)"
        )
    connected = _connected_events(ground_truth)
    if connected:
        raise DataError(
            f"{_count_and_list(connected)} clip(s) have overlapping or touching ground-truth events of one "
            "class; expected disjoint events (load the TSV with on_overlap='merge')"
        )

    by_id = {audio_id(name): float(value) for name, value in durations.items()}
    no_duration = [clip for clip in scores if clip not in by_id]
    if no_duration:
        raise DataError(
            f"{_count_and_list(no_duration)} scored clip(s) have no duration; expected a duration for every "
            "scored clip (the durations TSV of the split, e.g. validation_durations.tsv)"
        )
    for clip, frame in scores.items():
        columns = list(frame.columns)
        if columns != ["onset", "offset", *classes]:
            raise DataError(
                f"scores of clip {clip!r} have columns {columns}; expected ['onset', 'offset', *{classes}] "
                "(build them with frame_scores_to_dataframe(classes=...))"
            )
        end = float(frame["offset"].iloc[-1])
        if end > by_id[clip] + _TIME_TOLERANCE_S:
            raise DataError(
                f"scores of clip {clip!r} reach {end:.3f} s but the clip lasts {by_id[clip]:.3f} s; expected "
                "no scores past the clip's end (pass duration_s to frame_scores_to_dataframe)"
            )
    return {clip: by_id[clip] for clip in scores}


def _connected_events(ground_truth: Mapping[str, Sequence[tuple[float, float, str]]]) -> list[str]:
    clips = []
    for clip, events in ground_truth.items():
        ends: dict[str, float] = {}
        for onset, offset, label in sorted(events):
            if label in ends and onset <= ends[label]:
                clips.append(clip)
                break
            ends[label] = max(offset, ends.get(label, -math.inf))
    return clips


def _count_and_list(items: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in items[:_MAX_LISTED])
    return f"{len(items)} ({shown}{', ...' if len(items) > _MAX_LISTED else ''})"


def weak_f1(
    clip_probs: np.ndarray | torch.Tensor,
    clip_targets: np.ndarray | torch.Tensor,
    threshold: float = 0.5,
) -> float:
    """Macro F1 of clip tags: per class F1 = 2 TP / (2 TP + FP + FN) of (prob > threshold) against the targets,
    averaged over classes; a class with neither targets nor predictions scores 0 (sklearn's zero_division=0,
    torchmetrics' default).

    clip_probs: (N, C) clip probabilities; clip_targets: (N, C) of 0/1.
    """
    probs = _to_numpy(clip_probs)
    targets = _to_numpy(clip_targets)
    if probs.ndim != 2 or probs.shape != targets.shape:
        raise ValueError(
            f"clip_probs and clip_targets must both have shape (N, C), got {probs.shape} and {targets.shape}"
        )
    if not np.isin(targets, (0, 1)).all():
        raise ValueError("clip_targets must hold only 0 and 1 (multi-hot clip labels)")
    predicted = probs > threshold
    positive = targets.astype(bool)
    tp = np.sum(predicted & positive, axis=0)
    fp = np.sum(predicted & ~positive, axis=0)
    fn = np.sum(~predicted & positive, axis=0)
    denominator = 2 * tp + fp + fn
    per_class = np.divide(2 * tp, denominator, out=np.zeros(len(tp), dtype=np.float64), where=denominator > 0)
    return float(per_class.mean())


def _to_numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)
