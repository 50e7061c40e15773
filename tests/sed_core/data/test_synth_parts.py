"""Tests of the synthetic generator's parts: presets, seeding, timbres, distractors, domains."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from sed_core.data.synth import SAMPLE_RATE, SYNTH_PRESETS, SplitSizes, SynthPreset
from sed_core.data.synth.distractors import DISTRACTORS
from sed_core.data.synth.domain import domain_of
from sed_core.data.synth.seeding import clip_rng, stratified_flag
from sed_core.data.synth.timbres import TIMBRES
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError

TINY = SYNTH_PRESETS["tiny"]


def test_registered_sizes() -> None:
    assert SYNTH_PRESETS["tiny"].clip_seconds == 4.0
    assert all(12 <= n <= 20 for n in SYNTH_PRESETS["tiny"].split_sizes().values())
    demo = SYNTH_PRESETS["demo"]
    assert demo.clip_seconds == 5.0
    assert demo.split_sizes() == {"synthetic_train": 600, "strong_train": 200, "weak_train": 400,
                                  "unlabelled_train": 800, "synthetic_validation": 150, "validation": 200}
    full = SYNTH_PRESETS["full"]
    assert full.clip_seconds == 10.0
    assert list(full.split_sizes().values()) == [10000, 3470, 1578, 14412, 2500, 1168]


def test_parameters_are_json_and_complete() -> None:
    params = TINY.parameters()
    assert json.loads(json.dumps(params)) == params
    assert params["sample_rate"] == SAMPLE_RATE
    assert params["snr_db"] == list(TINY.snr_db)
    assert params["clips"]["validation"] == TINY.clips.validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"snr_db": (10.0, 0.0)}, r"snr_db: low <= high must hold, got \(low=10.0, high=0.0\)"),
        ({"soft_boundary_prob": 1.5}, r"soft_boundary_prob must be in \[0, 1\], got 1.5"),
        ({"clip_seconds": 4.0005}, "whole number of ms"),
        ({"real_class_weights": (1.0, 2.0)}, "needs 10 positive weights"),
        ({"clips": SplitSizes(12, 12, 12, 12, 12, 9)}, r"clips.validation must be an int >= 10 \(every class"),
        ({"max_polyphony": 0}, "max_polyphony must be >= 1"),
    ],
)
def test_invalid_presets_raise(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TINY.replace(**changes)


def test_replace_rejects_unknown_fields_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean 'snr_db'"):
        TINY.replace(snr_dB=(0.0, 1.0))
    assert TINY.replace(snr_db=(1.0, 2.0)).snr_db == (1.0, 2.0)
    assert isinstance(TINY.replace(), SynthPreset)


@pytest.mark.parametrize("fraction", [0.09, 0.25, 0.5])
@pytest.mark.parametrize("offset", [0.0, 0.37, 0.99])
def test_stratified_flags_spread_evenly(fraction: float, offset: float) -> None:
    flags = [stratified_flag(i, fraction, offset) for i in range(200)]
    for start in (0, 13, 100):
        for n in (12, 16, 50):
            count = sum(flags[start : start + n])
            assert int(n * fraction) <= count <= int(n * fraction) + 1
    assert not any(stratified_flag(i, 0.0, offset) for i in range(50))


def test_clip_generators_are_independent_streams() -> None:
    a = clip_rng(0, "validation", 3).random(4)
    assert np.array_equal(a, clip_rng(0, "validation", 3).random(4))
    for other in (clip_rng(1, "validation", 3), clip_rng(0, "validation", 4), clip_rng(0, "weak_train", 3)):
        assert not np.array_equal(a, other.random(4))


SOUNDS = [(name, t.synth) for name, t in TIMBRES.items()] + [
    (d.name, (lambda f: lambda rng, n, sr, fscale: f(rng, n, sr))(d.synth)) for d in DISTRACTORS
]


@pytest.mark.parametrize(("name", "synth"), SOUNDS, ids=[s[0] for s in SOUNDS])
@pytest.mark.parametrize("n", [1, 700, 24000])
def test_every_sound_gives_n_finite_samples_deterministically(name: str, synth, n: int) -> None:
    for fscale in (0.9, 1.25):
        x = synth(np.random.default_rng(1), n, SAMPLE_RATE, fscale)
        assert x.shape == (n,) and np.all(np.isfinite(x)), name
        assert np.array_equal(x, synth(np.random.default_rng(1), n, SAMPLE_RATE, fscale))
        if n >= 700:
            assert np.abs(x).max() > 0.0, name


def _band_share(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float(spec[(f >= lo) & (f <= hi)].sum() / spec.sum())


@pytest.mark.parametrize(
    ("label", "lo", "hi"),
    [("Alarm_bell_ringing", 1400, 4200), ("Dishes", 1900, 8000), ("Running_water", 700, 6500),
     ("Cat", 350, 5000), ("Electric_shaver_toothbrush", 60, 6500)],
)
def test_timbres_keep_their_energy_in_their_band(label: str, lo: float, hi: float) -> None:
    for seed in range(3):
        x = TIMBRES[label].synth(np.random.default_rng(seed), 2 * SAMPLE_RATE, SAMPLE_RATE, 1.0)
        assert _band_share(x, lo, hi) > 0.8, (label, seed)


def test_confusable_pairs_of_the_design_are_wired() -> None:
    assert tuple(TIMBRES) == DESED_CLASSES
    pairs = [("Blender", "Vacuum_cleaner"), ("Cat", "Speech"), ("Dishes", "Frying"),
             ("Electric_shaver_toothbrush", "Blender")]
    for a, b in pairs:
        assert b in TIMBRES[a].partners and a in TIMBRES[b].partners


def test_the_package_needs_only_numpy_scipy_and_soundfile() -> None:
    import sed_core.data.synth as synth

    allowed = {"__future__", "numpy", "scipy", "soundfile", "sed_core"}
    stdlib = {"collections", "concurrent", "dataclasses", "functools", "hashlib", "io", "json", "logging", "math",
              "multiprocessing", "os", "pathlib", "secrets", "shutil", "time", "typing", "zlib"}
    for path in Path(synth.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                assert name.split(".")[0] in allowed | stdlib, f"{path.name} imports {name}"


def test_domains() -> None:
    synthetic, real = domain_of("synthetic_train", TINY), domain_of("validation", TINY)
    assert domain_of("synthetic_validation", TINY).name == "synthetic"
    assert {domain_of(s, TINY).name for s in ("strong_train", "weak_train", "unlabelled_train")} == {"real"}
    assert np.allclose(synthetic.class_probs, 0.1)
    speech = DESED_CLASSES.index("Speech")
    assert 0.38 < real.class_probs[speech] < 0.44 and real.class_probs.argmax() == speech
    assert synthetic.reverb_prob == 0.0 < real.reverb_prob
    assert real.log_fscale != synthetic.log_fscale
    no_shift = domain_of("validation", TINY.replace(domain_shift=0.0))
    assert no_shift.reverb_prob == 0.0 and no_shift.eq_tilt_db_per_oct == 0.0
    assert no_shift.log_fscale == synthetic.log_fscale
