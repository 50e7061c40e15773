"""A disk that fills up under the trainer: a clear error naming the path and the fix, no corrupted state (`last/`
keeps the previous complete checkpoint), and a resume once there is room continues bit-identically.

The full disk is a file-size limit (RLIMIT_FSIZE) set in a child process after its first checkpoint: Python
ignores SIGXFSZ, so an oversize write fails with OSError(EFBIG) as a full disk fails with ENOSPC."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.training.checkpoint import (
    STATE_FILE,
    CheckpointWriteError,
    load_training_state,
    save_file,
    save_training_state,
)
from sed_core.training.trainer import BEST_FILE, LAST_DIR, fit

TRAINING = {"epochs": 3, "steps_per_epoch": 3}

CHILD = """
import json, resource, sys
from sed_core.config import config_from_dict
from sed_core.errors import SedStudyError
from sed_core.training.trainer import fit

root, out = sys.argv[1], sys.argv[2]


class FillsTheDisk:  # the Reporter protocol: after the first checkpoint, no file may grow past 1 KiB
    def checkpoint(self, path):
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    def report(self, metrics, step):
        pass


config = config_from_dict({"preset": "tiny", "data": {"root": root}, "output_dir": out,
                           "training": json.loads(sys.argv[3])})
try:
    fit(config, FillsTheDisk())
except SedStudyError as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(3)
"""


def tiny_config(root: Path, out: Path):
    return config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
                             "training": TRAINING})


@pytest.mark.slow
def test_full_disk_keeps_the_last_checkpoint_and_a_resume_is_bit_identical(tiny_dataset: Path, tmp_path: Path):
    out = tmp_path / "run"
    root = Path(__file__).resolve().parents[3]
    child = subprocess.run([sys.executable, "-c", CHILD, str(tiny_dataset), str(out), json.dumps(TRAINING)],
                           capture_output=True, text=True, timeout=300, cwd=root,
                           env={**os.environ, "PYTHONPATH": str(root)})
    assert child.returncode == 3, child.stderr[-3000:]
    message = child.stderr.strip().splitlines()[-1]
    assert str(out) in message and "File too large" in message, message
    assert "free space on that disk" in message and "output_dir" in message, message

    state = load_training_state(out / LAST_DIR)  # the previous complete checkpoint, untouched
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert not list(out.rglob("*.tmp")), "a temporary file was left behind"
    torch.load(out / BEST_FILE, map_location="cpu", weights_only=True)  # still a whole file

    resumed = fit(tiny_config(tiny_dataset, out))  # room again: continues from epoch 1
    alone = fit(tiny_config(tiny_dataset, tmp_path / "alone"))
    assert resumed.history == alone.history and resumed.metrics == alone.metrics


def test_failed_write_keeps_the_previous_state(tmp_path: Path, monkeypatch):
    last = tmp_path / LAST_DIR
    save_training_state(last, {"epoch": 1})

    def full(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointWriteError, match="No space left on device") as caught:
        save_training_state(last, {"epoch": 2})
    assert str(last / STATE_FILE) in str(caught.value) and caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value, OSError)
    monkeypatch.undo()
    assert load_training_state(last) == {"epoch": 1}
    assert sorted(p.name for p in last.iterdir()) == [STATE_FILE]


def test_failed_first_write_leaves_no_empty_state_folder(tmp_path: Path, monkeypatch):
    def full(obj, handle, *args, **kwargs):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0") from OSError(errno.EFBIG, "too large")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointWriteError, match="free space"):
        save_training_state(tmp_path / LAST_DIR, {"epoch": 1})
    assert not (tmp_path / LAST_DIR).exists()  # a resume starts afresh rather than tripping over an empty last/
    with pytest.raises(CheckpointWriteError, match=BEST_FILE):
        save_file({"epoch": 1}, tmp_path / BEST_FILE, what="the best model")
    assert list(tmp_path.iterdir()) == []


def test_other_errors_are_not_disguised(tmp_path: Path, monkeypatch):
    def broken(obj, handle, *args, **kwargs):
        raise TypeError("cannot pickle 'generator' object")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(TypeError):
        save_file({"epoch": 1}, tmp_path / BEST_FILE)
    assert list(tmp_path.iterdir()) == []

