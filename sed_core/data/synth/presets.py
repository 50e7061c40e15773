"""Named sizes and difficulty settings of the synthetic dataset (``tiny``, ``demo``, ``full``).

Every knob that shapes difficulty lives here, so difficulty is tuned by editing a preset (or ``replace``), never
the synthesis code. What each knob stresses: docs/SYNTH_DATA.md, "Difficulty knobs".
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sed_core.data.layout import SPLITS
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, close_match_hint

SAMPLE_RATE = 16_000
"""DESED's rate: every clip is 16 kHz mono."""

GUARANTEED_SPLITS: tuple[str, ...] = ("synthetic_train", "strong_train", "synthetic_validation", "validation")
"""Splits in which every class has at least one event (the first event of clips 0-9 cycles through them)."""

DESED_VALIDATION_EVENT_COUNTS: tuple[float, ...] = (420, 94, 341, 559, 570, 65, 94, 237, 1752, 92)
"""Events per class in DESED's validation.tsv (DESED_CLASSES order): Speech is 41 % of the events."""


@dataclass(frozen=True)
class SplitSizes:
    """Number of clips per split (field names are the split names of ``layout.SPLITS``)."""

    synthetic_train: int
    strong_train: int
    weak_train: int
    unlabelled_train: int
    synthetic_validation: int
    validation: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


assert set(SplitSizes.__dataclass_fields__) == set(SPLITS), "SplitSizes must have one field per split"


