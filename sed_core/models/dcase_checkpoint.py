"""Loading DESED_task (DCASE 2022 baseline) and ASiT-CRNN checkpoints into our CRNN, accounting for every key.

The official layout: a Lightning checkpoint whose ``state_dict`` holds ``sed_student.<key>`` and
``sed_teacher.<key>`` plus the front end's ``mel_spec.*`` buffers, and top-level ``sed_student`` /
``sed_teacher`` dicts without prefix (tests/data/backbone_layouts/dcase2022_crnn_baseline.json).
ASiT-CRNN's ``CRNN_asit`` (asit_crnn_crnn_asit.json) adds ``cat_tf`` (our ``fusion.proj``) and the ASiT wrapper
under ``asit.asit.v.`` (our ``backbone.``); its unused ``asit.asit.mlp_head`` is ignored.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from sed_core.errors import CheckpointError
from sed_core.torch_files import load_tensors

# official key prefix -> ours, for the keys whose place differs
PREFIX_RENAMES = {"dense_softmax.": "pooling.dense_softmax.", "cat_tf.": "fusion.proj.", "asit.asit.v.": "backbone."}
# official keys our model does not carry: the ASiT wrapper's classification head, never used by CRNN_asit
IGNORED_PREFIXES = ("asit.asit.mlp_head.",)
# our keys that the official checkpoint does not carry: the front end's constant buffers (rebuilt from config)
OURS_ONLY_PREFIXES = ("frontend.",)


def _rename(key: str, table: Mapping[str, str]) -> str:
    for old, new in table.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def official_to_ours(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {_rename(k, PREFIX_RENAMES): v for k, v in state.items() if not k.startswith(IGNORED_PREFIXES)}


def ours_to_official(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    back = {new: old for old, new in PREFIX_RENAMES.items()}
    return {_rename(k, back): v for k, v in state.items() if not k.startswith(OURS_ONLY_PREFIXES)}


def extract_crnn_state(checkpoint: Mapping, role: Literal["student", "teacher"]) -> dict[str, torch.Tensor]:
    """The plain CRNN state dict of ``role`` from either official wrapping."""
    name = f"sed_{role}"
    if isinstance(checkpoint.get(name), Mapping):
        return dict(checkpoint[name])
    lightning = checkpoint.get("state_dict")
    if isinstance(lightning, Mapping):
        prefix = f"{name}."
        state = {k[len(prefix):]: v for k, v in lightning.items() if k.startswith(prefix)}
        if state:
            return state
    raise CheckpointError(
        f"no {name} weights found: expected a top-level {name!r} dict or 'state_dict' keys starting with "
        f"'{name}.' (DESED_task's layout); found top-level keys {sorted(checkpoint)[:8]}"
    )


def load_dcase_crnn(model: nn.Module, path: str | Path, *, role: Literal["student", "teacher"] = "student") -> None:
    """Load a DESED_task CRNN checkpoint strictly: any missing or unexpected key raises, naming the keys."""
    path = Path(path)
    checkpoint = load_tensors(path, "a DESED_task CRNN checkpoint")
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    state = official_to_ours(extract_crnn_state(checkpoint, role))
    expected = {k for k in model.state_dict() if not k.startswith(OURS_ONLY_PREFIXES)}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointError(f"{path}: the checkpoint does not match the model: missing {missing[:10]} "
                              f"({len(missing)} in all), unexpected {unexpected[:10]} ({len(unexpected)} in all); "
                              f"is model.* the architecture of this checkpoint (model.backbone.name=none and "
                              f"model.cnn.activation=glu for the DCASE baseline; the paper defaults for ASiT-CRNN)?")
    own = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if v.shape != own[k].shape]
    if wrong:
        raise CheckpointError(f"{path}: shapes differ (checkpoint vs model): {wrong[:5]}")
    model.load_state_dict(state, strict=False)  # every model key is accounted for above; frontend is rebuilt
