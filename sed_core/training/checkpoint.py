"""Resumable training state and model files on disk, each written atomically (a temporary file, then a rename).

A write that fails (a full disk, a file-size limit, a quota) raises :class:`CheckpointWriteError` naming the path
and the fix, and leaves what was there before untouched: ``last/state.pt`` keeps the previous complete state.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from sed_core.errors import CheckpointError, SedStudyError
from sed_core.torch_files import load_tensors

STATE_FILE = "state.pt"
TMP_SUFFIX = ".tmp"


class CheckpointWriteError(SedStudyError, OSError):
    """A checkpoint or model file could not be written (no space left, file too large, quota, permissions)."""


def save_training_state(directory: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/state.pt`` (via ``state.pt.tmp`` and an atomic rename: never half-written;
    a failed write keeps the previous state)."""
    directory = Path(directory)
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointWriteError(err.errno, _write_failure(directory, "the training state", err)) from err
    try:
        save_file(state, directory / STATE_FILE, what="the training state")
    except CheckpointWriteError:
        if created and not (directory / STATE_FILE).exists():  # no empty last/ that a resume would trip over
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory


def save_file(obj: Any, path: Path, *, what: str = "the checkpoint") -> Path:
    """``torch.save(obj)`` to ``path`` atomically: written and synced to ``path.tmp``, then renamed over ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        with tmp.open("wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except Exception as err:  # torch wraps the OSError of a failed write in a RuntimeError
        tmp.unlink(missing_ok=True)
        cause = _os_error(err)
        if cause is None:
            raise
        raise CheckpointWriteError(cause.errno, _write_failure(path, what, cause)) from err
    return path


def has_training_state(directory: Path) -> bool:
    """Whether ``directory`` holds a complete training state: a process killed between creating ``last/`` and
    renaming its first ``state.pt`` into place leaves the folder (perhaps with ``state.pt.tmp``) and no state."""
    return (Path(directory) / STATE_FILE).is_file()


def load_training_state(directory: Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no training state here; expected a directory written by sedstudy train")
    return load_tensors(path, "a training state written by sedstudy train")


def _os_error(err: BaseException | None) -> OSError | None:
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _write_failure(path: Path, what: str, err: OSError) -> str:
    reason = os.strerror(err.errno) if err.errno else str(err)
    if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        fix = ("free space on that disk (or raise the quota / file-size limit), or set output_dir (sedstudy run: "
               "--workdir or --storage) to a disk with room")
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the folder writable, or set output_dir to a writable folder"
    else:
        fix = "check the disk, or set output_dir to another disk"
    return (f"{path}: cannot write {what} ({reason}); {fix}. The previous checkpoint there, if any, is kept: "
            f"run again to resume from it")
