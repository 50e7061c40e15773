"""Reading a tensor file (``torch.load``, tensors only: no code from the file runs) with one kind of error.

torch raises a dozen exception types for truncated, empty or foreign files (a bare EOFError for an empty one);
every reader in sed_core goes through :func:`load_tensors`, which turns them into a CheckpointError naming the
file, what it should hold and, for the usual causes, the fix.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sed_core.errors import CheckpointError


def load_tensors(path: str | Path, what: str, *, fix: str = "", safe_globals: Sequence[type] = ()) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``; CheckpointError for a missing, empty or
    unreadable file, naming `what` the file should hold and `fix` (a sentence) when given."""
    path = Path(path)
    tail = f"; {fix}" if fix else ""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; expected {what}{tail}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes: a write that was cut off, or a full disk); "
                              f"expected {what}{tail}")
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated files, foreign pickles and wrong formats raise many types
        raise CheckpointError(f"{path}: cannot read {what} ({type(err).__name__}: {err}){tail}") from None
