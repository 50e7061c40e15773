"""Scoring a model on an evaluation split: frame probabilities -> median filter -> sed_scores_eval metrics."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from sed_core.config.schema import EvaluationConfig
from sed_core.data.dataset import ClipDataset, collate
from sed_core.metrics.postprocess import median_filter
from sed_core.metrics.scores import events_to_ground_truth, frame_scores_to_dataframe
from sed_core.metrics.sed_metrics import (
    F1_SCORES,
    PUBLISHED_SUFFIX,
    PSDSScenario,
    SedMetrics,
    compute_sed_metrics,
    per_class_names,
)
from sed_core.training.device import metric_jobs
from sed_core.training.metric_names import METRIC_NAMES

ROLES = ("student", "teacher")


@dataclass
class SplitPredictions:
    """Median-filtered frame probabilities of each clip, trimmed to its duration: {audio_id: (T, C)}; with
    ``keep_raw``, the unfiltered ones too (what a post-processing stage starts from)."""

    frame_probs: dict[str, np.ndarray]
    clip_probs: dict[str, np.ndarray]
    durations: dict[str, float]
    raw_frame_probs: dict[str, np.ndarray] | None = None

    def raw(self) -> SplitPredictions:
        """The unfiltered predictions as a SplitPredictions of their own."""
        if self.raw_frame_probs is None:
            raise ValueError("these predictions kept no unfiltered frame probabilities; predict with keep_raw=True")
        return SplitPredictions(self.raw_frame_probs, self.clip_probs, self.durations)


@torch.no_grad()
def predict(model: nn.Module, dataset: ClipDataset, *, batch_size: int, median_window: int,
            median_mode: str = "reflect", keep_raw: bool = False) -> SplitPredictions:
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    frame_hop_s = model.frame_hop_s
    frame_probs: dict[str, np.ndarray] = {}
    clip_probs: dict[str, np.ndarray] = {}
    durations: dict[str, float] = {}
    raw: dict[str, np.ndarray] | None = {} if keep_raw else None
    known = dataset.split.durations or {}
    device = next(model.parameters()).device
    for batch in loader:
        out = model(model.inputs(batch.audio.to(device)))
        out = type(out)(out.strong.float().cpu(), out.weak.float().cpu())
        strong = median_filter(out.strong, median_window, mode=median_mode).numpy()
        for i, filename in enumerate(batch.filenames):
            audio_id = filename.removesuffix(".wav")
            duration = known.get(filename, float(batch.valid_samples[i]) / dataset.sample_rate)
            n_valid = max(1, min(strong.shape[1], int(np.ceil(duration / frame_hop_s))))
            frame_probs[audio_id] = strong[i, :n_valid]
            if raw is not None:
                raw[audio_id] = out.strong[i, :n_valid].numpy()
            clip_probs[audio_id] = out.weak[i].numpy()
            durations[audio_id] = duration
    return SplitPredictions(frame_probs, clip_probs, durations, raw)


def score_split(preds: SplitPredictions, dataset: ClipDataset, config: EvaluationConfig, frame_hop_s: float,
                metrics: tuple[str, ...] = METRIC_NAMES, *, num_jobs: int = 1) -> SedMetrics:
    """Every metric of the split's predictions, per class and with the PSD-ROC of each PSDS scenario computed."""
    classes = dataset.encoder.classes
    scores = {
        audio_id: frame_scores_to_dataframe(p, frame_hop_s=frame_hop_s, duration_s=preds.durations[audio_id],
                                            classes=classes)
        for audio_id, p in preds.frame_probs.items()
    }
    # only what is asked for: each scenario and each F1 costs seconds per 1,000 clips
    scenarios = {name: PSDSScenario(**getattr(config, name).model_dump()) for name in ("psds1", "psds2")
                 if name in metrics or f"{name}{PUBLISHED_SUFFIX}" in metrics}
    return compute_sed_metrics(
        scores, ground_truth_of(dataset), preds.durations, classes=classes, psds_scenarios=scenarios,
        collar_onset=config.collar_onset, collar_offset=config.collar_offset,
        collar_offset_rate=config.collar_offset_rate, threshold=config.threshold,
        f1_scores=[name for name in F1_SCORES if name in metrics],
        published=[name for name in scenarios if f"{name}{PUBLISHED_SUFFIX}" in metrics], num_jobs=num_jobs,
    )


def score_predictions(preds: SplitPredictions, dataset: ClipDataset, config: EvaluationConfig,
                      frame_hop_s: float, metrics: tuple[str, ...] = METRIC_NAMES, *,
                      num_jobs: int = 1) -> dict[str, float]:
    result = score_split(preds, dataset, config, frame_hop_s, metrics, num_jobs=num_jobs)
    return {name: float(getattr(result, name)) for name in metrics}


