"""A trained model outside training: rebuild it from its config and checkpoint, rescore it on another split, and
detect events in new audio files. Plain PyTorch; `studies.reevaluate` records the results in MLflow.

The checkpoint is the trainer's `best_model.pt` ({"student": state_dict, "teacher": state_dict, "epoch": int}).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from torch import nn

from sed_core.config import ExperimentConfig, load_config
from sed_core.data.audio import check_finite
from sed_core.data.clip_ends import FeatureFrame
from sed_core.data.dataset import ClipDataset
from sed_core.data.labels import LabelEncoder
from sed_core.data.layout import SPLITS
from sed_core.data.splits import load_split
from sed_core.errors import CheckpointError, DataError, close_match_hint
from sed_core.metrics.postprocess import median_filter
from sed_core.metrics.scores import frame_scores_to_dataframe
from sed_core.models.build import build_model
from sed_core.torch_files import load_tensors
from sed_core.training.evaluate import ROLES, ArtifactDirs, SplitPredictions, score_roles, write_frame_scores
from sed_core.training.trainer import BEST_FILE

CONFIG_FILE = "config.json"  # a trial run's typed config (the MLflow artifact of the same name)
DETECTIONS_FILE = "detections.tsv"
SCORES_DIR = "scores"
PSD_ROC_DIR = "psd_roc"
REFERENCE_DIR = "reference"


@dataclass(frozen=True)
class Checkpoint:
    """The weights of both roles of a trainer checkpoint and the epoch they were selected at."""

    path: Path
    weights: dict[str, dict[str, torch.Tensor]]
    epoch: int


def strong_split_names() -> tuple[str, ...]:
    return tuple(name for name, layout in SPLITS.items() if layout.labels == "strong")


def check_eval_split(name: str) -> None:
    """A split can be scored only when it has strong labels (onsets and offsets)."""
    if name not in SPLITS:
        raise DataError(f"unknown split {name!r}{close_match_hint(name, SPLITS)}; splits with strong labels: "
                        f"{', '.join(strong_split_names())}")
    labels = SPLITS[name].labels
    if labels != "strong":
        kind = "weak (clip) labels only" if labels == "weak" else "no labels"
        raise DataError(f"split {name!r} has {kind}; scoring needs strong labels: choose one of "
                        f"{', '.join(strong_split_names())}")


def find_checkpoint(path: Path) -> Path:
    """``path`` itself, or the `best_model.pt` in the trial folder ``path``."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here; give a {BEST_FILE} written by the trainer or the trial "
                              f"folder that holds it")
    return path


def read_checkpoint(path: Path) -> Checkpoint:
    path = find_checkpoint(path)
    state = load_tensors(path, f"a trainer checkpoint ({BEST_FILE})")
    expected = {*ROLES, "epoch"}
    if not isinstance(state, dict) or not expected <= set(state):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: expected a trainer checkpoint with keys {sorted(expected)}, found {found}; "
                              f"give the {BEST_FILE} of a run (not last/state.pt)")
    return Checkpoint(path, {role: state[role] for role in ROLES}, int(state["epoch"]))


def find_config(checkpoint: Path, config: Path | None = None) -> ExperimentConfig:
    """``config`` (YAML or JSON), else a `config.json` beside the checkpoint or one folder up (the layout of a
    trial run's downloaded MLflow artifacts: `config.json` and `checkpoints/best_model.pt`)."""
    if config is not None:
        return load_config(config, recorded=True)
    checkpoint = find_checkpoint(checkpoint)
    candidates = [checkpoint.parent / CONFIG_FILE, checkpoint.parent.parent / CONFIG_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return load_config(candidate, recorded=True)
    raise CheckpointError(
        f"{checkpoint}: no {CONFIG_FILE} beside it or one folder up; pass --config with the experiment YAML or "
        f"JSON it was trained with (a trial's MLflow run stores it as the artifact {CONFIG_FILE}: "
        f"`mlflow artifacts download --run-id RUN_ID --artifact-path {CONFIG_FILE}`)")


def check_weights(model: nn.Module, checkpoint: Checkpoint) -> None:
    """Every role's state dict has exactly the model's keys and shapes; anything else raises, naming the keys."""
    expected = model.state_dict()
    for role in ROLES:
        state = checkpoint.weights[role]
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                  if k in state and tuple(state[k].shape) != tuple(v.shape)]
        if missing or unexpected or shapes:
            parts = [f"{label}: {_first(items)}" for label, items in
                     (("missing", missing), ("unexpected", unexpected), ("shape (checkpoint vs model)", shapes))
                     if items]
            raise CheckpointError(f"{checkpoint.path}: the {role} weights do not fit the model of the config "
                                  f"({'; '.join(parts)}); give the config the checkpoint was trained with")


