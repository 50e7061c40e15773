"""Reading official checkpoints and loading them strictly: every key is used, or named as ignorable, or raises.

The reference code loads non-strictly with a printed warning and strips prefixes wherever they occur in a key
(flaw 5); here prefixes are stripped only at the start, and a mismatch names the keys and what would fit.
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Collection, Mapping
from pathlib import Path

import torch
from torch import nn

from sed_core.errors import CheckpointError
from sed_core.torch_files import load_tensors


def read_checkpoint(path: str | Path) -> Mapping:
    """The dict stored at ``path`` (tensors only; no code from the file is run)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; give the local path of the official weights")
    # official pre-training scripts store their argparse arguments beside the weights (AudioMAE, ASiT)
    checkpoint = load_tensors(path, "the official weights", safe_globals=[argparse.Namespace])
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    return checkpoint


def pick(checkpoint: Mapping, keys: Collection[str], *, path: str | Path) -> Mapping:
    """The first of ``keys`` that holds a dict of tensors (e.g. 'teacher', 'model', 'state_dict')."""
    for key in keys:
        value = checkpoint.get(key)
        if isinstance(value, Mapping):
            return value
    raise CheckpointError(f"{path}: expected the weights under one of {list(keys)}; found top-level keys "
                          f"{sorted(map(str, checkpoint))[:10]}")


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Collection[str]) -> dict[str, torch.Tensor]:
    """Remove the longest matching prefix at the start of each key (never elsewhere in the key)."""
    ordered = sorted(prefixes, key=len, reverse=True)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in ordered:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def matches_any(key: str, patterns: Collection[str]) -> bool:
    """``patterns`` are regular expressions matched against the whole key."""
    return any(re.fullmatch(p, key) for p in patterns)


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], *, source: str,
                ignorable: Collection[str] = (), hint: str = "") -> list[str]:
    """Load ``state`` into ``module`` so that every module key is filled and every other key is ``ignorable``.

    ``ignorable`` holds regular expressions for the checkpoint keys the fine-tuning model does not use
    (pre-training heads, decoders). Returns the ignored keys. Raises ``CheckpointError`` naming missing,
    unexpected and wrongly shaped keys.
    """
    own = module.state_dict()
    ignored = sorted(k for k in state if k not in own and matches_any(k, ignorable))
    unexpected = sorted(k for k in state if k not in own and k not in ignored)
    missing = sorted(k for k in own if k not in state)
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: the checkpoint does not match the model: missing {missing[:8]} ({len(missing)} in all), "
            f"unexpected {unexpected[:8]} ({len(unexpected)} in all){'; ' + hint if hint else ''}"
        )
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise CheckpointError(f"{source}: shapes differ (checkpoint vs model): {wrong[:6]} ({len(wrong)} in all)"
                              f"{'; ' + hint if hint else ''}")
    module.load_state_dict({k: state[k] for k in own}, strict=True)
    return ignored


def check_depth(state: Mapping[str, torch.Tensor], block_prefix: str, expected: int, *, path: str | Path,
                what: str = "transformer blocks") -> None:
    """Count the blocks ``<block_prefix><i>.`` in a checkpoint and refuse another depth, naming both."""
    pattern = re.compile(re.escape(block_prefix) + r"(\d+)\.")
    indices = [int(m.group(1)) for k in state if (m := pattern.match(k))]
    depth = 1 + max(indices, default=-1)
    if depth != expected:
        raise CheckpointError(f"{path}: the checkpoint has {depth} {what} but the model has {expected}; "
                              f"use the matching model.backbone.variant")
