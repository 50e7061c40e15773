"""Convert model outputs and labels into sed_scores_eval's inputs.

sed_scores_eval (Ebbers et al., ICASSP 2022) takes, per audio id (the filename without ``.wav``), a score
DataFrame with columns ``onset, offset, <class>...`` (one row per frame) and a ground-truth list of
``(onset, offset, label)`` tuples.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sed_scores_eval.base_modules.scores import create_score_dataframe

from sed_core.errors import DataError

_TIME_TOLERANCE_S = 1e-6


def audio_id(filename: str) -> str:
    """The id sed_scores_eval uses for a clip: its filename without the ``.wav`` suffix."""
    return filename[: -len(".wav")] if filename.endswith(".wav") else filename


def frame_scores_to_dataframe(
    probs: np.ndarray | torch.Tensor,
    *,
    frame_hop_s: float,
    duration_s: float | None,
    classes: Sequence[str],
) -> pd.DataFrame:
    """One clip's frame probabilities as a sed_scores_eval score DataFrame.

    probs: (T, C) probabilities, C == len(classes). Frame i spans [i * hop, (i + 1) * hop).
    duration_s: the clip's true duration; frames that start at or after it are dropped and the last offset is
        clipped to it, so padding never scores. None keeps all T frames.
    Returns a DataFrame with columns onset, offset, *classes and one row per kept frame.
    """
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().to("cpu", torch.float64).numpy()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(
            f"probs must have shape (T, C={len(classes)}) for classes {list(classes)}, got {probs.shape}"
        )
    if not frame_hop_s > 0:
        raise ValueError(f"frame_hop_s must be > 0 seconds (e.g. 0.064), got {frame_hop_s}")
    n_frames = probs.shape[0]
    timestamps = np.arange(n_frames + 1) * frame_hop_s
    if duration_s is not None:
        if not duration_s > 0:
            raise ValueError(f"duration_s must be > 0 seconds or None, got {duration_s}")
        covered = n_frames * frame_hop_s
        if covered < duration_s - frame_hop_s - _TIME_TOLERANCE_S:
            raise ValueError(
                f"{n_frames} frames of {frame_hop_s} s cover {covered:.3f} s but the clip lasts {duration_s} s; "
                f"expected at least {int(np.ceil(duration_s / frame_hop_s - 1))} frames (score the whole clip, "
                "not a crop)"
            )
        n_keep = int(np.sum(timestamps[:-1] < duration_s - _TIME_TOLERANCE_S))
        probs = probs[:n_keep]
        timestamps = timestamps[: n_keep + 1].copy()
        timestamps[-1] = min(timestamps[-1], duration_s)
    if len(probs) == 0:
        raise ValueError("probs has no frames; expected T >= 1")
    return create_score_dataframe(probs, timestamps, list(classes))


def events_to_ground_truth(
    events: pd.DataFrame, filenames: Iterable[str]
) -> dict[str, list[tuple[float, float, str]]]:
    """Strong labels as sed_scores_eval ground truth: {audio_id: [(onset, offset, label), ...]}.

    events: columns filename, onset, offset, event_label (e.g. ``StrongLabels.events``).
    filenames: every clip of the split; clips without events get an empty list.
    """
    missing_columns = {"filename", "onset", "offset", "event_label"} - set(events.columns)
    if missing_columns:
        raise ValueError(
            f"events must have columns filename, onset, offset, event_label; missing {sorted(missing_columns)}"
        )
    ground_truth: dict[str, list[tuple[float, float, str]]] = {audio_id(f): [] for f in filenames}
    unknown: list[str] = []
    for filename, onset, offset, label in events[["filename", "onset", "offset", "event_label"]].itertuples(
        index=False
    ):
        clip = ground_truth.get(audio_id(filename))
        if clip is None:
            unknown.append(filename)
            continue
        clip.append((float(onset), float(offset), str(label)))
    if unknown:
        unique = list(dict.fromkeys(unknown))
        raise DataError(
            f"{len(unique)} clip(s) have events but are not in filenames: {', '.join(unique[:5])}"
            f"{', ...' if len(unique) > 5 else ''}; expected filenames to list every clip of the split "
            "(pass StrongLabels.filenames)"
        )
    return ground_truth
