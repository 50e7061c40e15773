"""Named size presets: partial configs laid over the paper defaults. Sizes are presets, never edits of defaults."""
from __future__ import annotations

from typing import Any

NO_BACKBONE: dict[str, Any] = {"backbone": {"name": "none"}, "fusion": {"name": "cnn_only"}}
CRNN_BASELINE: dict[str, Any] = {"model": {**NO_BACKBONE, "cnn": {"activation": "glu"}}}

PRESETS: dict[str, dict[str, Any]] = {
    # The paper configuration: every default of the schema (ASiT-CRNN), for GPUs.
    "paper": {},
    # The DCASE 2022 Task 4 baseline CRNN at paper size: GLU, no SSL branch.
    "crnn_baseline": CRNN_BASELINE,
    # The CPU quickstart: 5 s clips of the `demo` synthetic set, 32 mel bands, a narrower CNN (no CNN dropout,
    # which costs a third of a CPU step) and GRU, small batches, 5 epochs (330 steps). About 0.3 s per step on
    # one core; at equal compute, batches of 21 learned faster than batches of 28 (PSDS1 0.25 vs 0.22).
    "quick": {
        "data": {
            "root": "data/synth/demo",
            "clip_seconds": 5.0,
            "batch": {"synthetic_train": 6, "strong_train": 3, "weak_train": 6, "unlabelled_train": 6},
        },
        "features": {"n_fft": 1024, "win_length": 1024, "n_mels": 32},
        "model": {
            "cnn": {
                "channels": [8, 16, 32, 64, 64],
                "pooling": [[2, 2], [2, 2], [1, 2], [1, 2], [1, 2]],
                "dropout": 0.0,
                "activation": "glu",
            },
            "rnn": {"hidden_size": 64},
            "dropout": 0.2,
            **NO_BACKBONE,
        },
        "training": {"epochs": 5, "rampup_epochs": 1, "num_threads": 1},
        "evaluation": {"batch_size": 32},
    },
    # Unit tests: 4 s clips of the `tiny` synthetic set, a CNN of width 8-16 and depth 3.
    "tiny": {
        "data": {
            "root": "data/synth/tiny",
            "clip_seconds": 4.0,
            "batch": {"synthetic_train": 2, "strong_train": 2, "weak_train": 2, "unlabelled_train": 2},
        },
        "features": {"n_fft": 512, "win_length": 512, "n_mels": 16},
        "model": {
            "cnn": {"channels": [8, 16, 16], "pooling": [[2, 4], [2, 2], [1, 2]], "dropout": 0.0,
                    "activation": "glu"},
            "rnn": {"hidden_size": 16, "num_layers": 1},
            "dropout": 0.0,
            **NO_BACKBONE,
        },
        "training": {"epochs": 2, "rampup_epochs": 1, "num_threads": 1},
        "evaluation": {"batch_size": 8},
    },
}
