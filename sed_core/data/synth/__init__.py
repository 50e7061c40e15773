"""A deterministic, DESED-shaped synthetic dataset (see docs/SYNTH_DATA.md): pure numpy/scipy, 16 kHz mono.

    from sed_core.data.synth import generate_dataset
    manifest = generate_dataset("demo", Path("data/synth_demo"), seed=0, workers=2)
"""
from __future__ import annotations

from sed_core.data.synth.generate import generate_dataset
from sed_core.data.synth.manifest import MANIFEST_NAME, read_manifest, verify_files
from sed_core.data.synth.presets import SAMPLE_RATE, SYNTH_PRESETS, SplitSizes, SynthPreset, resolve_preset
from sed_core.data.synth.scene import Clip, Event, render_clip
from sed_core.data.synth.seeding import GENERATOR_VERSION

__all__ = [
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "SAMPLE_RATE",
    "SYNTH_PRESETS",
    "Clip",
    "Event",
    "SplitSizes",
    "SynthPreset",
    "generate_dataset",
    "read_manifest",
    "render_clip",
    "resolve_preset",
    "verify_files",
]