def _first(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def load_model(config: ExperimentConfig, checkpoint: Checkpoint, role: str) -> nn.Module:
    """The model of ``config`` with ``role``'s weights, in eval mode."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    model = build_model(config)
    check_weights(model, checkpoint)
    model.load_state_dict(checkpoint.weights[role])
    return model.eval()


def open_eval_split(config: ExperimentConfig, split: str, data_root: Path | None = None) -> ClipDataset:
    """Split ``split`` of ``data_root`` (default: the config's `data.root`) as the trainer's datasets read it."""
    check_eval_split(split)
    dcfg = config.data
    root = Path(data_root) if data_root is not None else Path(dcfg.root)
    n_samples = clip_samples(config)
    model = build_model(config, device="meta")  # the frame grid only
    encoder = LabelEncoder(dcfg.classes, model.frame_hop_s, model.output_frames(n_samples))
    data = load_split(root, split, classes=dcfg.classes, check_audio=dcfg.check_audio_files,
                      frame=FeatureFrame.of(config))
    return ClipDataset(data, encoder, sample_rate=dcfg.sample_rate, n_samples=n_samples)


def clip_samples(config: ExperimentConfig) -> int:
    return int(round(config.data.clip_seconds * config.data.sample_rate))


@dataclass(frozen=True)
class Rescore:
    """A checkpoint rescored on a split: metrics named as the trainer's final metrics (`psds1`, `student/psds1`,
    `psds1/class/<label>`, ...), the folder of its files, and what was scored."""

    metrics: dict[str, float]
    out_dir: Path
    split: str
    n_clips: int
    checkpoint_epoch: int
    report_model: str


def rescore(config: ExperimentConfig, checkpoint: Checkpoint, dataset: ClipDataset, out_dir: Path) -> Rescore:
    """Score both roles of ``checkpoint`` on ``dataset`` with the config's evaluation settings, as the trainer's
    final metrics do. Writes the reported model's `scores/<split>/<audio_id>.tsv`, `psd_roc/<split>/<psds1|psds2>.tsv`
    and `reference/<split>/{ground_truth,durations}.tsv` below ``out_dir``."""
    model = build_model(config)
    check_weights(model, checkpoint)
    split = dataset.split.name
    out_dir = Path(out_dir)
    dirs = ArtifactDirs(scores=out_dir / SCORES_DIR / split, psd_roc=out_dir / PSD_ROC_DIR / split,
                        reference=out_dir / REFERENCE_DIR / split)
    metrics = score_roles(model, checkpoint.weights, dataset, config.evaluation, dirs)
    return Rescore(metrics, out_dir, split, len(dataset), checkpoint.epoch, config.evaluation.report_model)


@dataclass(frozen=True)
class AudioClip:
    """One input file as the model hears it: mono at the config's sample rate; ``notes`` say what was changed."""

    path: Path
    waveform: np.ndarray  # (S,) float32
    sample_rate: int
    notes: tuple[str, ...] = ()

    @property
    def audio_id(self) -> str:
        return self.path.stem

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / self.sample_rate


def read_audio(path: Path, sample_rate: int) -> AudioClip:
    """Read any file libsndfile decodes (WAV, FLAC, OGG, ...); downmix to mono (channel mean) and resample
    (`torchaudio.functional.resample`) to ``sample_rate`` when needed, noting each change."""
    import torchaudio.functional as audio_f

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (frames, channels)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(f"{path}: cannot decode the audio ({err}); is it a complete WAV/FLAC file?") from None
    if audio.shape[0] == 0:
        raise DataError(f"{path}: the file holds no samples")
    check_finite(path, audio, rate)
    notes = []
    mono = audio[:, 0]
    if audio.shape[1] > 1:
        mono = audio.mean(axis=1, dtype=np.float32)
        notes.append(f"downmixed {audio.shape[1]} channels to mono")
    if rate != sample_rate:
        mono = audio_f.resample(torch.from_numpy(np.ascontiguousarray(mono)), rate, sample_rate).numpy()
        notes.append(f"resampled {rate} Hz -> {sample_rate} Hz")
    if len(mono) == 0:
        raise DataError(f"{path}: too short to resample to {sample_rate} Hz ({audio.shape[0]} samples at {rate} Hz)")
    return AudioClip(path, np.ascontiguousarray(mono, dtype=np.float32), sample_rate, tuple(notes))


def window_starts(n_samples: int, *, clip_samples: int, frame_samples: int, window_frames: int) -> list[int]:
    """Start samples of the clip-length windows that score a recording of ``n_samples``.

    A recording no longer than a clip is one window (zero-padded, as training and evaluation read clips).
    A longer one is cut into windows that step by their frame span (``window_frames * frame_samples``), so the
    concatenated frames lie on one grid; the last window starts on that grid where its frames reach the end, and
    only its frames after the previous window's are kept. No audio is dropped.
    """
    if n_samples <= clip_samples:
        return [0]
    step = window_frames * frame_samples
    last = -(-(n_samples - step) // frame_samples) * frame_samples  # ceil, in whole frames
    return [*range(0, last, step), last]


@torch.no_grad()
def frame_probabilities(model: nn.Module, clip: AudioClip, *, clip_samples: int, batch_size: int,
                        median_window: int, median_mode: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Median-filtered frame probabilities (T, C) of the whole recording, its clip probabilities (C,) (the
    maximum over windows) and the number of windows scored."""
    model.eval()
    frame_samples = int(round(model.frame_hop_s * clip.sample_rate))
    window_frames = model.output_frames(clip_samples)
    starts = window_starts(len(clip.waveform), clip_samples=clip_samples, frame_samples=frame_samples,
                           window_frames=window_frames)
    windows = np.zeros((len(starts), clip_samples), dtype=np.float32)
    for i, start in enumerate(starts):
        piece = clip.waveform[start:start + clip_samples]
        windows[i, :len(piece)] = piece
    strong, weak = [], []
    for i in range(0, len(windows), batch_size):
        out = model(model.inputs(torch.from_numpy(windows[i:i + batch_size])))
        strong.append(out.strong)  # (B, T', C)
        weak.append(out.weak)  # (B, C)
    per_window = torch.cat(strong)[:, :window_frames]
    frames = [per_window[i] for i in range(len(starts) - 1)]
    first_new = len(frames) * window_frames - starts[-1] // frame_samples  # frames the last window repeats
    frames.append(per_window[-1, first_new:])
    probs = median_filter(torch.cat(frames), median_window, mode=median_mode).numpy()
    n_valid = max(1, min(len(probs), int(np.ceil(clip.duration_s / model.frame_hop_s))))  # as `predict`
    return probs[:n_valid], torch.cat(weak).amax(dim=0).numpy(), len(starts)


@dataclass
class Prediction:
    """What `predict_files` wrote: `detections.tsv` (DESED: filename, onset, offset, event_label) and
    `scores/<audio_id>.tsv` (sed_scores_eval format) per file, with a note per file on what was done to it."""

    out_dir: Path
    detections: pd.DataFrame
    threshold: float
    model: str
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def detections_path(self) -> Path:
        return self.out_dir / DETECTIONS_FILE

    @property
    def scores_dir(self) -> Path:
        return self.out_dir / SCORES_DIR


def predict_files(checkpoint: Path, audio: Sequence[Path], out_dir: Path, *, config: ExperimentConfig | None = None,
                  config_path: Path | None = None, threshold: float | None = None,
                  model: str | None = None) -> Prediction:
    """Detect events in each of ``audio`` with ``model`` (default: the config's `evaluation.report_model`).

    Frame probabilities are median-filtered with the config's window and thresholded at ``threshold`` (default:
    `evaluation.threshold`) with sed_scores_eval's `scores_to_event_list`. Recordings longer than
    `data.clip_seconds` are scored in clip-length windows (`window_starts`), shorter ones zero-padded; the scores
    always end at the recording's true duration.
    """
    from sed_scores_eval.base_modules.detection import scores_to_event_list

    if not audio:
        raise DataError("no audio files given; pass one or more WAV/FLAC paths")
    config = config if config is not None else find_config(checkpoint, config_path)
    ecfg = config.evaluation
    threshold = ecfg.threshold if threshold is None else float(threshold)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    role = model or ecfg.report_model
    net = load_model(config, read_checkpoint(checkpoint), role)
    paths = [Path(p) for p in audio]
    ids: dict[str, Path] = {}
    for path in paths:
        if path.stem in ids:
            raise DataError(f"{path} and {ids[path.stem]} share the audio id {path.stem!r}; their score files "
                            f"would collide: rename one or predict them in two calls")
        ids[path.stem] = path
    clips = [read_audio(path, config.data.sample_rate) for path in paths]  # every file is read before any scoring
    frame_samples = int(round(net.frame_hop_s * config.data.sample_rate))
    short = [clip for clip in clips if len(clip.waveform) < frame_samples]
    if short:
        raise DataError(f"{', '.join(str(clip.path) for clip in short[:5])}: shorter than one output frame of the "
                        f"model ({frame_samples} samples, {net.frame_hop_s * 1000:g} ms at {config.data.sample_rate} "
                        f"Hz): nothing to detect in; leave the file{'s' if len(short) > 1 else ''} out")
    n_clip = clip_samples(config)
    preds = SplitPredictions({}, {}, {})
    notes: dict[str, list[str]] = {}
    rows = []
    for clip in clips:
        probs, weak, n_windows = frame_probabilities(net, clip, clip_samples=n_clip, batch_size=ecfg.batch_size,
                                                     median_window=ecfg.median_window, median_mode=ecfg.median_mode)
        preds.frame_probs[clip.audio_id], preds.clip_probs[clip.audio_id] = probs, weak
        preds.durations[clip.audio_id] = clip.duration_s
        notes[clip.path.name] = [*clip.notes, _length_note(clip.duration_s, config.data.clip_seconds, n_windows)]
        frame = frame_scores_to_dataframe(probs, frame_hop_s=net.frame_hop_s, duration_s=clip.duration_s,
                                          classes=config.data.classes)
        for onset, offset, label in scores_to_event_list(frame, np.full(len(config.data.classes), threshold)):
            rows.append((clip.path.name, float(onset), float(offset), label))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_frame_scores(preds, config.data.classes, net.frame_hop_s, out_dir / SCORES_DIR)
    detections = pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])
    detections.to_csv(out_dir / DETECTIONS_FILE, sep="\t", index=False, float_format="%.6f")
    return Prediction(out_dir, detections, threshold, role, notes)


def _length_note(duration_s: float, clip_seconds: float, n_windows: int) -> str:
    if n_windows > 1:
        return f"{duration_s:.3f} s, longer than the {clip_seconds:g} s clips: scored in {n_windows} windows"
    if duration_s < clip_seconds:
        return (f"{duration_s:.3f} s, shorter than the {clip_seconds:g} s clips: zero-padded, scores end at "
                f"{duration_s:.3f} s")
    return f"{duration_s:.3f} s"
