"""Resumable training state on disk: one directory, written atomically."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from sed_core.errors import CheckpointError

STATE_FILE = "state.pt"


def save_training_state(directory: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/state.pt`` via a temporary directory and rename (never half-written)."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    torch.save(state, tmp / STATE_FILE)
    if directory.exists():
        old = directory.with_name(directory.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old)
    else:
        os.replace(tmp, directory)
    return directory


def load_training_state(directory: Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no training state here; expected a directory written by sedstudy train")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"{path}: cannot load training state ({type(err).__name__}: {err})") from None
