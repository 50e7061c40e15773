"""PSDS as a clip-set statistic for the bootstrap over clips, from stored frame scores and reference labels.

Each clip's sed_scores_eval deltas (how its true/false positives and cross triggers change with the threshold)
are computed once per system; a resample sums the drawn clips' deltas (`psds(deltas=...)`, the same route as
sed_scores_eval's own bootstrapped PSDS), so a resample costs an accumulation, not a re-detection.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sed_scores_eval import intersection_based
from sed_scores_eval.intersection_based.psds import multi_class_psd_roc_from_single_class_psd_rocs, psds_from_psd_roc

from reports.fetch.reference import Event, Reference
from reports.fetch.score_tables import CLIP_COLUMN
from sed_core.metrics.sed_metrics import PSDSScenario

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PsdsStatistic:
    """PSDS of one scenario over a resampled set of clips (a `bootstrap.PreparedStatistic`).

    The same computation as `sed_scores_eval.intersection_based.psds(deltas=...)` on the resampled clips, with
    two changes that leave the value unchanged and make a resample cost a few array operations: a clip drawn
    k times weighs its deltas, event counts and duration by k (instead of being repeated), and sorting the
    single-class ROC uses np.lexsort (sed_scores_eval sorts the same keys in Python).
    """

    reference: Reference
    scenario: PSDSScenario

    def prepare(self, table: pd.DataFrame, clips: list[str]) -> Callable[[np.ndarray], float]:
        missing = [clip for clip in clips if clip not in self.reference.durations]
        if missing:
            raise ValueError(f"{len(missing)} scored clip(s) are not in the reference labels (e.g. {missing[:3]}); "
                             "scores and reference must come from the same split")
        scores = {clip: frame.drop(columns=[CLIP_COLUMN]).reset_index(drop=True)
                  for clip, frame in table.groupby(CLIP_COLUMN, sort=True)}
        sc = self.scenario
        truth = {clip: list(self.reference.ground_truth[clip]) for clip in clips}
        deltas = intersection_based.intermediate_statistics_deltas(
            scores=scores, ground_truth=truth, dtc_threshold=sc.dtc_threshold, gtc_threshold=sc.gtc_threshold,
            cttc_threshold=sc.cttc_threshold)
        classes = list(deltas[clips[0]])
        return _WeightedPsds(sc, classes, [_ClassDeltas.of(deltas, clips, name) for name in classes],
                             *_per_clip_references(truth, clips, classes),
                             np.array([self.reference.durations[clip] for clip in clips]))


@dataclass(frozen=True)
class _ClassDeltas:
    """One class's change points of all clips: unique scores, each entry's slot, owning clip and deltas."""

    slot: np.ndarray  # (E,) index into the class's unique change-point scores
    n_unique: int
    owner: np.ndarray  # (E,) clip index of each entry
    keys: tuple[str, ...]  # "tps", "fps", "cts\\<other class>", ...
    values: np.ndarray  # (E, len(keys))

    @classmethod
    def of(cls, deltas: Mapping, clips: list[str], name: str) -> _ClassDeltas:
        keys = tuple(deltas[clips[0]][name][1])
        points = [deltas[clip][name][0] for clip in clips]
        unique, slot = np.unique(np.concatenate(points), return_inverse=True)
        owner = np.repeat(np.arange(len(clips)), [len(p) for p in points])
        values = np.stack([np.concatenate([deltas[clip][name][1][key] for clip in clips]) for key in keys], axis=1)
        return cls(slot.ravel(), len(unique), owner, keys, values.astype(np.float64))

    def statistics(self, weight: np.ndarray) -> dict[str, np.ndarray]:
        """Each statistic at each unique score (plus 0 above the highest), as sed_scores_eval accumulates them."""
        entry_weight = weight[self.owner]
        out = {}
        for j, key in enumerate(self.keys):
            summed = np.bincount(self.slot, weights=entry_weight * self.values[:, j], minlength=self.n_unique)
            out[key] = np.concatenate((np.cumsum(summed[::-1])[::-1], [0.0]))
        return out


def _per_clip_references(truth: Mapping[str, Sequence[Event]], clips: list[str], classes: list[str]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(clips, classes) arrays of reference event counts and total event durations."""
    index = {name: k for k, name in enumerate(classes)}
    counts = np.zeros((len(clips), len(classes)))
    durations = np.zeros((len(clips), len(classes)))
    for i, clip in enumerate(clips):
        for onset, offset, label in truth[clip]:
            counts[i, index[label]] += 1
            durations[i, index[label]] += offset - onset
    return counts, durations


@dataclass(frozen=True)
class _WeightedPsds:
    scenario: PSDSScenario
    classes: list[str]
    per_class: list[_ClassDeltas]
    ref_counts: np.ndarray
    ref_durations: np.ndarray
    clip_durations: np.ndarray

    def __call__(self, draw: np.ndarray) -> float:
        sc = self.scenario
        weight = np.bincount(draw, minlength=len(self.clip_durations)).astype(np.float64)
        total_s = float(weight @ self.clip_durations)
        n_ref = weight @ self.ref_counts
        t_ref = dict(zip(self.classes, weight @ self.ref_durations))
        rocs = {}
        for k, (name, deltas) in enumerate(zip(self.classes, self.per_class)):
            stats = deltas.statistics(weight)
            tpr = stats["tps"] / max(n_ref[k], 1)
            efpr = stats["fps"] / total_s
            if sc.alpha_ct != 0:
                ct_rates = [stats[key] / max(t_ref[key.split("\\", 1)[1]], 1e-12) for key in deltas.keys
                            if key.startswith("cts")]
                efpr = efpr + sc.alpha_ct * np.mean(ct_rates, axis=0)
            rocs[name] = _unique_cummax_sort(tpr, efpr * SECONDS_PER_HOUR, sc.max_efpr)
        tpr, efpr = multi_class_psd_roc_from_single_class_psd_rocs(rocs, alpha_st=sc.alpha_st, max_efpr=sc.max_efpr)
        return float(psds_from_psd_roc(tpr, efpr, sc.max_efpr))


def _unique_cummax_sort(tpr: np.ndarray, efpr: np.ndarray, max_efpr: float) -> tuple[np.ndarray, np.ndarray]:
    """sed_scores_eval's single-class ROC: sort by (efpr, tpr), keep the running maximum of tpr, one point per
    efpr (the highest tpr reached there), points up to max_efpr."""
    order = np.lexsort((tpr, efpr))
    tpr, efpr = tpr[order], efpr[order]
    running = np.maximum.accumulate(tpr)
    keep = np.concatenate(([0], np.arange(1, len(tpr))[running[1:] > running[:-1]]))
    tpr, efpr = tpr[keep], efpr[keep]
    efpr, last = np.unique(efpr[::-1], return_index=True)
    tpr = tpr[-1 - last]
    cutoff = int(np.searchsorted(efpr, max_efpr, side="right"))
    return tpr[:cutoff], efpr[:cutoff]