@dataclass(frozen=True)
class SynthPreset:
    """Size and difficulty of one synthetic dataset. Ranges are (low, high) and inclusive.

    Seconds are clip time; dB levels are relative to the clip's background unless named dBFS.
    """

    name: str
    clip_seconds: float
    clips: SplitSizes
    # foreground
    events_per_clip: tuple[int, int] = (1, 4)
    max_polyphony: int = 3  # most events sounding at once (extents incl. fades)
    snr_db: tuple[float, float] = (0.0, 30.0)  # event RMS over its labelled span vs background RMS
    attack_release_s: tuple[float, float] = (0.005, 0.2)
    soft_boundary_prob: float = 0.3  # chance an event gets a long fade in, out, or both
    soft_fade_s: tuple[float, float] = (0.3, 1.5)  # length of a long fade (linear in dB from -60 dB)
    label_threshold_db: float = -20.0  # labelled span: smoothed power within this of the event's full level
    same_class_gap_s: float = 0.1  # least gap between two events of one class in a clip
    short_event_prob: float = 0.02  # chance an event is made short (below 2-4 label frames)
    short_event_s: tuple[float, float] = (0.12, 0.3)
    confusable_strength: float = 0.25  # partner-timbre blend weight drawn from U(0, this)
    # background and distractors
    background_dbfs: tuple[float, float] = (-45.0, -30.0)
    hum_prob: float = 0.3
    distractor_rate: float = 1.0  # Poisson mean of unlabelled distractor events per clip
    distractor_snr_db: tuple[float, float] = (-5.0, 15.0)
    peak_dbfs: tuple[float, float] = (-20.0, -1.0)  # the clip's peak after mixing
    # real-like domain (strong_train, weak_train, unlabelled_train, validation)
    domain_shift: float = 1.0  # 0: only the background recipe and class balance differ; 1: full shift
    real_class_weights: tuple[float, ...] = DESED_VALIDATION_EVENT_COUNTS
    empty_clip_fraction: float = 0.015  # real-like clips without events (never weak_train or clips 0-9)
    short_clip_fraction: float = 0.09  # validation clips shorter than clip_seconds (DESED: 102 of 1168)
    short_clip_ratio: tuple[float, float] = (0.90, 0.95)  # their length over clip_seconds
    weak_label_noise: float = 0.0  # chance each tag of a weak_train clip is missing (one tag always kept)

    def __post_init__(self) -> None:
        _check(self)

    def split_sizes(self) -> dict[str, int]:
        return self.clips.as_dict()

    def parameters(self) -> dict[str, Any]:
        """Every field as JSON-ready values (tuples become lists), with the fixed sample rate."""
        params = dataclasses.asdict(self)
        params["sample_rate"] = SAMPLE_RATE
        return _jsonable(params)

    def replace(self, **changes: Any) -> SynthPreset:
        """A copy with some fields changed; an unknown field raises ConfigError with the close match."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                raise ConfigError(f"SynthPreset: unknown field {key!r}{close_match_hint(key, names)}")
        return dataclasses.replace(self, **changes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _check(p: SynthPreset) -> None:
    where = f"SynthPreset {p.name!r}"

    def fail(msg: str) -> None:
        raise ConfigError(f"{where}: {msg}")

    def check_range(name: str, lo_bound: float | None = None, hi_bound: float | None = None) -> None:
        value = getattr(p, name)
        if len(value) != 2:
            fail(f"{name} must be (low, high), got {value!r}")
        lo, hi = value
        if lo > hi:
            fail(f"{name}: low <= high must hold, got (low={lo}, high={hi})")
        if lo_bound is not None and lo < lo_bound:
            fail(f"{name}: low must be >= {lo_bound}, got {lo}")
        if hi_bound is not None and hi > hi_bound:
            fail(f"{name}: high must be <= {hi_bound}, got {hi}")

    def check_prob(name: str) -> None:
        value = getattr(p, name)
        if not 0.0 <= value <= 1.0:
            fail(f"{name} must be in [0, 1], got {value}")

    if not p.clip_seconds > 0 or abs(p.clip_seconds * 1000 - round(p.clip_seconds * 1000)) > 1e-9:
        fail(f"clip_seconds must be positive and a whole number of ms, got {p.clip_seconds}")
    if not isinstance(p.clips, SplitSizes):
        fail(f"clips must be a SplitSizes, got {type(p.clips).__name__}")
    for split, count in p.clips.as_dict().items():
        least = len(DESED_CLASSES) if split in GUARANTEED_SPLITS else 1
        if not isinstance(count, int) or count < least:
            fail(
                f"clips.{split} must be an int >= {least}"
                + (" (every class needs an event in this split)" if least > 1 else "")
                + f", got {count!r}"
            )
    check_range("events_per_clip", 1)
    if p.max_polyphony < 1:
        fail(f"max_polyphony must be >= 1, got {p.max_polyphony}")
    check_range("snr_db")
    check_range("attack_release_s", 0.001)
    check_range("soft_fade_s", 0.001)
    check_range("short_event_s", 0.02)
    check_range("background_dbfs", None, -6.0)
    check_range("distractor_snr_db")
    check_range("peak_dbfs", None, 0.0)
    check_range("short_clip_ratio", 0.1, 1.0)
    for name in ("soft_boundary_prob", "short_event_prob", "confusable_strength", "hum_prob", "domain_shift",
                 "empty_clip_fraction", "short_clip_fraction", "weak_label_noise"):
        check_prob(name)
    if not -60.0 < p.label_threshold_db < 0.0:
        fail(f"label_threshold_db must be in (-60, 0) dB, got {p.label_threshold_db}")
    if p.same_class_gap_s < 0.0:
        fail(f"same_class_gap_s must be >= 0, got {p.same_class_gap_s}")
    if p.distractor_rate < 0.0:
        fail(f"distractor_rate must be >= 0, got {p.distractor_rate}")
    if len(p.real_class_weights) != len(DESED_CLASSES) or min(p.real_class_weights) <= 0:
        fail(
            f"real_class_weights needs {len(DESED_CLASSES)} positive weights (DESED_CLASSES order), "
            f"got {p.real_class_weights!r}"
        )


SYNTH_PRESETS: dict[str, SynthPreset] = {
    p.name: p
    for p in (
        SynthPreset(
            name="tiny",
            clip_seconds=4.0,
            clips=SplitSizes(
                synthetic_train=16, strong_train=12, weak_train=12, unlabelled_train=12,
                synthetic_validation=12, validation=16,
            ),
        ),
        SynthPreset(
            name="demo",
            clip_seconds=5.0,
            clips=SplitSizes(
                synthetic_train=600, strong_train=200, weak_train=400, unlabelled_train=800,
                synthetic_validation=150, validation=200,
            ),
        ),
        SynthPreset(
            name="full",
            clip_seconds=10.0,
            clips=SplitSizes(
                synthetic_train=10000, strong_train=3470, weak_train=1578, unlabelled_train=14412,
                synthetic_validation=2500, validation=1168,
            ),
        ),
    )
}


def resolve_preset(preset: str | SynthPreset) -> SynthPreset:
    """The preset itself, or the registered preset of that name (ConfigError with the close match otherwise)."""
    if isinstance(preset, SynthPreset):
        return preset
    if preset not in SYNTH_PRESETS:
        raise ConfigError(
            f"unknown synthetic preset {preset!r}{close_match_hint(str(preset), SYNTH_PRESETS)}; "
            f"choose one of {', '.join(SYNTH_PRESETS)}"
        )
    return SYNTH_PRESETS[preset]