def ground_truth_of(dataset: ClipDataset) -> dict[str, list[tuple[float, float, str]]]:
    return events_to_ground_truth(events_of(dataset), dataset.split.filenames)


def events_of(dataset: ClipDataset) -> pd.DataFrame:
    if dataset.split.events is not None:
        return dataset.split.events
    return pd.DataFrame(columns=["filename", "onset", "offset", "event_label"])


def evaluate(model: nn.Module, dataset: ClipDataset, config: EvaluationConfig,
             metrics: tuple[str, ...] = METRIC_NAMES) -> tuple[dict[str, float], SplitPredictions]:
    preds = predict(model, dataset, batch_size=config.batch_size, median_window=config.median_window,
                    median_mode=config.median_mode)
    jobs = metric_jobs(config.num_jobs, next(model.parameters()).device)
    return score_predictions(preds, dataset, config, model.frame_hop_s, metrics, num_jobs=jobs), preds


def write_frame_scores(preds: SplitPredictions, classes: tuple[str, ...], frame_hop_s: float, out_dir: Path) -> Path:
    """The frame scores of every clip in sed_scores_eval's TSV format (onset, offset, classes), one file per clip,
    so any metric can be recomputed later without the model."""
    from sed_scores_eval.base_modules.io import write_sed_scores

    out_dir.mkdir(parents=True, exist_ok=True)
    for audio_id, probs in preds.frame_probs.items():
        frame = frame_scores_to_dataframe(probs, frame_hop_s=frame_hop_s, duration_s=preds.durations[audio_id],
                                          classes=classes)
        write_sed_scores(frame, out_dir / f"{audio_id}.tsv")
    return out_dir


def write_psd_roc(result: SedMetrics, out_dir: Path) -> Path:
    """`<scenario>.tsv` per PSDS scenario: the PSD-ROC as columns efpr (per hour) and tpr."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (efpr, tpr) in result.psd_roc.items():
        pd.DataFrame({"efpr": efpr, "tpr": tpr}).to_csv(out_dir / f"{name}.tsv", sep="\t", index=False,
                                                        float_format="%.9g")
    return out_dir


def write_reference(dataset: ClipDataset, preds: SplitPredictions, out_dir: Path) -> Path:
    """The split's strong labels and the scored clips' durations (DESED's TSV layouts), so a metric can be
    recomputed from the stored frame scores alone: ground_truth.tsv and durations.tsv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    events = events_of(dataset)[["filename", "onset", "offset", "event_label"]]
    events.to_csv(out_dir / "ground_truth.tsv", sep="\t", index=False, float_format="%.6f")
    durations = pd.DataFrame({"filename": [f"{clip}.wav" for clip in preds.durations],
                              "duration": list(preds.durations.values())})
    durations.to_csv(out_dir / "durations.tsv", sep="\t", index=False, float_format="%.6f")
    return out_dir


@dataclass(frozen=True)
class ArtifactDirs:
    """Where `score_roles` writes the reported model's files: frame scores (one TSV per clip), PSD-ROC curves
    (`<scenario>.tsv`) and the split's labels (`ground_truth.tsv`, `durations.tsv`)."""

    scores: Path
    psd_roc: Path
    reference: Path
    raw_scores: Path | None = None  # the unfiltered frame scores, for post-processing over stored scores


def score_roles(model: nn.Module, weights: Mapping[str, Mapping[str, torch.Tensor]], dataset: ClipDataset,
                config: EvaluationConfig, out: ArtifactDirs) -> dict[str, float]:
    """Score each role's weights (student, teacher) loaded in turn into ``model`` on ``dataset``.

    Returns `<role>/<metric>` for both roles and, for ``config.report_model``, the plain metric names and its
    per-class PSDS (`psds1/class/<label>`, `psds2/class/<label>`); the reported model's files go to ``out``.
    """
    values: dict[str, float] = {}
    for role in ROLES:
        model.load_state_dict(weights[role])
        preds = predict(model, dataset, batch_size=config.batch_size, median_window=config.median_window,
                        median_mode=config.median_mode, keep_raw=role == config.report_model)
        result = score_split(preds, dataset, config, model.frame_hop_s, METRIC_NAMES,
                             num_jobs=metric_jobs(config.num_jobs, next(model.parameters()).device))
        for k in METRIC_NAMES:
            values[f"{role}/{k}"] = float(getattr(result, k))
        if role == config.report_model:
            values |= {k: float(getattr(result, k)) for k in METRIC_NAMES}
            for name, per_class in result.per_class_psds.items():
                values |= per_class_names(name, per_class)
            write_frame_scores(preds, dataset.encoder.classes, model.frame_hop_s, out.scores)
            if out.raw_scores is not None:
                write_frame_scores(preds.raw(), dataset.encoder.classes, model.frame_hop_s, out.raw_scores)
            write_psd_roc(result, out.psd_roc)
            write_reference(dataset, preds, out.reference)
    return values
